/**
 * `kill -9` in the middle of an apply: a child process runs the real apply (lock, journal, executor) and is killed
 * right after step k. The journal must read back steps 1..k, and the lock it left must be found stale and taken
 * over by the next apply. Planned afresh from the same file, the host needs exactly the steps after k, and `passthru
 * apply` takes the dead run's lock over and finishes them.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { build } from 'rolldown';
import { readJournal } from '../src/apply/journal.js';
import { acquireLock, isStale, lockPath } from '../src/apply/lock.js';
import type { LockOwner } from '../src/apply/lock.js';
import type { Action, Plan } from '../src/model/plan.js';
import { AFTER, VM, freshCase } from './helpers/fake-virsh/apply-lab.js';
import { libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-kill: ${unavailable}`);

const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../src/${p}`, import.meta.url)));

/** The child: one real apply, which parks itself after step `stopAfter` and tells the parent so. */
const CHILD = `
import { applyHost } from ${src('apply/apply-host.ts')};
import { hostTarget } from ${src('apply/target.ts')};
import { createVirsh } from ${src('io/execa-virsh.ts')};
import { systemClock } from ${src('io/clock.ts')};
const cfg = JSON.parse(process.argv[2]);
const virsh = createVirsh({ binary: cfg.binary });
const target = hostTarget({ uri: cfg.plan.uri, virsh: createVirsh({ binary: '/usr/bin/virsh' }), root: cfg.root });
await applyHost(cfg.plan, {
  virsh, target, clock: systemClock, journalPath: cfg.journal, lock: { dir: cfg.lockDir, timeoutMs: 0 },
  hooks: {
    postStep(i) {
      process.stdout.write('done ' + i + '\\n');
      // Parked synchronously: nothing else (no next step, no journal write) can run until the SIGKILL.
      if (i === cfg.stopAfter) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
    },
  },
});
process.stdout.write('finished\\n');
`;

/** The desired state whose plan, on a fresh lab case, is the lab's seven steps. */
const LAB_YAML = `version: 1
vms:
  ${JSON.stringify(VM)}:
    devices:
      - address: "0000:07:00.0"
      - address: "0000:08:00.0"
        managed: false
    removeInterfaces:
      - { type: bridge, source: br0 }
`;

/** What identifies a step, whoever planned it. */
const stepOf = (a: Action) => ({
  kind: a.kind,
  address: 'address' in a ? a.address : null,
  vm: 'vm' in a ? a.vm : null,
  managed: 'managed' in a ? a.managed : null,
  mac: 'mac' in a ? a.mac : null,
});

describe.skipIf(unavailable !== null)('apply killed with SIGKILL', () => {
  let libvirtd: PrivateLibvirtd;
  let scratch: string;
  let child: string;

  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
    scratch = await mkdtemp(path.join(tmpdir(), 'passthru-kill-'));
    // The child runs plain node, so the TypeScript it needs is bundled first.
    await writeFile(path.join(scratch, 'child.ts'), CHILD);
    child = path.join(scratch, 'child.mjs');
    await build({
      input: path.join(scratch, 'child.ts'),
      platform: 'node',
      logLevel: 'silent',
      resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
      output: { file: child, format: 'esm' },
    });
  });
  afterAll(async () => {
    await libvirtd?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('leaves a readable journal of steps 1..k and a stale lock; the next plan is exactly the rest, and apply finishes it', async () => {
    const k = 3;
    const c = await freshCase(libvirtd);
    onTestFinished(() => c.dispose());
    const journal = path.join(c.dir, 'journal.jsonl');
    const lockDir = path.join(c.dir, 'locks');
    const yaml = path.join(c.dir, 'passthrough.yaml');
    await writeFile(yaml, LAB_YAML);
    const env = { PASSTHRU_JOURNAL: journal, PASSTHRU_STATE_DIR: lockDir };
    const cli = (args: string[]) => runCli([...args, '-f', yaml, '-c', libvirtd.uri, '--root', c.root, '--virsh', c.fake.binary], { env });
    const planNow = async () => {
      const r = await cli(['plan', '--format', 'json']);
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.applyable).toBe(true);
      expect(plan.hosts.map((h) => [h.name, h.uri])).toEqual([['local', libvirtd.uri]]);
      return plan.hosts[0]?.actions ?? [];
    };
    // The file is the one behind the lab's plan: planned against the untouched host, it yields those seven steps.
    expect((await planNow()).map(stepOf)).toEqual(c.plan.actions.map(stepOf));

    const cfg = { plan: c.plan, binary: c.fake.binary, root: c.root, journal, lockDir, stopAfter: k };
    // TMPDIR: the executor's temp dir, which a SIGKILL leaves behind, lands in the case's directory.
    const proc = spawn(process.execPath, [child, JSON.stringify(cfg)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: c.dir },
    });
    const exited = new Promise<string | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
    for await (const line of createInterface({ input: proc.stdout })) {
      if (line === `done ${k}`) break;
      expect(line).not.toBe('finished');
    }
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const read = await readJournal(journal);
    expect(read.tornTail).toBe(false);
    const applied = read.entries.filter((e) => e.phase === 'apply');
    expect(applied.map((e) => `${e.step}:${e.result}`)).toEqual(['1:started', '1:ok', '2:started', '2:ok', '3:started', '3:ok']);
    expect(applied.map((e) => e.kind)).toEqual(['detach-hostdev', 'detach-hostdev', 'nodedev-reattach', 'nodedev-reattach', 'nodedev-detach', 'nodedev-detach']);

    // The host is left half-way: exactly the first k steps happened.
    expect((await c.observe()).drivers).toEqual({ '0000:07:00.0': 'vfio-pci', '0000:07:00.1': 'igb', '0000:08:00.0': 'igb' });

    // Observed afresh with the same file, the next plan is exactly the steps the killed apply had not run:
    // nodedev-detach 08:00.0, both attaches, the br0 NIC's removal (07:00.0, already on vfio-pci, needs nothing).
    const remaining = await planNow();
    expect(remaining.map(stepOf)).toEqual(c.plan.actions.slice(k).map(stepOf));
    expect(remaining.map((a) => `${a.kind} ${'address' in a ? a.address : ''}`)).toEqual([
      'nodedev-detach 0000:08:00.0',
      'attach-hostdev 0000:07:00.0',
      'attach-hostdev 0000:08:00.0',
      'remove-interface ',
    ]);

    const file = lockPath(lockDir, 'local');
    const lockText = await readFile(file, 'utf8');
    const owner = JSON.parse(lockText) as LockOwner;
    expect(owner).toMatchObject({ pid: proc.pid, host: 'local' });
    expect(isStale(owner)).toBe(true);
    const next = await acquireLock('local', { dir: lockDir, timeoutMs: 0 });
    expect(next.tookOverFrom).toEqual(owner);
    await next.release();

    // The operator's next step: `passthru apply` finds the dead run's lock (put back as the kill left it), takes
    // it over, and finishes the job; afterwards the plan is empty.
    await writeFile(file, lockText);
    const resumed = await cli(['apply', '--yes']);
    expect(resumed.stderr).toContain(`local: took over the lock of apply PID ${proc.pid} (started ${owner.startedAt}), which is gone`);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('Host local: applied 4 step(s); a fresh plan is empty.');
    expect(await c.observe()).toEqual(AFTER);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(0);
    const after = await readJournal(journal);
    expect(after.skipped).toEqual([]);
    const resumedRun = after.entries.filter((e) => e.runId !== read.entries[0]?.runId);
    expect(resumedRun.filter((e) => e.result === 'ok').map((e) => `${e.step}/${e.of} ${e.kind}`)).toEqual([
      '1/4 nodedev-detach',
      '2/4 attach-hostdev',
      '3/4 attach-hostdev',
      '4/4 remove-interface',
      '4/4 final-check',
    ]);
  });
});
