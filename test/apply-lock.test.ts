/**
 * Two applies at once on one host: the one that comes second waits for the lock, gives up with a typed error
 * naming the owner when its timeout is short, and never runs a step while the first holds the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { applyHost } from '../src/apply/apply-host.js';
import { readJournal } from '../src/apply/journal.js';
import { LockTimeoutError } from '../src/apply/lock.js';
import type { LockOwner } from '../src/apply/lock.js';
import { AFTER, freshCase } from './helpers/fake-virsh/apply-lab.js';
import type { ApplyCase } from './helpers/fake-virsh/apply-lab.js';
import { libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-lock: ${unavailable}`);

describe.skipIf(unavailable !== null)('one apply per host at a time', () => {
  let libvirtd: PrivateLibvirtd;
  let c: ApplyCase;

  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
    c = await freshCase(libvirtd);
  });
  afterAll(async () => {
    await libvirtd?.stop();
    await c?.dispose();
  });

  it('makes the second apply wait, time out with the owner named, or run after the first', async () => {
    const journalPath = path.join(c.dir, 'journal.jsonl');
    const lock = { dir: path.join(c.dir, 'locks'), pollMs: 50 };
    const deps = (timeoutMs: number, onWait?: (o: LockOwner) => void) => ({
      ...c.deps,
      journalPath,
      lock: { ...lock, timeoutMs, ...(onWait ? { onWait } : {}) },
    });
    // The first apply's step 2 is held in flight, so it holds the host while the others come; then it fails and the
    // first rolls back. (Held rather than hung into a tight step timeout: under load the rollback's own step could
    // outlast such a timeout too, and the rollback then reported restored: false.)
    await c.fake.setFaults([{ call: 2, mode: 'hold' }]);
    const first = applyHost(c.plan, deps(0));
    while ((await c.fake.calls()).filter((x) => x.call !== null).length < 2) await new Promise((r) => setTimeout(r, 20));

    const waitedFor: LockOwner[] = [];
    const third = applyHost(c.plan, deps(60_000, (o) => waitedFor.push(o)));
    const second = await applyHost(c.plan, deps(300)).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(LockTimeoutError);
    const err = second as LockTimeoutError;
    expect(err.owner?.pid).toBe(process.pid);
    expect(err.message).toContain(`PID ${process.pid}`);
    expect(err.message).toContain(err.owner?.startedAt);
    while (waitedFor.length === 0) await new Promise((r) => setTimeout(r, 20));
    await c.fake.release('fail');

    const firstReport = await first;
    expect(firstReport).toMatchObject({ ok: false, restored: true });
    const thirdReport = await third;
    expect(thirdReport.ok).toBe(true);
    expect(waitedFor).toHaveLength(1);
    expect(await c.observe()).toEqual(AFTER);

    // Two runs in the journal, not interleaved: all of the first's lines, then all of the third's.
    const runs = (await readJournal(journalPath)).entries.map((e) => e.runId);
    const distinct = [...new Set(runs)];
    expect(distinct).toHaveLength(2);
    const firstRun = runs.filter((r) => r === distinct[0]).length;
    expect(runs.slice(0, firstRun).every((r) => r === distinct[0])).toBe(true);
    expect(runs.slice(firstRun).every((r) => r === distinct[1])).toBe(true);
  });
});
