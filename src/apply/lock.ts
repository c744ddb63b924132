/**
 * One apply per host at a time. Two applies interleaving their detach/attach steps on one host would each verify
 * and roll back against state the other is changing, so the second waits for the first, or gives up naming it.
 *
 * The lock is a file per host holding its owner's JSON. It is created complete and atomically: the content is
 * written to a private file first, then hard-linked to the lock name (`link` fails with EEXIST like `open(wx)`,
 * but a reader can never see a half-written lock). A lock whose owner process is gone from this machine is stale
 * and is taken over.
 */
import { hostname as osHostname } from 'node:os';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassthruError } from '../errors.js';
import { formatDuration } from '../model/duration.js';
import { systemClock } from '../io/clock.js';
import type { Clock } from '../io/clock.js';
import { interruptionText } from '../io/interrupts.js';
import { errorCode } from '../io/error-code.js';
import { makeDirs } from '../io/make-dirs.js';

/** Default directory of lock files; `PASSTHRU_STATE_DIR` overrides it. */
const DEFAULT_STATE_DIR = '/run/passthru';

/** The lock directory for this environment. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PASSTHRU_STATE_DIR || DEFAULT_STATE_DIR;
}

/** Who holds a host's lock: the content of the lock file. */
export interface LockOwner {
  pid: number;
  /** The machine the owner runs on: a PID is only meaningful there. */
  hostname: string;
  /** ISO time the owner took the lock. */
  startedAt: string;
  /** The passthru host name (the lock's subject). */
  host: string;
}

/** A held lock. */
export interface HostLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** The owner of the stale lock this one replaced, for the "taken over" message; null when there was none. */
  readonly tookOverFrom: LockOwner | null;
  /** Removes the lock file, if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

/** How long to wait and where the locks live. */
export interface LockOptions {
  /** Give up after this long; 0 = try once. */
  timeoutMs: number;
  /** How often to look again while waiting (default 200 ms). */
  pollMs?: number;
  /** Default `defaultStateDir()`. */
  dir?: string;
  clock?: Clock;
  /** Called once, when the lock is found held by a live owner and waiting begins (the CLI prints it). */
  onWait?: (owner: LockOwner) => void;
  /** Gives up waiting when aborted (Ctrl-C): nothing has been changed yet, so there is nothing to roll back. */
  signal?: AbortSignal;
}

/** The lock is held by another apply and did not come free within the timeout. */
export class LockTimeoutError extends PassthruError {
  /** The holder, or null when the lock file could not be read (not passthru's JSON). */
  readonly owner: LockOwner | null;
  readonly lockPath: string;
  constructor(host: string, lockPath: string, owner: LockOwner | null, waitedMs: number) {
    const who = owner
      ? `PID ${owner.pid} on ${owner.hostname}, started ${owner.startedAt}`
      : `an owner passthru cannot read (${lockPath} is not a passthru lock)`;
    super(`another apply holds the lock of host "${host}": ${who}; gave up after ${formatDuration(waitedMs)}`, {
      hint: owner
        ? `wait for it to finish (--lock-timeout 5m), or, if that process is gone, remove ${lockPath}`
        : `if no apply is running, remove ${lockPath}`,
    });
    this.owner = owner;
    this.lockPath = lockPath;
  }
}

/** The lock file of `host` in `dir`: the host name is encoded, so any name is one safe file name. */
export function lockPath(dir: string, host: string): string {
  return path.join(dir, `${encodeURIComponent(host).replace(/^\./, '%2E')}.lock`);
}

/**
 * Takes the lock of `host`, waiting up to `timeoutMs` for a live owner to release it. A stale lock (owner PID gone
 * from this machine) is taken over at once and reported in `tookOverFrom`. Throws LockTimeoutError on timeout, and a
 * PassthruError with the remedy when the lock directory cannot be written.
 */
export async function acquireLock(host: string, options: LockOptions): Promise<HostLock> {
  const dir = options.dir ?? defaultStateDir();
  const clock = options.clock ?? systemClock;
  const file = lockPath(dir, host);
  await makeDirs(dir).catch((err: unknown) => {
    throw unusableStateDir(dir, err);
  });
  const owner: LockOwner = { pid: process.pid, hostname: osHostname(), startedAt: clock.now().toISOString(), host };
  const content = `${JSON.stringify(owner)}\n`;
  const started = Date.now();
  let tookOverFrom: LockOwner | null = null;
  let waiting = false;
  for (;;) {
    if (await tryCreate(file, content)) {
      return { path: file, owner, tookOverFrom, release: () => releaseIfOurs(file, content) };
    }
    const held = await readOwner(file);
    if (held === 'gone') continue;
    if (held !== null && isStale(held)) {
      if (await removeStale(file, held)) tookOverFrom = held;
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) throw new LockTimeoutError(host, file, held, waited);
    if (!waiting && held !== null) options.onWait?.(held);
    waiting = true;
    await sleep(Math.min(options.pollMs ?? 200, options.timeoutMs - waited), undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted) {
      throw new PassthruError(`${interruptionText(options.signal)} while waiting for the lock of host "${host}"; nothing was changed`);
    }
  }
}

/**
 * The lock directory cannot be written (not root, a read-only /run, a file in the way): the user's to fix, so a
 * message with the remedy rather than an internal error.
 */
function unusableStateDir(dir: string, err: unknown): PassthruError {
  return new PassthruError(`cannot create the apply lock in ${dir}: ${errorCode(err) ?? String(err)}`, {
    hint: 'run apply as root, or point PASSTHRU_STATE_DIR at a writable directory',
  });
}

/** Creates `file` with `content` unless it exists. */
async function tryCreate(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(temp, content, { flag: 'wx' }).catch((err: unknown) => {
    throw unusableStateDir(path.dirname(file), err);
  });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp);
  }
}

/** The owner in a lock file; 'gone' when it vanished meanwhile; null when it is not passthru's JSON. */
async function readOwner(file: string): Promise<LockOwner | 'gone' | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.hostname === 'string' && typeof o.startedAt === 'string'
      ? { pid: o.pid, hostname: o.hostname, startedAt: o.startedAt, host: String(o.host) }
      : null;
  } catch {
    return null;
  }
}

/**
 * True when the owner is provably dead: it ran on this machine and its PID no longer exists. An owner on another
 * machine (a shared state dir) cannot be checked and is never stale. A reused PID keeps the lock held: the
 * timeout error then names it, and the operator decides.
 */
export function isStale(owner: LockOwner): boolean {
  if (owner.hostname !== osHostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return errorCode(err) === 'ESRCH';
  }
}

/**
 * Removes a stale lock, unless another process replaced it since it was read: the file is first moved aside
 * (atomic), and put back if what was moved is not the stale owner's. Returns whether the stale lock was removed.
 */
async function removeStale(file: string, stale: LockOwner): Promise<boolean> {
  const aside = `${file}.stale.${process.pid}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
  const moved = await readOwner(aside);
  const same = moved !== null && moved !== 'gone' && moved.pid === stale.pid && moved.startedAt === stale.startedAt;
  if (same) {
    await unlink(aside);
    return true;
  }
  // A live lock was taken meanwhile: give it back (link, so a newer lock is never overwritten).
  await link(aside, file).catch(() => undefined);
  await unlink(aside);
  return false;
}

/** Removes `file` when it still holds exactly our content (a takeover by someone else is theirs to release). */
async function releaseIfOurs(file: string, content: string): Promise<void> {
  try {
    if ((await readFile(file, 'utf8')) === content) await unlink(file);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}
