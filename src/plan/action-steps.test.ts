import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../errors.js';
import type { Action } from '../model/plan.js';
import { ACTION_ORDER } from '../model/plan.js';
import { ACTION_STEPS, XML_FILE, forwardOp, undoOp } from './action-steps.js';

const UUID = '00000000-0000-4000-8000-000000000001';
const VF_NIC = `<interface type='hostdev' managed='yes'>
  <mac address='52:54:00:11:22:33'/>
  <source><address type='pci' domain='0x0000' bus='0x08' slot='0x10' function='0x1'/></source>
  <vlan><tag id='42'/></vlan>
</interface>`;
const dom = { vm: 'vm1', vmUuid: UUID, config: true, live: false, reason: 'r' };

describe('the action table', () => {
  it('has a forward step and an undo for every action kind', () => {
    expect(Object.keys(ACTION_STEPS).sort()).toEqual([...ACTION_ORDER].sort());
  });

  it('undoes a binding change back to exactly the driver the device had', () => {
    const detach: Action = { kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: 'r' };
    expect(forwardOp(detach)).toMatchObject({ args: ['nodedev-detach', 'pci_0000_07_00_0'], expect: { what: 'driver', is: 'vfio-pci' }, retries: 1 });
    expect(undoOp(detach)).toMatchObject({ label: 'nodedev-reattach 0000:07:00.0', expect: { what: 'driver', address: '0000:07:00.0', is: 'igb' } });
    const release: Action = { kind: 'nodedev-reattach', address: '0000:07:00.0', fromDriver: 'vfio-pci', reason: 'r' };
    expect(forwardOp(release).expect).toEqual({ what: 'released', address: '0000:07:00.0' });
    expect(undoOp(release)).toMatchObject({ args: ['nodedev-detach', 'pci_0000_07_00_0'], expect: { is: 'vfio-pci' } });
  });

  it('removes and re-adds a device as the element observed in the domain, and expects it back whole', () => {
    const prune: Action = { kind: 'detach-hostdev', ...dom, address: '0000:08:10.1', managed: true, source: 'interface', mac: '52:54:00:11:22:33', hostdevXml: VF_NIC };
    expect(forwardOp(prune)).toMatchObject({
      args: ['detach-device', '--domain', UUID, '--file', XML_FILE, '--config'],
      xml: VF_NIC,
      expect: { what: 'hostdev', address: '0000:08:10.1', scopes: ['persistent'], element: null },
    });
    expect(undoOp(prune)).toMatchObject({
      kind: 'attach-hostdev',
      label: 'attach-hostdev 0000:08:10.1 to "vm1"',
      args: ['attach-device', '--domain', UUID, '--file', XML_FILE, '--config'],
      xml: VF_NIC,
      expect: { what: 'hostdev', element: VF_NIC },
    });
    const nic: Action = { kind: 'remove-interface', ...dom, live: true, interfaceXml: '<interface type="bridge"/>', type: 'bridge', source: 'br0', mac: '52:54:00:aa:bb:01' };
    expect(undoOp(nic)).toMatchObject({ kind: 'restore-interface', args: expect.arrayContaining(['--config', '--live']), expect: { what: 'interface', scopes: ['persistent', 'live'], element: '<interface type="bridge"/>' } });
  });

  it('refuses a domain change with no scope, and a NIC without a MAC', () => {
    const attach: Action = { kind: 'attach-hostdev', ...dom, config: false, address: '0000:07:00.0', managed: true, hostdevXml: '<hostdev/>' };
    expect(() => forwardOp(attach)).toThrow(InternalError);
    const nic: Action = { kind: 'remove-interface', ...dom, interfaceXml: '<interface/>', type: 'bridge', source: null, mac: null };
    expect(() => undoOp(nic)).toThrow(InternalError);
  });
});

describe('layering', () => {
  const imports = (file: string) => [...readFileSync(new URL(`../${file}`, import.meta.url), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);

  it('keeps the table, its judges and the sh renderer pure: nothing from apply/, no fs, no child process', () => {
    for (const file of ['plan/action-steps.ts', 'plan/expectation.ts', 'libvirt/element-match.ts', 'render/plan-sh.ts']) {
      expect(imports(file).filter((i) => /\/apply\/|^node:(fs|child_process)/.test(i ?? ''))).toEqual([]);
    }
  });

  it('lets the rollback and the forward run share the step runner instead of importing each other', () => {
    expect(imports('apply/rollback.ts')).not.toContain('./execute.js');
    expect(imports('apply/step-runner.ts').filter((i) => i === './execute.js' || i === './rollback.js')).toEqual([]);
  });
});
