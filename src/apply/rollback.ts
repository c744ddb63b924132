/**
 * Undoing a partial apply. Every action's undo (from the action table) is itself a verified step; undos run in
 * reverse order, and afterwards the host is observed once more so that the report states where it really stands,
 * not where the undo commands claimed to leave it.
 */
import type { StepResult } from '../model/apply-report.js';
import type { Action } from '../model/plan.js';
import { opSubject, undoOp, type Expectation, type Op } from '../plan/action-steps.js';
import type { ProgressHooks, StepRunner } from './step-runner.js';
import { verify } from './target.js';

/** The rollback part of an ApplyReport. */
export interface RollbackOutcome {
  rollback: StepResult[];
  restored: boolean;
  leftovers: string[];
}

/**
 * Undoes `touched` (the completed steps and the failed or interrupted one, in plan order) in reverse. An undo whose
 * target is already as before is skipped: that is how a failed step that changed nothing is told from a half-done
 * one.
 */
export async function rollback(touched: readonly Action[], runner: StepRunner, hooks?: ProgressHooks): Promise<RollbackOutcome> {
  const results: StepResult[] = [];
  const m = touched.length;
  for (let k = m - 1; k >= 0; k--) {
    const op = undoOp(touched[k] as Action);
    const j = m - k;
    hooks?.preUndo?.(j, m, op.label);
    const pf = goesWithItsPf(touched[k] as Action, touched);
    const result =
      pf !== null
        ? await nothingToUndo(op, k + 1, runner, `nothing to undo: the VF goes when set-numvfs ${pf} is undone`)
        : ((await alreadyUndone(op, k + 1, runner)) ?? (await runner.run(op, k + 1, 'rollback')));
    results.push(result);
    hooks?.postUndo?.(j, m, result);
  }
  const leftovers = await whatIsLeft(touched, runner);
  return { rollback: results, restored: leftovers.length === 0, leftovers };
}

/**
 * The PF when `action` detached a VF that a `set-numvfs` among `touched` created: undoing that count destroys the
 * VF, and a reattach first would be judged against "no driver" while a real VF comes back on its VF driver (igbvf).
 */
function goesWithItsPf(action: Action, touched: readonly Action[]): string | null {
  if (action.kind !== 'nodedev-detach' || action.createdWith === undefined) return null;
  const pf = action.createdWith;
  return touched.some((t) => t.kind === 'set-numvfs' && t.address === pf) ? pf : null;
}

/** A result for an undo with nothing to do, journaled; null when there is something to undo (or it is unknown). */
async function alreadyUndone(op: Op, step: number, runner: StepRunner): Promise<StepResult | null> {
  const started = runner.now();
  const verdict = await verify(op.expect, runner.target).catch(() => null);
  if (!verdict?.holds) return null;
  return nothingToUndo(op, step, runner, 'nothing to undo', started);
}

/** Journals and returns an undo that runs no command (`note` says why). */
async function nothingToUndo(op: Op, step: number, runner: StepRunner, note: string, started = runner.now()): Promise<StepResult> {
  const durationMs = runner.elapsed(started);
  await runner.journal.record({
    step,
    of: runner.total,
    phase: 'rollback',
    ...opSubject(op),
    attempt: 0,
    command: null,
    result: 'ok',
    exitCode: null,
    error: null,
    durationMs,
  });
  return { step, kind: op.kind, label: op.label, ok: true, attempts: 0, earlierAttempts: [], command: null, exitCode: null, error: null, note, durationMs };
}

/** What an expectation is about: one device's binding, persisted override or VF count, one hostdev or one NIC of one domain. */
function targetOf(e: Expectation): string {
  if (e.what === 'driver' || e.what === 'released') return `driver ${e.address}`;
  if (e.what === 'numvfs' || e.what === 'numvfs-persisted') return `${e.what} ${e.address}`;
  if (e.what === 'persisted') return `persisted ${e.address}`;
  return `${e.what} ${e.uuid} ${e.what === 'hostdev' ? e.address : e.mac.toLowerCase()}`;
}

/**
 * Observes the target of every touched step again; each one not back in its old state is a line. A target that
 * several steps changed (a `managed` change detaches, then re-attaches, one hostdev) must be as it was before the
 * FIRST of them: the later steps' undos describe states in between.
 */
async function whatIsLeft(touched: readonly Action[], runner: StepRunner): Promise<string[]> {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const action of touched) {
    const op = undoOp(action);
    const target = targetOf(op.expect);
    if (seen.has(target)) continue;
    seen.add(target);
    try {
      const v = await verify(op.expect, runner.target);
      if (!v.holds) lines.push(`${v.observed} (was ${v.expected})`);
    } catch (err) {
      lines.push(`unknown whether ${op.label} is needed: ${(err as Error).message}`);
    }
  }
  return lines;
}
