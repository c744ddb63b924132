/**
 * `passthru agent --mode apply` end to end: the agent (a real child process, the CLI built from these sources)
 * against a private libvirtd for the domain and a fake sysfs tree driven by the scripted virsh for node devices —
 * as test/apply-cli.test.ts does for `passthru apply`. The outcome is checked on the world (the driver link, the
 * domain XML from the real virsh, the journal, the lock directory), and on what the agent records.
 */
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { acquireLock } from '../src/apply/lock.js';
import { readJournal } from '../src/apply/journal.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh, type FakeVirsh } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd, type PrivateLibvirtd } from './helpers/libvirtd.js';
import { bundleCli, type CliBundle } from './helpers/cli-bundle.js';
import { startAgent, type AgentProcess } from './helpers/agent-process.js';
import { seedYaml } from './helpers/seed-yaml.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`agent-apply: ${unavailable}`);

const NIC = '0000:07:00.0';
const MAC = '52:54:00:cc:dd:02';

/** The hostdev of 07:00.0 as libvirt prints it in the persistent XML. */
const HOSTDEV_SOURCE = "<address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>";

describe.skipIf(unavailable !== null)('passthru agent --mode apply (private libvirtd, fake sysfs)', () => {
  let libvirtd: PrivateLibvirtd;
  let cli: CliBundle;
  beforeAll(async () => {
    [libvirtd, cli] = await Promise.all([startPrivateLibvirtd(), bundleCli()]);
  });
  afterAll(async () => {
    await Promise.all([libvirtd?.stop(), cli?.remove()]);
  });

  interface Case {
    vm: string;
    dir: string;
    root: string;
    fake: FakeVirsh;
    yaml: string;
    stateDir: string;
    lockDir: string;
    journal: string;
    agent(args: string[]): AgentProcess;
    driver(): Promise<string | null>;
    dumpxml(): Promise<string>;
  }

  async function newCase(vm: string): Promise<Case> {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-agent-apply-'));
    const root = await seedHost().build();
    const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
    await defineDomain(libvirtd, { name: vm, bridges: [{ mac: MAC, source: 'br0' }] });
    const yaml = path.join(dir, 'passthrough.yaml');
    await writeFile(yaml, seedYaml(vm));
    const c: Case = {
      vm,
      dir,
      root,
      fake,
      yaml,
      stateDir: path.join(dir, 'state'),
      lockDir: path.join(dir, 'locks'),
      journal: path.join(dir, 'journal.jsonl'),
      agent(args) {
        const a = startAgent(
          cli.launcher,
          ['agent', '--mode', 'apply', '-f', yaml, ...args, '-c', libvirtd.uri, '--root', root, '--virsh', fake.binary, '--state-dir', c.stateDir],
          c.stateDir,
          { PASSTHRU_STATE_DIR: c.lockDir, PASSTHRU_JOURNAL: c.journal },
        );
        onTestFinished(() => a.kill());
        return a;
      },
      async driver() {
        const link = await readlink(path.join(root, 'sys/bus/pci/devices', NIC, 'driver')).catch(() => null);
        return link === null ? null : path.basename(link);
      },
      dumpxml: () => libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]),
    };
    onTestFinished(async () => {
      await libvirtd.virsh(['undefine', '--domain', vm]).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    return c;
  }

  it('--once converges the seed host exactly like passthru apply, records applied; the next run finds it in sync', async () => {
    const c = await newCase('agent-seed');
    const a = c.agent(['--once']);
    expect(await a.exited).toBe(0);
    // The world.
    expect(await c.driver()).toBe('vfio-pci');
    const xml = await c.dumpxml();
    expect(xml).toContain("<hostdev mode='subsystem' type='pci' managed='yes'>");
    expect(xml).toContain(HOSTDEV_SOURCE);
    expect(xml).not.toContain("<interface type='bridge'>");
    const journal = await readJournal(c.journal);
    expect(journal.entries.filter((e) => e.phase === 'apply' && e.result === 'ok').map((e) => e.kind)).toEqual(['nodedev-detach', 'attach-hostdev', 'remove-interface']);
    expect(journal.entries.at(-1)).toMatchObject({ kind: 'final-check', result: 'ok' });
    expect(await readdir(c.lockDir)).toEqual([]);
    // What the agent says.
    const status = await a.status();
    expect(status?.agent.mode).toBe('apply');
    expect(status?.hosts[0]).toMatchObject({ name: 'local', state: 'applied', changes: 3, problems: [], consecutiveFailures: 0 });
    expect(status?.hosts[0]?.lastApply).not.toBeNull();
    expect(await readFile(path.join(c.stateDir, 'passthru.prom'), 'utf8')).toContain('passthru_applies_total{host="local",result="applied"} 1\n');
    expect(a.lines.filter((l) => /^info: local: \[\d\/3\] /.test(l))).toHaveLength(3);

    const again = c.agent(['--once']);
    expect(await again.exited).toBe(0);
    expect((await again.status())?.hosts[0]).toMatchObject({ state: 'in-sync', changes: 0 });
    expect((await readJournal(c.journal)).entries).toHaveLength(journal.entries.length);
  });

  it('waits for another apply\'s lock only --lock-timeout long, then records failed (lock-timeout) and changes nothing', async () => {
    const c = await newCase('agent-locked');
    const before = await c.dumpxml();
    const lock = await acquireLock('local', { dir: c.lockDir, timeoutMs: 0 });
    onTestFinished(() => lock.release());
    const a = c.agent(['--once', '--lock-timeout', '1s']);
    expect(await a.exited).toBe(1);
    expect((await a.status())?.hosts[0]).toMatchObject({ state: 'failed', consecutiveFailures: 1, problems: [{ code: 'lock-timeout' }] });
    expect(a.lines.some((l) => l.startsWith(`info: local: waiting up to 1s for apply PID ${process.pid}`))).toBe(true);
    expect(await c.driver()).toBe('igb');
    expect(await c.dumpxml()).toBe(before);
    expect(await readFile(path.join(c.stateDir, 'passthru.prom'), 'utf8')).toContain('passthru_applies_total{host="local",result="failed"} 1\n');
  });

  it('a failed step is rolled back and recorded as failed, with a backoff retry', async () => {
    const c = await newCase('agent-fail');
    const before = await c.dumpxml();
    await c.fake.setFaults([{ command: 'attach-device', mode: 'fail' }]);
    const a = c.agent(['--interval', '1h']);
    const s = await a.waitForStatus('the failed apply', (x) => x.hosts[0]?.state === 'failed', 60_000);
    const host = s.hosts[0];
    expect(host?.problems[0]).toMatchObject({ code: 'apply-failed', message: expect.stringContaining('apply failed at step 2 (attach-hostdev 0000:07:00.0 (agent-fail))') });
    expect(host?.problems[0]?.message).toContain('rolled back');
    const wait = Date.parse(host?.nextAttempt ?? '') - Date.parse(host?.lastReconcile ?? '');
    expect(wait).toBeGreaterThanOrEqual(7_000);
    expect(wait).toBeLessThan(15_000);
    // Rolled back: the world is as before.
    expect(await c.driver()).toBe('igb');
    expect(await c.dumpxml()).toBe(before);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await readdir(c.lockDir)).toEqual([]);
  });

  it('SIGTERM in the middle of an agent\'s apply: no new step, the host rolled back, status failed (interrupted), the lock free, exit 0', async () => {
    const c = await newCase('agent-sigterm');
    const before = await c.dumpxml();
    // The first step, nodedev-detach, is held in flight until the signal has been seen: whatever the load, the
    // signal lands after the step started (the agent re-observes and takes the lock first) and before it ends.
    await c.fake.setFaults([{ command: 'nodedev-detach', mode: 'hold' }]);
    const a = c.agent(['--interval', '1h']);
    await c.fake.waitForCall('nodedev-detach');
    a.proc.kill('SIGTERM');
    await a.waitForLine(/^info: SIGTERM: stopping once the apply in flight ends/, 60_000);
    await c.fake.release();
    expect(await a.exited).toBe(0);
    expect(a.lines).toContain('info: SIGTERM: stopping once the apply in flight ends: its step in flight finishes, then what it did is rolled back; nothing new starts');
    // The step in flight finished, no other started, and it was undone (SPEC 9, like `passthru apply`).
    const entries = (await readJournal(c.journal)).entries;
    expect(entries.filter((e) => e.phase === 'apply' && e.result === 'ok').map((e) => e.kind)).toEqual(['nodedev-detach']);
    expect(entries.some((e) => e.kind === 'interrupted' && e.error === 'interrupted by SIGTERM')).toBe(true);
    expect(entries.filter((e) => e.phase === 'rollback' && e.result === 'ok').map((e) => e.kind)).toEqual(['nodedev-reattach']);
    // The world: fully rolled back.
    expect(await c.driver()).toBe('igb');
    expect(await c.dumpxml()).toBe(before);
    expect(await readdir(c.lockDir)).toEqual([]);
    expect(await c.fake.running()).toEqual([]);
    // What the agent recorded: failed, because it was interrupted, and rolled back.
    const host = (await a.status())?.hosts[0];
    expect(host).toMatchObject({ state: 'failed', problems: [{ code: 'interrupted' }] });
    expect(host?.problems[0]?.message).toBe('apply interrupted by SIGTERM after 1 step(s); everything done was rolled back');
  });

  it('a libvirt domain event triggers a reconcile without waiting for the interval', async () => {
    const c = await newCase('agent-events');
    const a = c.agent(['--mode', 'check', '--interval', '1h', '--debug']);
    const first = await a.waitForStatus('the first reconcile', (x) => x.hosts.length === 1, 60_000);
    // Redefining a domain is a lifecycle event ("Defined Updated"). The stream may still be connecting: redefine
    // until the agent has seen one, then it reconciles 2 s after the last event.
    onTestFinished(() => libvirtd.virsh(['undefine', '--domain', 'agent-events-other']).then(() => undefined, () => undefined));
    const seen = () => a.lines.includes('debug: local: domain event; reconciling once events settle');
    for (let i = 0; i < 10 && !seen(); i++) {
      await defineDomain(libvirtd, { name: 'agent-events-other', uuid: '6f4c2b1a-0000-4000-8000-0000000000e2' });
      for (let t = 0; t < 30 && !seen(); t++) await new Promise((r) => setTimeout(r, 100));
    }
    const after = await a.waitForStatus('a reconcile after the event', (x) => x.hosts[0]?.lastReconcile !== first.hosts[0]?.lastReconcile, 15_000);
    const eventAt = Date.parse(a.raw.find((l) => l.includes('domain event; reconciling'))?.slice(0, 24) ?? '');
    const delay = Date.parse(after.hosts[0]?.lastReconcile ?? '') - eventAt;
    expect(delay).toBeGreaterThanOrEqual(2_000); // debounced
    expect(delay).toBeLessThan(10_000);
    expect(a.lines).toContain('debug: reconcile (domain-event)');
  });

  it('a running agent restores a hostdev removed by hand, and stops with exit 0 and the lock free', async () => {
    const c = await newCase('agent-restore');
    const a = c.agent(['--interval', '1s']);
    const applied = await a.waitForStatus('the first apply', (x) => x.hosts[0]?.state === 'applied', 60_000);
    await a.waitForStatus('in sync', (x) => x.hosts[0]?.state === 'in-sync');
    // By hand, as an operator might: the hostdev leaves the persistent config.
    const hostdev = path.join(c.dir, 'hostdev.xml');
    await writeFile(hostdev, `<hostdev mode='subsystem' type='pci' managed='yes'><source>${HOSTDEV_SOURCE}</source></hostdev>`);
    await libvirtd.virsh(['detach-device', '--domain', c.vm, '--file', hostdev, '--config']);
    expect(await c.dumpxml()).not.toContain(HOSTDEV_SOURCE);
    const restored = await a.waitForStatus('the restore', (x) => x.hosts[0]?.state === 'applied' && x.hosts[0].lastApply !== applied.hosts[0]?.lastApply, 60_000);
    expect(restored.hosts[0]?.changes).toBe(1);
    expect(await c.dumpxml()).toContain(HOSTDEV_SOURCE);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await readdir(c.lockDir)).toEqual([]);
  });
});
