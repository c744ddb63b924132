/**
 * One host's apply as the CLI runs it: take the host's lock, open the journal, execute (with rollback), and always
 * close the journal and release the lock. Kept apart from `execute.ts` so the executor stays testable without
 * files, and so that every caller gets the lock → journal → execute order right.
 */
import { PassthruError } from '../errors.js';
import type { HostPlan } from '../model/plan.js';
import type { ApplyReport } from '../model/apply-report.js';
import type { ExecuteDeps } from './execute.js';
import { executeHostPlan } from './execute.js';
import { openJournal } from './journal.js';
import { acquireLock } from './lock.js';
import type { LockOptions, LockOwner } from './lock.js';

/** The executor's dependencies, with the journal given as a file and the lock's settings. */
export interface ApplyHostDeps extends Omit<ExecuteDeps, 'journal'> {
  /** JSONL journal file (`defaultJournalPath()` in the CLI). */
  journalPath: string;
  lock: LockOptions;
  /** Called when a stale lock (its owner died) was taken over, so the user learns of the crashed run. */
  onStaleLock?: (owner: LockOwner) => void;
  /**
   * Runs once the lock is held, before any step: what changed on the host since the plan was made (empty = the
   * plan still holds). Another apply may have finished while this one waited for the lock; a non-empty answer
   * refuses the plan as stale instead of running steps against a host that moved.
   */
  precheck?: () => Promise<string[]>;
}

/** The host changed between plan and lock: the plan is refused, nothing was run. */
class StalePlanError extends PassthruError {}

/** Applies `plan` under its host's lock. Throws LockTimeoutError when another apply keeps the lock too long. */
export async function applyHost(plan: HostPlan, deps: ApplyHostDeps): Promise<ApplyReport> {
  const lock = await acquireLock(plan.name, { clock: deps.clock, ...deps.lock });
  try {
    if (lock.tookOverFrom) deps.onStaleLock?.(lock.tookOverFrom);
    const moved = (await deps.precheck?.()) ?? [];
    if (moved.length > 0) {
      throw new StalePlanError(`host ${plan.name} changed since the plan was made:\n${moved.map((m) => `  - ${m}`).join('\n')}`, {
        hint: 'run passthru plan again and review it',
      });
    }
    const journal = await openJournal(deps.journalPath, plan.name, deps.clock);
    try {
      return await executeHostPlan(plan, { ...deps, journal });
    } finally {
      await journal.close();
    }
  } finally {
    await lock.release();
  }
}
