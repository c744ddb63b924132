/**
 * `kill -9` in the middle of an apply: a child process runs the real apply (lock, journal, executor) and is killed
 * right after step k. The journal must read back steps 1..k, and the lock it left must be found stale and taken
 * over by the next apply.
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
import { freshCase } from './helpers/fake-virsh/apply-lab.js';
import { libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';

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

  it('leaves a readable journal of steps 1..k and a lock the next apply finds stale', async () => {
    const k = 3;
    const c = await freshCase(libvirtd);
    onTestFinished(() => c.dispose());
    const journal = path.join(c.dir, 'journal.jsonl');
    const lockDir = path.join(c.dir, 'locks');
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

    const file = lockPath(lockDir, 'local');
    const owner = JSON.parse(await readFile(file, 'utf8')) as LockOwner;
    expect(owner).toMatchObject({ pid: proc.pid, host: 'local' });
    expect(isStale(owner)).toBe(true);
    const next = await acquireLock('local', { dir: lockDir, timeoutMs: 0 });
    expect(next.tookOverFrom).toEqual(owner);
    await next.release();
  });
});
