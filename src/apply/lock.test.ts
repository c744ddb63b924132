import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { PassthruError } from '../errors.js';
import { acquireLock, isStale, LockTimeoutError, lockPath } from './lock.js';
import type { LockOwner } from './lock.js';

/** A PID that existed and is gone: a child that has exited and been reaped. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid as number;

describe('acquireLock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-lock-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('stops waiting when interrupted: nothing has changed yet, and the holder keeps its lock', async () => {
    const held = await acquireLock('hv1', { dir, timeoutMs: 0 });
    const controller = new AbortController();
    setTimeout(() => controller.abort('SIGINT'), 100);
    const started = Date.now();
    const err = await acquireLock('hv1', { dir, timeoutMs: 60_000, pollMs: 10_000, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassthruError);
    expect((err as Error).message).toBe('interrupted by SIGINT while waiting for the lock of host "hv1"; nothing was changed');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(JSON.parse(await readFile(held.path, 'utf8'))).toEqual(held.owner);
    await held.release();
  });

  it('writes the owner, refuses a second holder, and releases', async () => {
    const lock = await acquireLock('hv1', { dir, timeoutMs: 0 });
    const owner = JSON.parse(await readFile(lock.path, 'utf8')) as LockOwner;
    expect(owner).toEqual({ pid: process.pid, hostname: hostname(), startedAt: lock.owner.startedAt, host: 'hv1' });
    const err = await acquireLock('hv1', { dir, timeoutMs: 100, pollMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as LockTimeoutError).message).toMatch(/^another apply holds the lock of host "hv1": .*; gave up after \d+ms$/);
    expect((err as LockTimeoutError).message).toContain(`PID ${process.pid} on ${hostname()}, started ${owner.startedAt}`);
    await lock.release();
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
    // Other hosts have their own lock.
    const a = await acquireLock('hv1', { dir, timeoutMs: 0 });
    const b = await acquireLock('hv2', { dir, timeoutMs: 0 });
    await Promise.all([a.release(), b.release()]);
  });

  it('reports a lock directory it cannot create as a user error with the remedy', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, '');
    const err = await acquireLock('hv1', { dir: path.join(blocker, 'state'), timeoutMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassthruError);
    expect((err as PassthruError).message).toBe(`cannot create the apply lock in ${path.join(blocker, 'state')}: ENOTDIR`);
    expect((err as PassthruError).hint).toContain('PASSTHRU_STATE_DIR');
  });

  it('refuses a lock directory under /proc in bounded time (Node\'s recursive mkdir retried such a path forever)', async () => {
    const err = await acquireLock('hv1', { dir: '/proc/self/passthru-test/state', timeoutMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassthruError);
    expect((err as PassthruError).message).toMatch(/^cannot create the apply lock in \/proc\/self\/passthru-test\/state: /);
  }, 10_000);

  it('takes over a lock whose owner died, and says whose it was', async () => {
    const stale: LockOwner = { pid: deadPid(), hostname: hostname(), startedAt: '2025-01-01T00:00:00.000Z', host: 'hv1' };
    expect(isStale(stale)).toBe(true);
    await writeFile(lockPath(dir, 'hv1'), JSON.stringify(stale));
    const lock = await acquireLock('hv1', { dir, timeoutMs: 0 });
    expect(lock.tookOverFrom).toEqual(stale);
    expect(lock.owner.pid).toBe(process.pid);
    await lock.release();
  });

  it('never takes over a lock of another machine or of a live process', async () => {
    expect(isStale({ pid: deadPid(), hostname: 'other-host', startedAt: '', host: 'hv1' })).toBe(false);
    expect(isStale({ pid: process.pid, hostname: hostname(), startedAt: '', host: 'hv1' })).toBe(false);
  });

  it('waits for a live owner and gets the lock once it is released', async () => {
    const first = await acquireLock('hv1', { dir, timeoutMs: 0 });
    const waited: LockOwner[] = [];
    const second = acquireLock('hv1', { dir, timeoutMs: 5000, pollMs: 10, onWait: (o) => waited.push(o) });
    await new Promise((r) => setTimeout(r, 50));
    await first.release();
    const lock = await second;
    expect(waited).toEqual([first.owner]);
    await lock.release();
  });

  it('names an unreadable lock file in the timeout error instead of breaking it', async () => {
    await writeFile(lockPath(dir, 'hv1'), 'garbage');
    const err = (await acquireLock('hv1', { dir, timeoutMs: 0 }).catch((e: unknown) => e)) as LockTimeoutError;
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.owner).toBeNull();
    expect(err.hint).toBe(`if no apply is running, remove ${lockPath(dir, 'hv1')}`);
  });

  it('maps any host name to one file inside the directory', () => {
    expect(lockPath('/run/passthru', 'hv1')).toBe('/run/passthru/hv1.lock');
    expect(lockPath('/run/passthru', '../etc/x')).toBe('/run/passthru/%2E.%2Fetc%2Fx.lock');
    expect(path.dirname(lockPath('/run/passthru', '..'))).toBe('/run/passthru');
  });
});
