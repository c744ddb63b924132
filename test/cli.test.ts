/**
 * The CLI as a user meets it: the bundled example, every output format, exit codes, errors with positions, and
 * live observation of a fake sysfs tree plus libvirt's test driver through real virsh.
 */
import { mkdir, mkdtemp, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSnapshotFile } from '../src/observe/snapshot-file.js';
import { loadDesiredState } from '../src/desired/load.js';
import type { Plan } from '../src/model/plan.js';
import { iommuOffHost, removeFakeHost, seedHost } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';
import { findRealVirsh } from './helpers/virsh-shim.js';

const example = ['-f', 'examples/seed/passthrough.yaml', '--snapshot', 'examples/seed/snapshot.json'];
const testUri = `test://${path.resolve('examples/seed/libvirt-node.xml')}`;
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'passthru-cli-'));
});

describe('passthru plan on the bundled example', () => {
  it('shows the seed runbook as a plan (text)', async () => {
    const r = await runCli(['plan', ...example]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0000:07:00.0 Intel Corporation I350 Gigabit Network Connection [8086:1521]: igb → vfio-pci');
    expect(r.stdout).toMatch(/2\. \+ hostdev 0000:07:00\.0 managed=yes \(config\)/);
    expect(r.stdout).toMatch(/3\. - interface type=bridge source=br0/);
    expect(r.stdout).toContain('Plan: 1 to bind to vfio-pci, 0 to return to the host, 1 hostdev(s) to attach');
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('exits 2 with --detailed-exitcode when there are changes', async () => {
    expect((await runCli(['plan', ...example, '--detailed-exitcode'])).code).toBe(2);
  });

  it('honours the JSON contract (SPEC 4)', async () => {
    const r = await runCli(['plan', ...example, '--format', 'json']);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.format_version).toBe('1');
    expect(plan.applyable).toBe(true);
    expect(plan.hosts[0]!.actions.map((a) => [a.kind, 'address' in a ? a.address : null, 'vm' in a ? a.vm : null])).toEqual([
      ['nodedev-detach', '0000:07:00.0', null],
      ['attach-hostdev', '0000:07:00.0', 'rhel7.3'],
      ['remove-interface', null, 'rhel7.3'],
    ]);
    for (const a of plan.hosts[0]!.actions) {
      expect(typeof a.reason).toBe('string');
      if ('vm' in a) expect(typeof a.live).toBe('boolean');
    }
  });

  it('renders the persistent-XML diff and the equivalent virsh commands', async () => {
    const diff = await runCli(['plan', ...example, '--format', 'diff']);
    expect(diff.stdout).toContain('--- a/local/rhel7.3.xml');
    expect(diff.stdout).toMatch(/^- {4}<interface type='bridge'>$/m);
    expect(diff.stdout).toMatch(/^\+ {4}<hostdev mode="subsystem" type="pci" managed="yes">$/m);
    const sh = await runCli(['plan', ...example, '--format', 'sh']);
    expect(sh.stdout).toContain('virsh -c qemu:///system nodedev-detach pci_0000_07_00_0');
    expect(sh.stdout).toContain('attach-device --domain 7b4f6a2c-1d3e-4c5b-9a8f-0e1d2c3b4a57 --file "$xml" --config');
  });

  it('colours only on a terminal, and never with NO_COLOR', async () => {
    expect((await runCli(['plan', ...example], { tty: true })).stdout).toContain('\u001b[');
    expect((await runCli(['plan', ...example], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\u001b[');
    expect((await runCli(['plan', ...example, '--no-color'], { tty: true })).stdout).not.toContain('\u001b[');
  });
});

describe('passthru check', () => {
  it('exits 2 on drift, with a JUnit failure per drifted VM', async () => {
    const r = await runCli(['check', ...example, '--format', 'junit']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('<testcase classname="passthru.local" name="vm rhel7.3">');
    expect(r.stdout).toContain('<failure type="drift"');
  });

  it('exits 0 when the host matches', async () => {
    const snapshot = JSON.parse(await readFile('examples/seed/snapshot.json', 'utf8'));
    const empty = path.join(tmp, 'empty.yaml');
    await writeFile(empty, 'version: 1\n');
    await writeFile(path.join(tmp, 'snap.json'), JSON.stringify(snapshot));
    const r = await runCli(['check', '-f', empty, '--snapshot', path.join(tmp, 'snap.json')]);
    expect(r.stdout).toContain('in sync');
    expect(r.code).toBe(0);
  });
});

describe('bad input', () => {
  it('points at file:line:col, exits 1, and says what to do', async () => {
    const file = path.join(tmp, 'bad.yaml');
    await writeFile(file, 'version: 1\nvms:\n  rhel7.3:\n    devices:\n      - adress: "0000:07:00.0"\n');
    const r = await runCli(['validate', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:5:9: unknown key "adress"`);
    expect(r.stderr).toContain('"address"');
  });

  it('names a missing file with a hint', async () => {
    const r = await runCli(['plan', '-f', path.join(tmp, 'nope.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read the desired state: ENOENT/);
    expect(r.stderr).toContain('passthru import');
  });

  it('reports an -o FILE that cannot be written as a user error, not a bug', async () => {
    const r = await runCli(['plan', ...example, '-o', path.join(tmp, 'no-such-dir', 'plan.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot write the plan to');
    expect(r.stderr).toContain('ENOENT');
    expect(r.stderr).not.toContain('internal error');
  });

  it('rejects unknown flags and commands with a usage hint', async () => {
    const flag = await runCli(['plan', '--frmat', 'json']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('--frmat');
    const cmd = await runCli(['aply']);
    expect(cmd.code).toBe(1);
    expect(cmd.stderr).toContain('unknown command "aply"');
    expect((await runCli(['check', '--format', 'sh'])).stderr).toContain('use one of: text, json, junit');
  });

  it('refuses a snapshot from another format version', async () => {
    const file = path.join(tmp, 'old.json');
    await writeFile(file, JSON.stringify({ format_version: '0' }));
    const r = await runCli(['plan', ...example.slice(0, 2), '--snapshot', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unsupported snapshot format_version');
  });
});

describe('help', () => {
  it.each(['validate', 'doctor', 'observe', 'plan', 'apply', 'check', 'import'])('%s --help says what it changes and its exit codes', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: passthru ${cmd}`);
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stdout).toContain('Example');
    // Every command takes --host (SPEC 12) and its help shows it in use.
    expect(r.stdout).toMatch(/^Example: passthru .*--host /m);
  });

  it.each(['doctor', 'observe', 'plan', 'apply', 'check', 'import'])('%s --help shows --parallelism N and its default', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.stdout).toContain('[--parallelism N]');
    expect(r.stdout).toMatch(/^ {2}--parallelism N {2}.* at most N hosts at once \(default 10\)/m);
  });

  it.each(['validate', 'doctor', 'observe', 'plan', 'check'])('%s prints machine output as --format json', async (cmd) => {
    expect((await runCli([cmd, '--help'])).stdout).toMatch(/--format [a-z|]*json/);
  });
});

const virsh = findRealVirsh();
describe.skipIf(!virsh)('live observation: fake sysfs tree + libvirt test driver through real virsh', () => {
  let seed: string;
  let off: string;
  beforeAll(async () => {
    [seed, off] = await Promise.all([seedHost().build(), iommuOffHost().build()]);
  });
  afterAll(async () => Promise.all([removeFakeHost(seed), removeFakeHost(off)]));

  it('plans against the observed host', async () => {
    const r = await runCli(['plan', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', seed, '--format', 'json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Plan).hosts[0]!.actions).toHaveLength(3);
  });

  it('blocks with the remedy when the IOMMU is off', async () => {
    const r = await runCli(['plan', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', off]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('the IOMMU is off');
    expect(r.stdout).toContain('intel_iommu=on');
    expect(r.stdout).toContain('Blocked: 1 problem(s)');
  });

  it('blocks the management NIC that carries the default route', async () => {
    const file = path.join(tmp, 'mgmt.yaml');
    await writeFile(file, 'version: 1\nvms:\n  rhel7.3:\n    devices:\n      - address: "00:1f.6"\n');
    const r = await runCli(['plan', '-f', file, '-c', testUri, '--root', seed, '--format', 'json']);
    expect(r.code).toBe(1);
    const problem = (JSON.parse(r.stdout) as Plan).hosts[0]!.problems[0]!;
    expect(problem).toMatchObject({ severity: 'block', code: 'host-critical', address: '0000:00:1f.6' });
    expect(problem.message).toContain('eth0 carries the default route');
  });

  it('blocks a detach while a host process holds the device open (device-busy), naming the PID', async () => {
    const busy = await seedHost().build();
    try {
      // What the lab does in L1: a process holding the NIC's resource0 open.
      const dev = await realpath(path.join(busy, 'sys/bus/pci/devices/0000:07:00.0'));
      await writeFile(path.join(dev, 'resource0'), '');
      await mkdir(path.join(busy, 'proc/4242/fd'), { recursive: true });
      await writeFile(path.join(busy, 'proc/4242/comm'), 'lab-holder\n');
      await symlink('/sys/bus/pci/devices/0000:07:00.0/resource0', path.join(busy, 'proc/4242/fd/3'));
      const r = await runCli(['plan', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', busy, '--format', 'json']);
      expect(r.code).toBe(1);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.applyable).toBe(false);
      expect(plan.hosts[0]!.problems).toContainEqual(expect.objectContaining({ severity: 'block', code: 'device-busy', address: '0000:07:00.0', hint: expect.stringMatching(/^stop PID 4242 \(lab-holder\)/) }));
    } finally {
      await removeFakeHost(busy);
    }
  });

  it('observe writes a snapshot that validates and plans offline to the same result', async () => {
    const out = path.join(tmp, 'observed.json');
    expect((await runCli(['observe', '-c', testUri, '--root', seed, '-o', out, '-f', path.join(tmp, 'none.yaml')])).stderr).toContain(
      'cannot read the desired state: ENOENT',
    );
    expect((await runCli(['observe', '-c', testUri, '--root', seed, '-o', out, '-f', 'examples/seed/passthrough.yaml'])).code).toBe(0);
    const [snap] = parseSnapshotFile(await readFile(out, 'utf8'), out);
    expect(snap!.devices.some((d) => d.address === '0000:07:00.0' && d.driver === 'igb' && d.iommuGroup === 17)).toBe(true);
    const offline = await runCli(['plan', '-f', 'examples/seed/passthrough.yaml', '--snapshot', out, '--format', 'json']);
    const live = await runCli(['plan', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', seed, '--format', 'json']);
    const hostOf = (text: string) => (JSON.parse(text) as Plan).hosts[0]!;
    // The same state observed: same fingerprint, same actions (only the URI differs: -c vs the file's default).
    expect({ ...hostOf(offline.stdout), uri: '' }).toEqual({ ...hostOf(live.stdout), uri: '' });
  });

  it('import writes a passthrough.yaml that protects what the host uses', async () => {
    const r = await runCli(['import', '-c', testUri, '--root', seed, '-f', 'examples/seed/passthrough.yaml']);
    expect(r.code).toBe(0);
    const state = loadDesiredState(r.stdout, 'imported.yaml');
    expect(state.protect.map((p) => p.address).sort()).toEqual(['0000:00:02.0', '0000:00:1f.6', '0000:01:00.0']);
    expect(state.vms).toEqual([]);
  });

  // issue 9, defect 14: import -o replaced an existing passthrough.yaml without asking.
  it('import -o refuses to replace an existing file unless --force, and quotes every address', async () => {
    const target = path.join(tmp, 'existing.yaml');
    await writeFile(target, 'version: 1 # the operator\'s file\n');
    const args = ['import', '-c', testUri, '--root', seed, '-f', 'examples/seed/passthrough.yaml', '-o', target];
    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Error: ${target} already exists: refusing to replace it with the desired state`);
    expect(refused.stderr).toContain('fix: pass --force to replace it, or -o another file');
    expect(await readFile(target, 'utf8')).toBe("version: 1 # the operator's file\n");
    const forced = await runCli([...args, '--force']);
    expect(forced.code).toBe(0);
    const written = await readFile(target, 'utf8');
    expect(written).toContain('  - address: "0000:00:02.0"');
    expect(written).not.toMatch(/address: [^"]/);
  });

  it('apply without --yes on a non-terminal refuses and changes nothing', async () => {
    const before = await readFile(path.join(seed, 'sys/bus/pci/devices/0000:07:00.0/driver_override'), 'utf8');
    const r = await runCli(['apply', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', seed]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to change the host without confirmation');
    expect(await readFile(path.join(seed, 'sys/bus/pci/devices/0000:07:00.0/driver_override'), 'utf8')).toBe(before);
  });
});

describe.skipIf(!virsh)('doctor', () => {
  it('passes on the seed host and fails with the remedy when the IOMMU is off', async () => {
    const [seed, off] = await Promise.all([seedHost().build(), iommuOffHost().build()]);
    try {
      // doctor also asks libvirt at the URI plan will use: here libvirt's test driver (no system libvirtd in CI).
      const ok = await runCli(['doctor', '--root', seed, '-c', testUri]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('Ready for PCI passthrough');
      expect(ok.stdout).toContain(`PASS  libvirt at ${testUri}: libvirt answers (hypervisor: TEST`);
      // Defect 16: "doctor, then plan" must not pass doctor and fail at plan because libvirt does not answer.
      const down = await runCli(['doctor', '--root', seed, '-c', 'qemu:///system?socket=/nonexistent/libvirt-sock']);
      expect(down.code).toBe(1);
      expect(down.stdout).toContain(
        "FAIL  libvirt at qemu:///system?socket=/nonexistent/libvirt-sock: libvirt does not answer: Failed to connect socket to '/nonexistent/libvirt-sock': No such file or directory",
      );
      expect(down.stdout).toContain('fix: libvirt is not running here: start libvirt: `systemctl enable --now libvirtd`');
      const bad = await runCli(['doctor', '--root', off, '-c', testUri, '--format', 'json']);
      expect(bad.code).toBe(1);
      const checks = JSON.parse(bad.stdout).checks as { id: string; status: string; remedy?: string }[];
      expect(checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(expect.arrayContaining(['iommu-groups']));
      expect(checks.find((c) => c.status === 'fail')?.remedy).toBeTruthy();
      expect(checks.filter((c) => c.id === 'libvirt')).toMatchObject([{ status: 'pass', host: 'local', title: `libvirt at ${testUri}` }]);
    } finally {
      await Promise.all([removeFakeHost(seed), removeFakeHost(off)]);
    }
  });
});
