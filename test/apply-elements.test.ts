/**
 * SPEC 13 "everything is kept": a device that apply removes and re-adds — a `managed` change, a rollback of a
 * prune — comes back with every child it had (`<rom>`, `<boot order>`, its guest `<address>`, `<vlan>`), and a
 * re-add that loses one is reported as NOT restored. The real CLI (in-process) against a private libvirtd for the
 * domain and a fake sysfs tree driven by the scripted virsh; what counts is `virsh dumpxml --inactive`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseDomainXml } from '../src/libvirt/domain-xml.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh } from './helpers/fake-virsh/index.js';
import type { Fault } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-elements: ${unavailable}`);

const DISK = "<disk type='file' device='disk'><source file='/nonexistent.img'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>";
const ROM_HOSTDEV =
  "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></source>" +
  "<rom bar='off' file='/x.rom'/><boot order='2'/><address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/></hostdev>";
const VF_MAC = '52:54:00:11:22:33';
const VLAN_NIC =
  `<interface type='hostdev' managed='yes'><mac address='${VF_MAC}'/>` +
  "<source><address type='pci' domain='0x0000' bus='0x08' slot='0x10' function='0x1'/></source><vlan><tag id='42'/></vlan>" +
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x0b' function='0x0'/></interface>";

describe.skipIf(unavailable !== null)('apply keeps every child of a device it re-adds (SPEC 13)', () => {
  let libvirtd: PrivateLibvirtd;

  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterAll(() => libvirtd?.stop());

  /** A domain with `devices`, a file claiming 07:00.0 for it (`managed` as given), and `faults` in the fake virsh. */
  async function applyTo(vm: string, devices: string, claim: string, faults: Fault[] = []) {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-elements-'));
    // A managed: false claim needs a persisted binding (SPEC 10): there already, so no driverctl runs.
    const root = await seedHost().driverctl({ '0000:07:00.0': 'vfio-pci' }).build();
    const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
    await defineDomain(libvirtd, { name: vm, rawDevices: devices });
    onTestFinished(async () => {
      await libvirtd.virsh(['undefine', '--domain', vm]).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    const yaml = path.join(dir, 'passthrough.yaml');
    await writeFile(yaml, `version: 1\nvms:\n  ${vm}:\n    devices:\n      - ${claim}\n`);
    const dumpxml = () => libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]);
    const before = await dumpxml();
    await fake.setFaults(faults);
    const env = { PASSTHRU_JOURNAL: path.join(dir, 'journal.jsonl'), PASSTHRU_STATE_DIR: path.join(dir, 'state') };
    const r = await runCli(['apply', '-f', yaml, '--yes', '-c', libvirtd.uri, '--root', root, '--virsh', fake.binary], { env });
    return { r, before, after: await dumpxml() };
  }

  /** The text of the (one) element of the domain for this source address, as libvirt prints it. */
  const elementOf = (xml: string, address: string) => parseDomainXml(xml).hostdevs.find((h) => h.address === address)?.xml;

  it('a managed change keeps <rom>, <boot order> and the guest <address>; only managed changes', async () => {
    const { r, before, after } = await applyTo('el-managed', DISK + ROM_HOSTDEV, '{ address: "07:00.0", managed: false }');
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    const was = elementOf(before, '0000:07:00.0');
    const now = elementOf(after, '0000:07:00.0');
    expect(was).toContain("<rom bar='off' file='/x.rom'/>");
    expect(now).toBe(was?.replace("managed='yes'", "managed='no'"));
  });

  it('a rollback re-adds a pruned <interface type=hostdev> with its <vlan>, and says restored', async () => {
    const { r, before, after } = await applyTo('el-vlan', VLAN_NIC, '{ address: "07:00.0" }', [{ command: 'nodedev-detach', mode: 'fail' }]);
    expect(r.stderr).toContain(`[1/3] detach-hostdev 0000:08:10.1 (el-vlan) ok`);
    expect(r.stderr).toContain('[2/3] nodedev-detach 0000:07:00.0 FAILED: injected fault at call 2');
    expect(r.stderr).toContain('Rolled back 2 step(s); the host was observed back in its state before the apply.');
    expect(r.code).toBe(1);
    expect(elementOf(after, '0000:08:10.1')).toContain("<tag id='42'/>");
    expect(after).toBe(before);
  });

  it('a rollback whose re-add loses the <vlan> reports the host NOT restored (exit 3), naming what is missing', async () => {
    const { r, after } = await applyTo('el-lost', VLAN_NIC, '{ address: "07:00.0" }', [
      { command: 'nodedev-detach', mode: 'fail' },
      { command: 'attach-device', mode: 'drop-element', element: 'vlan' },
    ]);
    expect(elementOf(after, '0000:08:10.1')).not.toContain('<vlan>');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('Rollback could NOT restore the host');
    expect(r.stderr).toContain(`VF interface ${VF_MAC} of 0000:08:10.1 in the persistent config of VM "el-lost" lacks <vlan><tag id='42'/></vlan>`);
  });
});
