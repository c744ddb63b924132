/**
 * `passthru apply` as an operator runs it, end to end: the real CLI (in-process, `runCli`) against a private
 * libvirtd for the domain and a fake sysfs tree driven by the scripted virsh for the node devices. Every
 * assertion about the outcome is made on the WORLD — the driver link in the fake sysfs, `virsh dumpxml --inactive`
 * from the real virsh, the journal file, the fake virsh's call log — never on what passthru says it did.
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readJournal } from '../src/apply/journal.js';
import type { JournalEntry } from '../src/apply/journal.js';
import type { Plan } from '../src/model/plan.js';
import { bind, removeFakeHost, seedHost } from './helpers/fake-host.js';
import type { FakeHost } from './helpers/fake-host.js';
import { createFakeVirsh } from './helpers/fake-virsh/index.js';
import type { FakeVirsh } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';
import { seedYaml } from './helpers/seed-yaml.js';
import type { CliResult, RunCliOptions } from './helpers/run-cli.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-cli: ${unavailable}`);

const NIC = '0000:07:00.0';
const MAC = '52:54:00:cc:dd:01';

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'hostdev' || name === 'interface' });

interface Attrs {
  [k: string]: string | Attrs | Attrs[] | undefined;
}

/** What the domain's persistent XML holds, read with the real virsh and parsed here (not by passthru). */
interface DomainState {
  hostdevs: { address: string; managed: string | undefined }[];
  interfaces: { type: string | undefined; source: string | undefined }[];
}

function domainState(text: string): DomainState {
  const devices = ((xml.parse(text) as { domain: { devices: Attrs } }).domain.devices ?? {}) as Attrs;
  const hostdevs = (devices.hostdev ?? []) as Attrs[];
  const interfaces = (devices.interface ?? []) as Attrs[];
  const hex = (s: unknown, w: number) => Number(s).toString(16).padStart(w, '0');
  return {
    hostdevs: hostdevs.map((h) => {
      const a = (h.source as Attrs).address as Attrs;
      return { address: `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`, managed: h.managed as string | undefined };
    }),
    interfaces: interfaces.map((i) => ({ type: i.type as string | undefined, source: (i.source as Attrs | undefined)?.bridge as string | undefined })),
  };
}

/** One case: its own fake host tree, fake virsh, domain, yaml, journal and lock directory. */
interface Case {
  vm: string;
  dir: string;
  root: string;
  fake: FakeVirsh;
  yaml: string;
  journal: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs `passthru ARGS -c URI --root ROOT --virsh FAKE` (no -c for `apply PLANFILE`) with the case's journal and lock directory. */
  cli(args: string[], o?: Omit<RunCliOptions, 'env'>): Promise<CliResult>;
  /** The driver 07:00.0 is bound to, read from the fake sysfs link; null when unbound. */
  driver(address?: string): Promise<string | null>;
  /** The domain's persistent XML, as the real virsh prints it. */
  dumpxml(): Promise<string>;
  /** The state-changing commands the fake virsh received so far. */
  mutations(): Promise<string[]>;
  journalEntries(): Promise<JournalEntry[]>;
}

describe.skipIf(unavailable !== null)('passthru apply (CLI, private libvirtd, fake sysfs)', () => {
  let libvirtd: PrivateLibvirtd;

  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterAll(() => libvirtd?.stop());

  /**
   * A fresh case, cleaned up when the test ends. The domain is undefined afterwards: its hostdevs would otherwise
   * count as "used by a VM the file does not list" in the next case, which shares the daemon.
   */
  async function newCase(vm: string, o: { host?: FakeHost; yaml?: string } = {}): Promise<Case> {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-apply-cli-'));
    const root = await (o.host ?? seedHost()).build();
    const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
    await defineDomain(libvirtd, { name: vm, bridges: [{ mac: MAC, source: 'br0' }] });
    onTestFinished(async () => {
      await libvirtd.virsh(['undefine', '--domain', vm]).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    const yaml = path.join(dir, 'passthrough.yaml');
    await writeFile(yaml, o.yaml ?? seedYaml(vm));
    const journal = path.join(dir, 'journal.jsonl');
    const stateDir = path.join(dir, 'state');
    const env = { PASSTHRU_JOURNAL: journal, PASSTHRU_STATE_DIR: stateDir };
    return {
      vm,
      dir,
      root,
      fake,
      yaml,
      journal,
      stateDir,
      env,
      cli: (args, opts = {}) => {
        // A saved plan carries its host's URI, and `apply PLANFILE` refuses -c.
        const savedPlan = args[0] === 'apply' && args[1] !== undefined && !args[1].startsWith('-');
        const connect = savedPlan ? [] : ['-c', libvirtd.uri];
        return runCli([...args, ...connect, '--root', root, '--virsh', fake.binary], { ...opts, env });
      },
      async driver(address = NIC) {
        const link = await readlink(path.join(root, 'sys/bus/pci/devices', address, 'driver')).catch(() => null);
        return link === null ? null : path.basename(link);
      },
      dumpxml: () => libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]),
      async mutations() {
        // argv is `-c URI SUBCOMMAND ...`: keep the subcommand on.
        return (await fake.calls()).filter((c) => c.call !== null).map((c) => c.argv.slice(2).join(' '));
      },
      async journalEntries() {
        const j = await readJournal(journal);
        expect(j.skipped).toEqual([]);
        return j.entries;
      },
    };
  }

  /** The world before: 07:00.0 on igb with no override, no hostdev, the bridge NIC present. */
  async function expectUntouched(c: Case, xmlBefore: string) {
    expect(await c.driver()).toBe('igb');
    expect(await readFile(path.join(c.root, 'sys/bus/pci/devices', NIC, 'driver_override'), 'utf8')).toBe('(null)\n');
    expect(await c.dumpxml()).toBe(xmlBefore);
    expect(domainState(xmlBefore)).toEqual({ hostdevs: [], interfaces: [{ type: 'bridge', source: 'br0' }] });
  }

  it('applies the seed runbook; then plan is empty and a second apply runs nothing', async () => {
    const c = await newCase('cli-seed');
    const r = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);

    // The world, not passthru's word.
    expect(await c.driver()).toBe('vfio-pci');
    expect(domainState(await c.dumpxml())).toEqual({ hostdevs: [{ address: NIC, managed: 'yes' }], interfaces: [] });
    expect(await c.mutations()).toEqual([
      'nodedev-detach pci_0000_07_00_0',
      expect.stringMatching(/^attach-device --domain [0-9a-f-]{36} --file \S+ --config$/),
      expect.stringMatching(/^detach-device --domain [0-9a-f-]{36} --file \S+ --config$/),
    ]);
    const entries = await c.journalEntries();
    const applied = entries.filter((e) => e.phase === 'apply');
    expect(applied.map((e) => `${e.step}/${e.of} ${e.kind} ${e.result}`)).toEqual([
      '1/3 nodedev-detach started',
      '1/3 nodedev-detach ok',
      '2/3 attach-hostdev started',
      '2/3 attach-hostdev ok',
      '3/3 remove-interface started',
      '3/3 remove-interface ok',
    ]);
    expect(applied.every((e) => e.host === 'local' && e.runId === entries[0]?.runId && e.error === null)).toBe(true);
    expect(applied.filter((e) => e.result === 'ok').map((e) => e.exitCode)).toEqual([0, 0, 0]);
    expect(applied[0]?.command).toEqual(['nodedev-detach', 'pci_0000_07_00_0']);
    expect(entries.filter((e) => e.phase !== 'apply').map((e) => `${e.kind} ${e.result}`)).toEqual(['final-check ok']);
    // The lock was taken where PASSTHRU_STATE_DIR (of the CLI's environment) says, and released.
    expect(await readdir(c.stateDir)).toEqual([]);

    const plan = await c.cli(['plan', '-f', c.yaml, '--detailed-exitcode']);
    expect(plan.stdout).toContain('No changes');
    expect(plan.code).toBe(0);

    const calls = (await c.fake.calls()).length;
    const again = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(again.code).toBe(0);
    expect(await c.mutations()).toHaveLength(3);
    expect((await c.fake.calls()).slice(calls).filter((x) => x.call !== null)).toEqual([]);
    expect(await c.journalEntries()).toHaveLength(entries.length);
  });

  it('prints progress per step on stderr and a machine-readable report with --json', async () => {
    const c = await newCase('cli-progress');
    const r = await c.cli(['apply', '-f', c.yaml, '--yes', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines).toContain('[1/3] nodedev-detach 0000:07:00.0 ...');
    expect(lines.some((l) => /^\[1\/3\] nodedev-detach 0000:07:00\.0 ok \(\d+\.\d\ds\)$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\[2\/3\] attach-hostdev 0000:07:00\.0 \(cli-progress\) ok /.test(l))).toBe(true);
    expect(lines.some((l) => /^\[3\/3\] remove-interface 52:54:00:cc:dd:01 \(cli-progress\) ok /.test(l))).toBe(true);

    const report = JSON.parse(r.stdout) as {
      format_version: string;
      ok: boolean;
      journal: string;
      hosts: { host: string; ok: boolean; restored: boolean; failure: unknown; steps: { step: number; kind: string; ok: boolean; attempts: number; command: string[] }[] }[];
    };
    expect(report).toMatchObject({ format_version: '1', ok: true, journal: c.journal });
    expect(report.hosts).toHaveLength(1);
    expect(report.hosts[0]).toMatchObject({ host: 'local', ok: true, restored: true, failure: null });
    expect(report.hosts[0]?.steps.map((s) => [s.step, s.kind, s.ok, s.attempts])).toEqual([
      [1, 'nodedev-detach', true, 1],
      [2, 'attach-hostdev', true, 1],
      [3, 'remove-interface', true, 1],
    ]);
    expect(report.hosts[0]?.steps[0]?.command).toEqual(['nodedev-detach', 'pci_0000_07_00_0']);
    // And the world agrees.
    expect(await c.driver()).toBe('vfio-pci');
    expect(domainState(await c.dumpxml()).hostdevs).toEqual([{ address: NIC, managed: 'yes' }]);

    // Nothing to do: still a JSON report, under either spelling (`--json` is the older one of `--format json`).
    for (const flag of [['--json'], ['--format', 'json']]) {
      const again = await c.cli(['apply', '-f', c.yaml, '--yes', ...flag]);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toEqual({ format_version: '1', ok: true, hosts: [] });
    }
  });

  it('says when a detach needed the seed\'s retry, and why the first attempt did not do', async () => {
    const c = await newCase('cli-retry');
    await c.fake.setFaults([{ call: 1, mode: 'leave-driver' }]);
    const r = await c.cli(['apply', '-f', c.yaml, '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /\[1\/3\] nodedev-detach 0000:07:00\.0 ok after a retry \(\d+\.\d\ds\) — attempt 1: virsh reported success but 0000:07:00\.0 is on igb \(expected vfio-pci\)\n/,
    );
    const report = JSON.parse(r.stdout) as { hosts: { steps: { attempts: number; earlierAttempts: string[] }[] }[] };
    expect(report.hosts[0]?.steps[0]).toMatchObject({ attempts: 2, earlierAttempts: ['virsh reported success but 0000:07:00.0 is on igb (expected vfio-pci)'] });
    expect(await c.driver()).toBe('vfio-pci');
    const text = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(text.stderr).toContain('No changes');
  });

  it('refuses a saved plan whose host changed since, naming the change; applies an unchanged one', async () => {
    const c = await newCase('cli-saved');
    const planFile = path.join(c.dir, 'plan.json');
    const p = await c.cli(['plan', '-f', c.yaml, '-o', planFile]);
    expect(p.code).toBe(0);
    const saved = JSON.parse(await readFile(planFile, 'utf8')) as { format_version: string; plan: Plan };
    expect(saved.format_version).toBe('1');
    expect(saved.plan.hosts[0]?.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(saved.plan.hosts[0]?.actions.map((a) => a.kind)).toEqual(['nodedev-detach', 'attach-hostdev', 'remove-interface']);
    const xmlBefore = await c.dumpxml();

    // Someone binds the device by hand.
    await bind(c.root, NIC, 'vfio-pci');
    const stale = await c.cli(['apply', planFile, '--yes']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('Saved plan is stale');
    expect(stale.stderr).toContain('0000:07:00.0: driver igb → vfio-pci');
    expect(await c.mutations()).toEqual([]);
    expect(await c.driver()).toBe('vfio-pci');
    expect(await c.dumpxml()).toBe(xmlBefore);

    // Someone adds a hostdev to the VM by hand.
    await bind(c.root, NIC, 'igb');
    const hostdev = path.join(c.dir, 'hostdev.xml');
    await writeFile(hostdev, "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='7' slot='0' function='1'/></source></hostdev>");
    await libvirtd.virsh(['attach-device', '--domain', c.vm, '--file', hostdev, '--config']);
    const stale2 = await c.cli(['apply', planFile, '--yes']);
    expect(stale2.code).toBe(1);
    expect(stale2.stderr).toContain('Saved plan is stale');
    expect(stale2.stderr).toContain('VM "cli-saved": hostdev 0000:07:00.1 (managed=yes) added to the persistent config');
    expect(stale2.stderr).not.toContain('0000:07:00.0: driver');
    expect(await c.mutations()).toEqual([]);

    // Back as it was, but the plan file edited by hand (another device): refused, nothing runs.
    await libvirtd.virsh(['detach-device', '--domain', c.vm, '--file', hostdev, '--config']);
    expect(await c.dumpxml()).toBe(xmlBefore);
    const original = await readFile(planFile, 'utf8');
    const edited = path.join(c.dir, 'edited.json');
    const doctored = JSON.parse(original) as { plan: Plan };
    const attach = doctored.plan.hosts[0]!.actions.find((a) => a.kind === 'attach-hostdev');
    if (attach?.kind === 'attach-hostdev') attach.address = '0000:07:00.1';
    await writeFile(edited, JSON.stringify(doctored));
    const tampered = await c.cli(['apply', edited, '--yes']);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('plan.hosts[0].actions[1].address is "0000:07:00.1", but its desired state plans "0000:07:00.0"');
    expect(await c.mutations()).toEqual([]);

    // The saved plan as written applies.
    const ok = await c.cli(['apply', planFile, '--yes']);
    expect(ok.stderr).not.toContain('Error');
    expect(ok.code).toBe(0);
    expect(await c.driver()).toBe('vfio-pci');
    expect(domainState(await c.dumpxml())).toEqual({ hostdevs: [{ address: NIC, managed: 'yes' }], interfaces: [] });
    expect((await c.cli(['plan', '-f', c.yaml, '--detailed-exitcode'])).code).toBe(0);
  });

  it('rolls a failed apply back (exit 1), and exits 3 naming what is left when rollback fails too', async () => {
    const c = await newCase('cli-fault');
    const xmlBefore = await c.dumpxml();
    await c.fake.setFaults([{ command: 'attach-device', mode: 'fail' }]);
    const r = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[2/3] attach-hostdev 0000:07:00.0 (cli-fault) FAILED: injected fault at call 2');
    expect(r.stderr).toMatch(/apply FAILED at step 2: injected fault/);
    expect(r.stderr).toContain('Rolled back 2 step(s)');
    await expectUntouched(c, xmlBefore);
    expect(await c.mutations()).toEqual([
      'nodedev-detach pci_0000_07_00_0',
      expect.stringMatching(/^attach-device /),
      'nodedev-reattach pci_0000_07_00_0',
    ]);
    const rollback = (await c.journalEntries()).filter((e) => e.phase === 'rollback');
    expect(rollback.map((e) => `${e.step} ${e.kind} ${e.result}`)).toEqual([
      '2 detach-hostdev ok', // nothing to undo: the attach never happened
      '1 nodedev-reattach started',
      '1 nodedev-reattach ok',
    ]);

    // The undo of the detach fails as well: exit 3, and the report says where the host stands.
    await c.fake.setFaults([
      { command: 'attach-device', mode: 'fail' },
      { command: 'nodedev-reattach', mode: 'fail' },
    ]);
    const worse = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(worse.code).toBe(3);
    expect(worse.stderr).toContain('Rollback could NOT restore the host');
    expect(worse.stderr).toContain('- 0000:07:00.0 is on vfio-pci (was igb)');
    expect(await c.driver()).toBe('vfio-pci');
    expect(await c.dumpxml()).toBe(xmlBefore);
  });

  it('asks before changing anything: refuses without --yes off a terminal, honours the answer on one', async () => {
    const c = await newCase('cli-confirm');
    const xmlBefore = await c.dumpxml();

    const notty = await c.cli(['apply', '-f', c.yaml]);
    expect(notty.code).toBe(1);
    expect(notty.stderr).toContain('Plan: 1 to bind to vfio-pci');
    expect(notty.stderr).toContain('refusing to change the host without confirmation: stdin is not a terminal');
    await expectUntouched(c, xmlBefore);

    const no = await c.cli(['apply', '-f', c.yaml], { tty: true, answer: false });
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('Apply cancelled; nothing was changed.');
    await expectUntouched(c, xmlBefore);
    expect(await c.mutations()).toEqual([]);
    expect(await readFile(c.journal, 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');

    const yes = await c.cli(['apply', '-f', c.yaml], { tty: true, answer: true });
    expect(yes.code).toBe(0);
    expect(await c.driver()).toBe('vfio-pci');
    expect(domainState(await c.dumpxml())).toEqual({ hostdevs: [{ address: NIC, managed: 'yes' }], interfaces: [] });
  });

  it('two applies at once: one converges the host, the other waits and then refuses the stale plan or finds nothing to do', async () => {
    const c = await newCase('cli-race');
    const [a, b] = await Promise.all([
      c.cli(['apply', '-f', c.yaml, '--yes', '--lock-timeout', '30s']),
      c.cli(['apply', '-f', c.yaml, '--yes', '--lock-timeout', '30s']),
    ]);
    const results = [a, b].sort((x, y) => x.code - y.code);
    const [winner, other] = results as [CliResult, CliResult];
    expect(winner.code).toBe(0);
    expect(winner.stderr).toContain('applied 3 step(s)');
    if (other.code === 0) {
      // It observed after the first had finished: nothing to do.
      expect(other.stderr).toContain('No changes');
    } else {
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/waiting up to 30s for apply PID \d+/);
      expect(other.stderr).toContain('host local changed since the plan was made');
      expect(other.stderr).toContain('0000:07:00.0: driver igb → vfio-pci');
      expect(other.stderr).not.toMatch(/\[\d\/3\]/);
    }
    // Converged exactly once.
    expect(await c.driver()).toBe('vfio-pci');
    expect(domainState(await c.dumpxml())).toEqual({ hostdevs: [{ address: NIC, managed: 'yes' }], interfaces: [] });
    expect((await c.mutations()).map((m) => m.split(' ')[0])).toEqual(['nodedev-detach', 'attach-device', 'detach-device']);
    const entries = await c.journalEntries();
    expect(new Set(entries.map((e) => e.runId)).size).toBe(1);
    expect(entries.filter((e) => e.result === 'ok').map((e) => e.kind)).toEqual(['nodedev-detach', 'attach-hostdev', 'remove-interface', 'final-check']);
    expect((await c.cli(['plan', '-f', c.yaml, '--detailed-exitcode'])).code).toBe(0);
  });

  it('two applies at once without --lock-timeout: the second refuses at once, naming the lock owner', async () => {
    const c = await newCase('cli-race-0');
    const [a, b] = await Promise.all([c.cli(['apply', '-f', c.yaml, '--yes']), c.cli(['apply', '-f', c.yaml, '--yes'])]);
    const [winner, other] = [a, b].sort((x, y) => x.code - y.code) as [CliResult, CliResult];
    expect(winner.code).toBe(0);
    if (other.code === 0) {
      expect(other.stderr).toContain('No changes');
    } else {
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/another apply holds the lock of host "local": PID \d+ on \S+, started \S+; gave up after/);
      expect(other.stderr).toContain(path.join(c.stateDir, 'local.lock'));
    }
    expect(domainState(await c.dumpxml())).toEqual({ hostdevs: [{ address: NIC, managed: 'yes' }], interfaces: [] });
    expect((await c.mutations()).map((m) => m.split(' ')[0])).toEqual(['nodedev-detach', 'attach-device', 'detach-device']);
    expect(new Set((await c.journalEntries()).map((e) => e.runId)).size).toBe(1);
  });

  it('with several hosts, one refused at its lock: the others finish and are reported before the CLI returns', async () => {
    // Two passthru hosts over the same private daemon and fake tree: each owns one VM and one device.
    const c = await newCase('cli-multi-a', {
      yaml: `version: 1
hosts:
  hv1: { uri: ${JSON.stringify(libvirtd.uri)} }
  hv2: { uri: ${JSON.stringify(libvirtd.uri)} }
vms:
  cli-multi-a:
    host: hv1
    devices: [{ address: "07:00.0" }]
  cli-multi-b:
    host: hv2
    devices: [{ address: "07:00.1" }]
`,
    });
    await defineDomain(libvirtd, { name: 'cli-multi-b' });
    onTestFinished(() => libvirtd.virsh(['undefine', '--domain', 'cli-multi-b']).then(() => undefined));
    // hv1 is held by a live apply (this process).
    await mkdir(c.stateDir, { recursive: true });
    const held = { pid: process.pid, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', host: 'hv1' };
    await writeFile(path.join(c.stateDir, 'hv1.lock'), `${JSON.stringify(held)}\n`);

    const r = await runCli(['apply', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '--yes'], { env: c.env });
    const whenReturned = await c.mutations();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // What the CLI did, it did before it returned, and it reported it: hv2 applied, hv1 refused, exit 1.
    expect(await c.mutations()).toEqual(whenReturned);
    expect(whenReturned.map((m) => m.split(' ')[0])).toEqual(['nodedev-detach', 'attach-device']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('hv2: [2/2] attach-hostdev 0000:07:00.1 (cli-multi-b) ok');
    expect(r.stderr).toContain('Host hv2: applied 2 step(s)');
    expect(r.stderr).toMatch(/\nHost hv1: not applied: another apply holds the lock of host "hv1": PID \d+/);
    expect(r.stderr).toContain('Error: not applied to 1 host(s): hv1 (refused) (see above)\n');
    expect(await c.driver('0000:07:00.1')).toBe('vfio-pci');
    expect(await c.driver()).toBe('igb');
    expect(domainState(await libvirtd.virsh(['dumpxml', '--inactive', '--domain', 'cli-multi-b'])).hostdevs).toEqual([{ address: '0000:07:00.1', managed: 'yes' }]);
    expect(domainState(await c.dumpxml()).hostdevs).toEqual([]);
    // The lock of hv1 is still the holder's.
    expect(JSON.parse(await readFile(path.join(c.stateDir, 'hv1.lock'), 'utf8'))).toEqual(held);
  });

  /**
   * A case of several passthru hosts over the same private daemon and fake tree, each owning the VMs `vms` gives it
   * (`host: [vm, device]`); a host with a `uri` of its own is reached there instead (a dead one: unreachable).
   */
  async function fleetCase(first: string, hosts: Record<string, { vm: string; device: string; uri?: string; define?: boolean }>): Promise<Case> {
    const entries = Object.entries(hosts);
    const yaml = `version: 1
hosts:
${entries.map(([name, h]) => `  ${name}: { uri: ${JSON.stringify(h.uri ?? libvirtd.uri)} }`).join('\n')}
vms:
${entries.map(([name, h]) => `  ${h.vm}:\n    host: ${name}\n    devices: [{ address: "${h.device}" }]`).join('\n')}
`;
    const c = await newCase(first, { yaml });
    for (const [, h] of entries.slice(1)) {
      if (h.define === false || h.uri) continue;
      await defineDomain(libvirtd, { name: h.vm });
      onTestFinished(() => libvirtd.virsh(['undefine', '--domain', h.vm]).then(() => undefined));
    }
    return c;
  }

  const DEAD_URI = 'qemu+ssh://nobody@127.0.0.1:1/system';
  const hostdevsOf = async (vm: string) => domainState(await libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm])).hostdevs;

  describe('one host unreachable and one blocked (SPEC 12: neither stops nor hides the others)', () => {
    const fleet = () =>
      fleetCase('cli-fleet-a', {
        hv1: { vm: 'cli-fleet-a', device: '07:00.0' },
        hv2: { vm: 'cli-fleet-b', device: '08:00.0', uri: DEAD_URI },
        // A VM no domain has: unknown-vm blocks hv3's plan.
        hv3: { vm: 'cli-fleet-ghost', device: '07:00.1', define: false },
      });
    const run = (c: Case, ...extra: string[]) => runCli(['apply', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '--yes', ...extra], { env: c.env });

    it('text: the applyable host is applied, the others refused and reported, exit 1', async () => {
      const c = await fleet();
      const r = await run(c);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('refusing to apply to 2 host(s): hv2 (not observed), hv3 (blocked: its problems are listed above); the other host(s) are applied: hv1.');
      expect(r.stderr).toContain('hv1: [2/2] attach-hostdev 0000:07:00.0 (cli-fleet-a) ok');
      expect(r.stderr).toContain('Host hv1: applied 2 step(s); a fresh plan is empty.');
      expect(r.stderr).toMatch(/\nHost hv2: not applied \(not observed\): cannot connect to qemu\+ssh:\/\/nobody@127\.0\.0\.1:1\/system: .*Connection refused/);
      expect(r.stderr).toContain('\nHost hv3: not applied (blocked): blocked by 1 problem(s) (unknown-vm, listed in the plan); not applied');
      expect(r.stderr).toContain('Error: not applied to 2 host(s): hv2 (unreachable), hv3 (blocked) (see above)');
      // The world: hv1's device and VM changed, hv3's device untouched.
      expect(await c.driver()).toBe('vfio-pci');
      expect(domainState(await c.dumpxml()).hostdevs).toEqual([{ address: NIC, managed: 'yes' }]);
      expect(await c.driver('0000:07:00.1')).toBe('igb');
      expect((await c.mutations()).map((m) => m.split(' ')[0])).toEqual(['nodedev-detach', 'attach-device']);
    });

    it('--format json: hosts[] has the applied host, notApplied[] each other one with its state and error', async () => {
      const c = await fleet();
      const r = await run(c, '--format', 'json');
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout) as { ok: boolean; hosts: { host: string; state: string; wave: number | null }[]; notApplied: { host: string; state: string; wave: number | null; error: string; hint?: string }[] };
      expect(report.ok).toBe(false);
      expect(report.hosts.map((h) => [h.host, h.state, h.wave])).toEqual([['hv1', 'applied', 1]]);
      expect(report.notApplied.map((h) => [h.host, h.state, h.wave])).toEqual([
        ['hv2', 'unreachable', null],
        ['hv3', 'blocked', null],
      ]);
      expect(report.notApplied[0]?.error).toContain('Connection refused');
      expect(report.notApplied[0]?.hint).toContain('check the URI');
      expect(report.notApplied[1]?.error).toContain('unknown-vm');
      expect(await c.driver()).toBe('vfio-pci');
    });

    it('apply PLANFILE: a host that can no longer be observed is reported, the others applied (it stopped at the first one)', async () => {
      // hv2 answers when the plan is saved (libvirt's test driver on a file of its own) and not when it is applied.
      const spare = await mkdtemp(path.join(tmpdir(), 'passthru-saved-fleet-'));
      onTestFinished(() => rm(spare, { recursive: true, force: true }));
      const node = path.join(spare, 'node.xml');
      await writeFile(node, await readFile('examples/seed/libvirt-node.xml'));
      const c = await fleetCase('cli-fleet-s', {
        hv1: { vm: 'cli-fleet-s', device: '07:00.0' },
        hv2: { vm: 'rhel7.3', device: '07:00.1', uri: `test://${node}`, define: false },
      });
      const planFile = path.join(c.dir, 'plan.json');
      const saved = await runCli(['plan', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '-o', planFile], { env: c.env });
      expect(saved.code).toBe(0);
      await rm(node);
      const r = await runCli(['apply', planFile, '--root', c.root, '--virsh', c.fake.binary, '--yes'], { env: c.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('refusing to apply to 1 host(s): hv2 (not observed); the other host(s) are applied: hv1.');
      expect(r.stderr).toContain('Host hv1: applied 2 step(s); a fresh plan is empty.');
      expect(r.stderr).toMatch(/\nHost hv2: not applied \(not observed\): cannot connect to test:\/\//);
      expect(r.stderr).toContain('Error: not applied to 1 host(s): hv2 (unreachable) (see above)');
      expect(await c.driver()).toBe('vfio-pci');
      expect(await c.driver('0000:07:00.1')).toBe('igb');
    });
  });

  describe('waves (--batches, --max-failures)', () => {
    it('a host of wave 1 fails: wave 2 is not attempted, and its hosts are reported as such (text and JSON)', async () => {
      const c = await fleetCase('cli-wave-a', {
        hv1: { vm: 'cli-wave-a', device: '07:00.0' },
        hv2: { vm: 'cli-wave-b', device: '07:00.1' },
        hv3: { vm: 'cli-wave-c', device: '07:00.1' },
      });
      const run = (...extra: string[]) => runCli(['apply', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '--yes', '--batches', '1,100%', ...extra], { env: c.env });
      await c.fake.setFaults([{ call: 1, mode: 'fail' }]);
      const r = await run();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[wave 1/2] 1 host(s): hv1\n');
      expect(r.stderr).toContain('[wave 1/2] hv1: [1/2] nodedev-detach 0000:07:00.0 ...\n');
      expect(r.stderr).toMatch(/\[wave 1\/2\] hv1: \[1\/2\] nodedev-detach 0000:07:00\.0 FAILED: /);
      expect(r.stderr).not.toContain('[wave 2/2]');
      expect(r.stderr).toContain('Host hv1: apply FAILED at step 1');
      expect(r.stderr).toContain('Host hv2: not attempted: 1 host(s) failed in earlier waves (hv1), more than --max-failures 0');
      expect(r.stderr).toContain('Host hv3: not attempted: 1 host(s) failed in earlier waves (hv1), more than --max-failures 0');
      expect(r.stderr).toContain('Error: not applied to 2 host(s): hv2 (not-attempted), hv3 (not-attempted) (see above)');
      // The world: only hv1 was touched (and rolled back); wave 2's device and VMs are as they were.
      expect((await c.mutations()).map((m) => m.split(' ')[0])).toEqual(['nodedev-detach']);
      expect(await c.driver()).toBe('igb');
      expect(await c.driver('0000:07:00.1')).toBe('igb');
      expect(await hostdevsOf('cli-wave-b')).toEqual([]);
      expect(await hostdevsOf('cli-wave-c')).toEqual([]);

      await c.fake.setFaults([{ call: 1, mode: 'fail' }]);
      const j = await run('--format', 'json');
      expect(j.code).toBe(1);
      const report = JSON.parse(j.stdout) as { hosts: { host: string; state: string; wave: number }[]; notApplied: { host: string; state: string; wave: number }[]; waves: string[][] };
      expect(report.waves).toEqual([['hv1'], ['hv2', 'hv3']]);
      expect(report.hosts.map((h) => [h.host, h.state, h.wave])).toEqual([['hv1', 'failed', 1]]);
      expect(report.notApplied.map((h) => [h.host, h.state, h.wave])).toEqual([
        ['hv2', 'not-attempted', 2],
        ['hv3', 'not-attempted', 2],
      ]);
    });

    it('--max-failures 1 tolerates the failed canary: the next wave runs and is applied', async () => {
      const c = await fleetCase('cli-wave-tol-a', {
        hv1: { vm: 'cli-wave-tol-a', device: '07:00.0' },
        hv2: { vm: 'cli-wave-tol-b', device: '07:00.1' },
      });
      await c.fake.setFaults([{ call: 1, mode: 'fail' }]);
      const r = await runCli(['apply', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '--yes', '--batches', '1', '--max-failures', '1'], { env: c.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[wave 2/2] 1 host(s): hv2\n');
      expect(r.stderr).toContain('[wave 2/2] hv2: [2/2] attach-hostdev 0000:07:00.1 (cli-wave-tol-b) ok');
      expect(r.stderr).toContain('Host hv1: apply FAILED at step 1');
      expect(r.stderr).toContain('Host hv2: applied 2 step(s)');
      expect(await c.driver()).toBe('igb');
      expect(await c.driver('0000:07:00.1')).toBe('vfio-pci');
      expect(await hostdevsOf('cli-wave-tol-b')).toEqual([{ address: '0000:07:00.1', managed: 'yes' }]);
    });

    it('--parallelism 1 changes one host at a time: hv2 starts only after hv1 ended', async () => {
      const c = await fleetCase('cli-par-a', {
        hv1: { vm: 'cli-par-a', device: '07:00.0' },
        hv2: { vm: 'cli-par-b', device: '07:00.1' },
      });
      // Every detach fails, so each host is rolled back and leaves the shared tree as it was: the other host's plan
      // still holds when its turn comes (a change by hv1 would make hv2's plan stale, both seeing the same tree).
      await c.fake.setFaults([{ command: 'nodedev-detach', mode: 'fail' }]);
      const r = await runCli(['apply', '-f', c.yaml, '--root', c.root, '--virsh', c.fake.binary, '--yes', '--parallelism', '1'], { env: c.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Host hv1: apply FAILED at step 1');
      expect(r.stderr).toContain('Host hv2: apply FAILED at step 1');
      const hosts = (await c.journalEntries()).map((e) => e.host);
      expect(hosts.indexOf('hv2')).toBeGreaterThan(hosts.lastIndexOf('hv1'));
      expect(hosts.filter((h) => h === 'hv1').length).toBeGreaterThan(1);
    });
  });

  it('refuses a blocked plan and runs nothing (IOMMU group shared with a device left on igb)', async () => {
    const c = await newCase('cli-blocked', { host: seedHost().update('0000:07:00.1', { group: 17 }) });
    const xmlBefore = await c.dumpxml();
    const r = await c.cli(['apply', '-f', c.yaml, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('iommu-group-not-viable');
    expect(r.stderr).toContain('0000:07:00.1');
    expect(r.stderr).toContain('refusing to apply to 1 host(s): local (blocked: its problems are listed above); no host is left to apply');
    expect(await c.mutations()).toEqual([]);
    expect(await c.driver('0000:07:00.1')).toBe('igb');
    await expectUntouched(c, xmlBefore);
    expect(await readFile(c.journal, 'utf8').catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
  });
});
