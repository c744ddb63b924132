/**
 * SR-IOV through the real CLI, offline: `validate` refuses bad SR-IOV input with positioned errors (exit 1, no
 * virsh), and `plan --format json` of a VF count change on a fake tree lists set-numvfs first with from/to and
 * the VF interface of the attach. Fake trees only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeFakeHost, sriovHost } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function file(lines: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passthru-sriov-cli-'));
  dirs.push(dir);
  const f = path.join(dir, 'passthrough.yaml');
  await writeFile(f, `${lines.join('\n')}\n`);
  return f;
}

describe('passthru with SR-IOV entries', () => {
  it('validate refuses a VLAN out of range and a multicast MAC, positioned, exit 1, without virsh', async () => {
    const f = await file([
      'version: 1',
      'sriov: [{ pf: "3b:00.0", numVfs: 2 }]',
      'vms:',
      '  nfv1:',
      '    devices:',
      '      - vf: { pf: "3b:00.0", index: 0 }',
      '        interface: { vlan: 5000 }',
      '      - vf: { pf: "3b:00.0", index: 1 }',
      '        interface: { mac: "33:33:00:00:00:01" }',
    ]);
    const r = await runCli(['validate', '-f', f, '--virsh', '/nonexistent/virsh']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}:7:28: vms.nfv1.devices[0].interface.vlan must be at most 4095, not the number 5000`);
    expect(r.stderr).toContain('an 802.1Q VLAN ID is 0-4095');
  });

  it('plan --format json: set-numvfs first with from/to, then persist, then the VF with its interface', async () => {
    const root = await sriovHost().build();
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-sriov-cli-'));
    dirs.push(dir);
    try {
      const node = path.join(dir, 'node.xml');
      await writeFile(
        node,
        "<node><domain type='test'><name>nfv1</name><uuid>5e1f0a3c-2b4d-4e6f-8a9b-0c1d2e3f4a5b</uuid><memory>65536</memory><os><type>hvm</type></os><devices/></domain></node>\n",
      );
      const f = await file([
        'version: 1',
        'hosts: { lab: { uri: "test://' + node + '" } }',
        'sriov: [{ pf: "0000:01:00.0", numVfs: 2 }]',
        'vms:',
        '  nfv1:',
        '    devices:',
        '      - vf: { pf: "0000:01:00.0", index: 1 }',
        '        interface: { mac: "52:54:00:12:34:56", vlan: 100 }',
      ]);
      const r = await runCli(['plan', '-f', f, '--root', root, '--format', 'json']);
      const host = (JSON.parse(r.stdout) as { hosts: { actions: Record<string, unknown>[] }[] }).hosts[0];
      expect(host?.actions.map((a) => a.kind)).toEqual(['set-numvfs', 'persist-numvfs', 'nodedev-detach', 'attach-hostdev']);
      expect(host?.actions[0]).toMatchObject({ kind: 'set-numvfs', address: '0000:01:00.0', from: 0, to: 2 });
      expect(host?.actions[3]).toMatchObject({ address: '0000:01:10.2', interface: { mac: '52:54:00:12:34:56', vlan: 100, trust: false } });
    } finally {
      await removeFakeHost(root);
    }
  });
});
