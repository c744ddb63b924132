/**
 * SR-IOV VFs as guest NICs against a real (private) libvirtd: the `<interface type='hostdev'>` passthru builds is
 * accepted by `attach-device --config` and read back by `dumpxml --inactive` with its MAC, VLAN and trust; and the
 * whole path through the CLI — set-numvfs on a fake sysfs tree (a fake kernel creates the VFs), persist-numvfs,
 * the VF attached by PF + index with its MAC and VLAN, a second plan empty, a count change while the VF is
 * assigned blocked and nothing changed. The tree is a temp dir: this machine's /sys is never written.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseDomainXml } from '../src/libvirt/domain-xml.js';
import { elementDifferences } from '../src/libvirt/element-match.js';
import { vfInterfaceXml } from '../src/libvirt/hostdev-xml.js';
import { removeFakeHost, sriovHost } from './helpers/fake-host.js';
import { startFakeKernel } from './helpers/fake-kernel.js';
import { createFakeVirsh } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`sriov-libvirtd: ${unavailable}`);

const PF = '0000:01:00.0';
const MAC = '52:54:00:12:34:56';

describe.skipIf(unavailable !== null)('SR-IOV VF interfaces on a real libvirtd (SPEC 11)', () => {
  let libvirtd: PrivateLibvirtd;
  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterAll(() => libvirtd?.stop());

  it('attach-device --config of <interface type=hostdev> with MAC, VLAN and trust reads back whole', async () => {
    await defineDomain(libvirtd, { name: 'vf-direct', rawDevices: '' });
    onTestFinished(() => libvirtd.virsh(['undefine', '--domain', 'vf-direct']).then(() => undefined));
    const element = vfInterfaceXml('0000:01:10.2', true, { mac: MAC, vlan: 100, trust: true });
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-vf-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'vf.xml'), element);
    await libvirtd.virsh(['attach-device', '--domain', 'vf-direct', '--file', path.join(dir, 'vf.xml'), '--config']);
    const xml = await libvirtd.virsh(['dumpxml', '--inactive', '--domain', 'vf-direct']);
    const [vf] = parseDomainXml(xml).hostdevs;
    expect(vf).toMatchObject({ address: '0000:01:10.2', source: 'interface', managed: true, mac: MAC, vlan: [100], trust: true });
    expect(elementDifferences(element, vf?.xml ?? '')).toEqual([]);
  });

  it('plans and applies numVfs and a VF by PF + index with MAC and VLAN, then is in sync; a count change is then blocked', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-sriov-'));
    const root = await sriovHost().build();
    const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
    const kernel = startFakeKernel(root, [PF]);
    await defineDomain(libvirtd, { name: 'nfv1', rawDevices: '' });
    onTestFinished(async () => {
      kernel.stop();
      await libvirtd.virsh(['undefine', '--domain', 'nfv1']).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    const yaml = path.join(dir, 'passthrough.yaml');
    const file = (numVfs: number) =>
      writeFile(
        yaml,
        ['version: 1', 'sriov:', `  - { pf: "${PF}", numVfs: ${numVfs} }`, 'vms:', '  nfv1:', '    devices:', `      - vf: { pf: "${PF}", index: 1 }`, `        interface: { mac: "${MAC}", vlan: 100 }`, ''].join('\n'),
      );
    await file(2);
    const env = { PASSTHRU_JOURNAL: path.join(dir, 'journal.jsonl'), PASSTHRU_STATE_DIR: path.join(dir, 'state') };
    const cli = (...args: string[]) => runCli([...args, '-f', yaml, '-c', libvirtd.uri, '--root', root, '--virsh', fake.binary], { env });

    const planned = await cli('plan');
    expect(planned.stdout).toContain(`1. ~ ${PF}`);
    expect(planned.stdout).toContain('0 → 2 VFs');
    expect(planned.stdout).toContain(`+ interface hostdev 0000:01:10.2 (VF 1 of ${PF}) mac=${MAC} vlan=100 managed=yes (config)`);

    const applied = await cli('apply', '--yes');
    expect(applied.stderr).not.toContain('FAILED');
    expect(applied.code).toBe(0);
    expect(kernel.writes.get(PF)).toEqual([2]);
    expect(await readFile(path.join(root, 'etc/udev/rules.d/70-passthru-sriov.rules'), 'utf8')).toContain(`KERNEL=="${PF}", ATTR{sriov_numvfs}="2"`);
    const [vf] = parseDomainXml(await libvirtd.virsh(['dumpxml', '--inactive', '--domain', 'nfv1'])).hostdevs;
    expect(vf).toMatchObject({ address: '0000:01:10.2', source: 'interface', mac: MAC, vlan: [100] });

    const again = await cli('plan', '--detailed-exitcode');
    expect(again.code).toBe(0);

    await file(3);
    const blocked = await cli('apply', '--yes');
    expect(blocked.code).toBe(1);
    expect(blocked.stdout + blocked.stderr).toContain('vfs-in-use');
    expect(kernel.writes.get(PF)).toEqual([2]);
    expect(existsSync(path.join(root, 'sys/bus/pci/devices/0000:01:10.2'))).toBe(true);
  });
});
