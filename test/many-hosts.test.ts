/**
 * SPEC 12 from the command line: a file of two hosts where one answers (the seed host: fake sysfs tree + libvirt's
 * test driver through real virsh) and one does not (ssh to a closed port). Every host is reported in every format,
 * the exit code is the worst host's; `--host` picks hosts and `-c` needs exactly one, before anything is observed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/model/plan.js';
import type { HostSnapshot } from '../src/model/snapshot.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';
import { createCountingShim, createVirshShim, findRealVirsh, type VirshShim } from './helpers/virsh-shim.js';

const virsh = findRealVirsh();
const testUri = `test://${path.resolve('examples/seed/libvirt-node.xml')}`;
/** Nothing listens on port 1: ssh fails at once with "Connection refused" (no prompt: virsh has no terminal). */
const DEAD_URI = 'qemu+ssh://nobody@127.0.0.1:1/system';

const TWO_HOSTS = `version: 1
hosts:
  hv1: { uri: "${testUri}" }
  hv2: { uri: "${DEAD_URI}" }
vms:
  rhel7.3:
    host: hv1
    devices: [{ address: "07:00.0" }]
    removeInterfaces: [{ type: bridge, source: br0 }]
  other: { host: hv2, devices: [{ address: "08:00.0" }] }
`;

describe.skipIf(!virsh)('many hosts', () => {
  let dir: string;
  let root: string;
  let file: string;
  let shim: VirshShim;
  const cli = (...args: string[]) => runCli([...args, '-f', file, '--root', root, '--virsh', shim.binary]);

  beforeAll(async () => {
    [dir, root, shim] = await Promise.all([mkdtemp(path.join(tmpdir(), 'passthru-hosts-')), seedHost().build(), createVirshShim(virsh!)]);
    file = path.join(dir, 'two.yaml');
    await writeFile(file, TWO_HOSTS);
  });
  afterAll(async () => Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root), shim.cleanup()]));

  describe('one host unreachable (defect 8: it hid every other host)', () => {
    it('plan shows the host that answered and the error of the one that did not; exit 1', async () => {
      const started = Date.now();
      const r = await cli('plan');
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('Host hv1 (test://');
      expect(r.stdout).toMatch(/1\. ~ 0000:07:00\.0 .*: igb → vfio-pci/);
      expect(r.stdout).toContain(`Host hv2 (${DEAD_URI})\nError: host hv2 could not be observed: cannot connect to ${DEAD_URI}:`);
      expect(r.stdout).toContain('Connection refused');
      expect(r.stdout).toContain('  fix: check the URI');
      expect(r.stdout).toContain('Not observed: 1 host(s) (hv2) could not be observed; their plan is unknown.');
      expect(r.stderr).toBe('');
    });

    it('plan --format json has every host, the unreachable one with its error and no actions', async () => {
      const r = await cli('plan', '--format', 'json');
      expect(r.code).toBe(1);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.applyable).toBe(false);
      expect(plan.hosts.map((h) => [h.name, h.actions.length, h.error === undefined])).toEqual([
        ['hv1', 3, true],
        ['hv2', 0, false],
      ]);
      expect(plan.hosts[1]).toMatchObject({ uri: DEAD_URI, fingerprint: null, actions: [], problems: [] });
      expect(plan.hosts[1]?.error?.message).toContain('Connection refused');
      expect(plan.hosts[1]?.error?.hint).toContain('check the URI');
      // Also said on stderr, for whoever reads the CI log rather than the JSON.
      expect(r.stderr).toContain('Error: host hv2 could not be observed');
    });

    it('check --format junit has one suite per host, the unreachable one with an <error>', async () => {
      const r = await cli('check', '--format', 'junit');
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('<testsuite name="passthru check hv1" tests="2" failures="2" errors="0" skipped="0">');
      expect(r.stdout).toContain('<testsuite name="passthru check hv2" tests="2" failures="0" errors="1" skipped="1">');
      expect(r.stdout).toMatch(/<testcase classname="passthru\.hv2" name="observe host">\n {6}<error type="host-not-observed" message="cannot connect to/);
      expect(r.stdout).toContain('<testcase classname="passthru.hv2" name="vm other">');
    });

    it('check (text) names every host in its verdict', async () => {
      const r = await cli('check');
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('passthru check: error: not observed (hv1: 3 change(s), hv2: not observed)');
    });

    it('observe writes the hosts that answered and names the others; exit 1', async () => {
      const out = path.join(dir, 'hv1.json');
      const r = await cli('observe', '-o', out);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Error: host hv2 could not be observed');
      expect((JSON.parse(await readFile(out, 'utf8')) as HostSnapshot).host).toBe('hv1');
    });

    it('--snapshot without one of the hosts: that host\'s error, the other planned', async () => {
      const out = path.join(dir, 'only-hv1.json');
      expect((await cli('observe', '--host', 'hv1', '-o', out)).code).toBe(0);
      const r = await cli('plan', '--snapshot', out, '--format', 'json');
      expect(r.code).toBe(1);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.hosts[0]?.actions).toHaveLength(3);
      expect(plan.hosts[1]?.error).toEqual({
        message: `${out} has no snapshot of host "hv2" (it has: hv1)`,
        hint: 'observe it with `passthru observe --host hv2 -o FILE`, or plan only the hosts of the snapshot with --host',
      });
      // A host picked by name is never planned from another host's snapshot.
      const picked = JSON.parse((await cli('plan', '--snapshot', out, '--host', 'hv2', '--format', 'json')).stdout) as Plan;
      expect(picked.hosts.map((h) => [h.name, h.error?.message])).toEqual([['hv2', `${out} has no snapshot of host "hv2" (it has: hv1)`]]);
    });

    it('import refuses to write a file without the unreachable host, naming it', async () => {
      const r = await cli('import');
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('Error: cannot import: 1 of 2 host(s) could not be observed\n  hv2: cannot connect to');
    });
  });

  // 62 hosts are observed through real virsh processes each: CPU-bound work that took 10-17 s with 3 busy loops and
  // passed vitest's 30 s default with 6 (all three cases timed out). These cases assert what is reported, not how
  // fast (the 64-host timing is the bench's): their limit only catches a hang.
  describe('64 hosts, one unreachable and one blocked (SPEC 12): the other 62 are planned and reported', { timeout: 180_000 }, () => {
    const names = Array.from({ length: 64 }, (_, i) => `hv${i + 1}`);
    /** hv63 is reached by ssh at a closed loopback port; hv64's VM is no domain of its host (unknown-vm). */
    const fleetFile = () => path.join(dir, 'fleet64.yaml');
    beforeAll(async () => {
      const seed = await readFile('examples/seed/libvirt-node.xml', 'utf8');
      await Promise.all(
        names.slice(0, 62).map((n) => writeFile(path.join(dir, `${n}.xml`), seed.replace('<name>rhel7.3</name>', `<name>vm-${n}</name>`))),
      );
      const uri = (n: string) => (n === 'hv63' ? DEAD_URI : `test://${dir}/${n === 'hv64' ? 'hv1' : n}.xml`);
      await writeFile(
        fleetFile(),
        [
          'version: 1',
          'hosts:',
          ...names.map((n) => `  ${n}: { uri: "${uri(n)}" }`),
          'vms:',
          ...names.map((n) => `  vm-${n}: { host: ${n}, devices: [{ address: "07:00.0" }], removeInterfaces: [{ type: bridge, source: br0 }] }`),
          '',
        ].join('\n'),
      );
    });
    let ssh: VirshShim;
    beforeAll(async () => {
      ssh = await createCountingShim('ssh', '/usr/bin/ssh');
    });
    afterAll(async () => ssh.cleanup());
    const fleet = (...args: string[]) =>
      runCli([...args, '-f', fleetFile(), '--root', root, '--virsh', shim.binary, '--parallelism', '10'], { env: { PASSTHRU_SSH: ssh.binary } });
    const planned = names.slice(0, 62);

    it('text: every host has its section; 62 planned, hv63 not observed, hv64 blocked; exit 1', async () => {
      const r = await fleet('plan');
      expect(r.code).toBe(1);
      for (const n of planned) expect(r.stdout).toMatch(new RegExp(`Host ${n} \\(test://[^)]*\\)\n\n  # host driver bindings\n    1\\. ~ 0000:07:00\\.0 `));
      const hv63 = r.stdout.slice(r.stdout.indexOf('Host hv63 ('), r.stdout.indexOf('Host hv64 ('));
      expect(hv63).toContain(`Host hv63 (${DEAD_URI})\nError: host hv63 could not be observed: cannot connect to ${DEAD_URI}:`);
      expect(r.stdout).toMatch(/Host hv64 \(test:[^)]*\)\n {2}No changes planned: blocked by the problems below\./);
      expect(r.stdout).toContain('Not observed: 1 host(s) (hv63) could not be observed; their plan is unknown.');
    });

    it('JSON: 64 entries in order, 62 with their 3 actions, hv63 with its error, hv64 with unknown-vm; one ssh for the one ssh host', async () => {
      await ssh.reset();
      const r = await fleet('plan', '--format', 'json');
      // passthru's own ssh (host use of hv63); virsh's ssh for qemu+ssh:// is found on PATH, not through PASSTHRU_SSH.
      expect(await ssh.count()).toBe(1);
      expect(r.code).toBe(1);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.hosts.map((h) => h.name)).toEqual(names);
      for (const h of plan.hosts.slice(0, 62)) expect([h.name, h.error, h.actions.map((a) => a.kind)]).toEqual([h.name, undefined, ['nodedev-detach', 'attach-hostdev', 'remove-interface']]);
      expect(plan.hosts[62]?.error?.message).toContain('Connection refused');
      expect(plan.hosts[63]?.problems.map((p) => p.code)).toContain('unknown-vm');
    });

    it('JUnit: one suite per host, 62 with their failures (drift), hv63 and hv64 each with an <error>', async () => {
      const r = await fleet('check', '--format', 'junit');
      expect(r.code).toBe(1);
      expect(r.stdout.match(/<testsuite name="passthru check /g)).toHaveLength(64);
      for (const n of planned) expect(r.stdout).toContain(`<testsuite name="passthru check ${n}" tests="2" failures="2" errors="0" skipped="0">`);
      expect(r.stdout).toContain('<testsuite name="passthru check hv63" tests="2" failures="0" errors="1" skipped="1">');
      expect(r.stdout).toContain('<testsuite name="passthru check hv64" tests="2" failures="0" errors="1" skipped="0">');
      expect(r.stdout).toMatch(/<testcase classname="passthru\.hv64" name="vm vm-hv64">\n {6}<error type="unknown-vm"/);
    });
  });

  describe('--host and -c (defect 7: -c merged every host onto one)', () => {
    it('-c on a file of two hosts is an error, before any virsh runs', async () => {
      await shim.reset();
      const r = await cli('plan', '-c', testUri);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Error: -c ${testUri} is for one host, and this run has 2 from ${file}: hv1, hv2`);
      expect(r.stderr).toContain(`fix: pick the one at that URI with --host NAME, e.g. -c ${testUri} --host hv1`);
      expect(await shim.count()).toBe(0);
    });

    it('--host picks the hosts; -c then moves the one picked, keeping its name and VMs only', async () => {
      const one = JSON.parse((await cli('plan', '--host', 'hv1', '--format', 'json')).stdout) as Plan;
      expect(one.hosts.map((h) => h.name)).toEqual(['hv1']);
      expect(one.applyable).toBe(true);
      const moved = await cli('plan', '--host', 'hv2', '-c', testUri, '--format', 'json');
      const plan = JSON.parse(moved.stdout) as Plan;
      expect(plan.hosts.map((h) => [h.name, h.uri])).toEqual([['hv2', testUri]]);
      // hv2's VM "other" is not a domain there and its device is absent: blocked; rhel7.3 (hv1's) is not touched.
      expect(plan.hosts[0]?.problems.map((p) => [p.code, p.vm])).toEqual([
        ['device-not-found', 'other'],
        ['unknown-vm', 'other'],
      ]);
      expect(plan.hosts[0]?.actions).toEqual([]);
    });

    it('doctor asks libvirt at every host of the file, or at -c alone without reading the file', async () => {
      const all = await cli('doctor', '--format', 'json');
      const libvirt = (JSON.parse(all.stdout) as { checks: { id: string; host?: string; status: string }[] }).checks.filter((c) => c.id === 'libvirt');
      expect(libvirt.map((c) => [c.host, c.status])).toEqual([
        ['hv1', 'pass'],
        ['hv2', 'fail'],
      ]);
      expect(all.code).toBe(1);
      // In a directory whose passthrough.yaml has both hosts, -c is not refused for naming one of two hosts.
      await writeFile(path.join(dir, 'passthrough.yaml'), TWO_HOSTS);
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const one = await runCli(['doctor', '--root', root, '-c', testUri], { env: { PASSTHRU_VIRSH: shim.binary } });
        expect(one.code).toBe(0);
        expect(one.stdout).toContain(`PASS  libvirt at ${testUri}`);
      } finally {
        process.chdir(cwd);
      }
      expect((await cli('doctor', '--host', 'hv1')).code).toBe(0);
    });

    it.each([['plan'], ['check'], ['observe'], ['import'], ['validate'], ['doctor'], ['apply']])(
      '%s --host NAME the file does not declare: exit 1, the declared hosts listed, nothing observed',
      async (command) => {
        await shim.reset();
        const r = await cli(command, '--host', 'hv3');
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`Error: --host "hv3": ${file} declares no such host (it declares: hv1, hv2)`);
        expect(r.stderr).toContain('fix: use one of: --host hv1, --host hv2');
        expect(await shim.count()).toBe(0);
      },
    );
  });
});
