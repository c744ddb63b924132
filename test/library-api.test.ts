/** SPEC 7: the package's main entry exposes the pure API integrators use, and it works from plain data. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

describe('library API', () => {
  it('parses a real domain XML and a real node device XML', async () => {
    const dom = api.parseDomainXml(await readFile('test/fixtures/virsh/domain-rhel7.3.inactive.xml', 'utf8'));
    expect(dom.name).toBe('rhel7.3');
    for (const h of dom.hostdevs) {
      expect(h.address).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      expect(['hostdev', 'interface']).toContain(h.source);
    }
    const node = api.parseNodeDeviceXml(await readFile('test/fixtures/virsh/nodedev-pci_0000_00_01_0.xml', 'utf8'));
    expect(node?.address).toBe('0000:00:01.0');
    expect(api.parseNodeDeviceXml(await readFile('test/fixtures/virsh/nodedev-computer.xml', 'utf8'))).toBeNull();
  });

  it('plans from a passthrough.yaml text and a snapshot JSON, without touching a host', async () => {
    const desired = api.loadDesiredState(await readFile('examples/seed/passthrough.yaml', 'utf8'), 'passthrough.yaml');
    const snapshot = JSON.parse(await readFile('examples/seed/snapshot.json', 'utf8')) as api.HostSnapshot;
    const plan = api.planAll(desired, new Map([['local', snapshot]]));
    expect(plan.hosts[0]!.actions.map((a) => a.kind)).toEqual(['nodedev-detach', 'attach-hostdev', 'remove-interface']);
    expect(api.renderPlanText(plan, new Map([['local', snapshot]]), api.plainStyle)).toContain('Plan: 1 to bind to vfio-pci');
    // A dry run: the plan carried out on a model of the host leaves nothing to do.
    const after = api.simulate(snapshot, plan.hosts[0]!.actions);
    expect(api.planAll(desired, new Map([['local', after]])).hosts[0]!.actions).toEqual([]);
  });

  it('parses addresses the way libvirt does', () => {
    expect(api.parseLibvirtInt('0x1f')).toBe(31);
    expect(api.parseLibvirtInt('010')).toBe(8);
    expect(api.parseLibvirtInt('10')).toBe(10);
    expect(api.canonicalAddress('pci_0000_07_00_0')).toBe('0000:07:00.0');
    expect(api.canonicalAddress('7:0.0')).toBe('0000:07:00.0');
  });
});
