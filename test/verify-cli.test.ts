/**
 * `passthru verify` through the CLI: a fake host tree, libvirt's test driver for a running domain whose live XML
 * has the claimed NIC, and the scripted virsh answering the guest agent and QEMU's monitor from recordings (the
 * test driver has no guest). Asserts the verdicts, the exit codes and that QEMU is asked only with --qmp.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh, type FakeGuest, type FakeVirsh } from './helpers/fake-virsh/index.js';
import { runCli } from './helpers/run-cli.js';
import { findRealVirsh } from './helpers/virsh-shim.js';

const UUID = '6f1d2e3c-4b5a-4978-8a6b-5c4d3e2f1a0b';
const NODE_XML = `<node>
  <domain type="test">
    <name>web</name>
    <uuid>${UUID}</uuid>
    <memory>1048576</memory>
    <os><type arch="x86_64">hvm</type></os>
    <devices>
      <hostdev mode="subsystem" type="pci" managed="yes">
        <source><address domain="0x0000" bus="0x07" slot="0x00" function="0x0"/></source>
        <address type="pci" domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>
      </hostdev>
    </devices>
  </domain>
  <domain type="test">
    <name>idle</name>
    <memory>1048576</memory>
    <os><type arch="x86_64">hvm</type></os>
    <test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate>
  </domain>
</node>
`;

/** The guest's sysfs listing, as guest-exec-status returns it. */
const listing = (lines: string[]) => JSON.stringify({ return: { exited: true, exitcode: 0, 'out-data': Buffer.from(lines.map((l) => `${l}\n`).join('')).toString('base64') } });
const LINUX_AGENT = (lines: string[]): FakeGuest['agent'] => ({
  'guest-get-osinfo': JSON.stringify({ return: { id: 'debian', name: 'Debian GNU/Linux' } }),
  'guest-exec': JSON.stringify({ return: { pid: 812 } }),
  'guest-exec-status': listing(lines),
});
const queryPci = (devices: object[]) => JSON.stringify({ return: [{ bus: 0, devices }], id: 'libvirt-12' }, null, 2);
const igbAt = (bus: number) => ({ bus, slot: 0, function: 0, class_info: { class: 512, desc: 'Ethernet controller' }, id: { vendor: 0x8086, device: 0x1521 }, qdev_id: 'hostdev0', regions: [] });

const realVirsh = findRealVirsh();
describe.skipIf(!realVirsh)('passthru verify', () => {
  let dir: string;
  let root: string;
  let fake: FakeVirsh;
  let file: string;
  let uri: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-verify-'));
    root = await seedHost().build();
    fake = await createFakeVirsh(path.join(dir, 'virsh'), root, realVirsh ?? undefined);
    await writeFile(path.join(dir, 'node.xml'), NODE_XML);
    uri = `test://${path.join(dir, 'node.xml')}`;
    file = path.join(dir, 'passthrough.yaml');
    await writeFile(file, 'version: 1\nvms:\n  web:\n    devices:\n      - address: "07:00.0"\n  idle:\n    devices: []\n');
  });
  afterAll(async () => Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]));

  const verify = (...extra: string[]) => runCli(['verify', '-f', file, '-c', uri, '--root', root, '--virsh', fake.binary, ...extra]);
  const monitorCalls = async () => (await fake.calls()).filter((c) => c.sub === 'qemu-monitor-command').length;

  it('reports a device the guest agent lists as seen (exit 0), in text and JSON', async () => {
    await fake.setGuest({ agent: LINUX_AGENT(['0000:00:00.0 0x8086 0x29c0', '0000:01:00.0 0x8086 0x1521']) });
    const text = await verify();
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('VM "web" (through the guest agent):');
    expect(text.stdout).toMatch(/0000:07:00\.0 \[8086:1521\] seen +8086:1521 listed by the guest \(agent\) at 0000:01:00\.0/);
    expect(text.stdout).toContain('VM "idle": not running, nothing to verify');
    const json = JSON.parse((await verify('--format', 'json')).stdout);
    expect(json).toMatchObject({ format_version: '1', ok: true, counts: { seen: 1, missing: 0, unknown: 0 } });
    expect(json.hosts[0].vms[0]).toMatchObject({ vm: 'web', uuid: UUID, via: 'agent', devices: [{ address: '0000:07:00.0', status: 'seen', guestAddress: '0000:01:00.0' }] });
    expect(await monitorCalls()).toBe(0);
  });

  it('a device the guest does not list is missing (exit 2)', async () => {
    await fake.setGuest({ agent: LINUX_AGENT(['0000:00:00.0 0x8086 0x29c0']) });
    const r = await verify();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/0000:07:00\.0 \[8086:1521\] missing +the guest \(agent\) lists no 8086:1521 device/);
  });

  it('without a guest agent: unknown with the reason and exit 1, and QEMU is not asked without --qmp', async () => {
    await fake.setGuest({ monitor: { 'query-pci': queryPci([igbAt(1)]) } });
    const before = await monitorCalls();
    const r = await verify('--format', 'json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).hosts[0].vms[0].devices[0]).toMatchObject({ status: 'unknown', reason: expect.stringContaining('QEMU guest agent is not connected') });
    expect(await monitorCalls()).toBe(before);
  });

  it("with --qmp: QEMU's query-pci decides, with a warning that the domain is tainted", async () => {
    await fake.setGuest({ monitor: { 'query-pci': queryPci([igbAt(1)]) } });
    const seen = await verify('--qmp');
    expect(seen.code).toBe(0);
    expect(seen.stdout).toContain("VM \"web\" (through QEMU's query-pci):");
    expect(seen.stderr).toContain('libvirt marks the domain tainted');
    await fake.setGuest({ monitor: { 'query-pci': queryPci([]) } });
    const missing = await verify('--qmp');
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('QEMU (query-pci) lists no 8086:1521 device');
  });

  it("a claimed device that is not in the running domain's XML is missing, whatever the guest lists", async () => {
    const two = path.join(dir, 'two.yaml');
    await writeFile(two, 'version: 1\nvms:\n  web:\n    devices:\n      - address: "07:00.0"\n      - address: "07:00.1"\n');
    await fake.setGuest({ agent: LINUX_AGENT(['0000:01:00.0 0x8086 0x1521']) });
    const r = await runCli(['verify', '-f', two, '-c', uri, '--root', root, '--virsh', fake.binary]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/0000:07:00\.1 \[8086:1521\] missing +not in the running domain's XML/);
    expect(r.stdout).toMatch(/0000:07:00\.0 \[8086:1521\] seen/);
  });
});
