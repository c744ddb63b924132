/**
 * Carries out one host's plan: each action's forward step from the action table, as one virsh process with a
 * timeout, verified by observing its target again, journaled before the next starts. The first failure — or an
 * interruption (Ctrl-C, SIGTERM) — stops the run and everything done so far is rolled back (`rollback.ts`), so the
 * host ends where it was, or the report says exactly where it is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { interruptionText } from '../io/interrupts.js';
import type { Driverctl } from '../io/driverctl.js';
import type { Virsh } from '../io/virsh.js';
import type { ApplyFailure, ApplyReport, StepResult } from '../model/apply-report.js';
import type { Action, HostPlan } from '../model/plan.js';
import { forwardOp } from '../plan/action-steps.js';
import type { Journal } from './journal.js';
import { rollback } from './rollback.js';
import { createStepRunner, type DriverSettle, type ProgressHooks, type StepRunner } from './step-runner.js';
import type { TargetObserver } from './target.js';

/** Default timeout of one virsh process: `nodedev-detach` resets the device, which can take many seconds. */
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;

/** What `executeHostPlan` needs from the outside world. */
export interface ExecuteDeps {
  virsh: Virsh;
  /** Runs the `persist-binding` / `unpersist-binding` steps (SPEC 10). */
  driverctl?: Driverctl;
  target: TargetObserver;
  journal: Journal;
  /** Times steps, so that durations in reports are reproducible under a test clock. */
  clock: Clock;
  hooks?: ProgressHooks;
  /** Per virsh process (commands and verification reads). Default DEFAULT_STEP_TIMEOUT_MS. */
  stepTimeoutMs?: number;
  /** The wait for a reattached device's host driver (default: 5 s). */
  driverSettle?: DriverSettle;
  /**
   * Observes the whole host after the last step and returns what still differs from the desired state (the
   * lines of a fresh plan); non-empty fails the apply, which is then rolled back (SPEC 6).
   */
  finalCheck?: () => Promise<string[]>;
  /**
   * Aborted when the apply is to stop (the CLI wires SIGINT/SIGTERM/SIGHUP to it; its `reason` names the signal).
   * No step starts after it aborts; the step in flight runs to its end or its timeout, and everything done is
   * rolled back as for a failure. The rollback itself is never cut short.
   */
  signal?: AbortSignal;
}

/** Exit code the CLI returns for a report (SPEC 4): 0 applied, 1 failed and restored, 3 failed and not restored. */
export function applyExitCode(report: ApplyReport): ExitCode {
  if (report.ok) return ExitCode.ok;
  return report.restored ? ExitCode.error : ExitCode.rollbackFailed;
}

/**
 * Applies `plan` to its host, in order, stopping at the first failure or interruption and rolling back. Never
 * throws for a failed step (the report says); throws only when the journal cannot be written, since then nothing
 * may run unrecorded.
 */
export async function executeHostPlan(plan: HostPlan, deps: ExecuteDeps): Promise<ApplyReport> {
  // Building every step first means a malformed plan fails before the host is touched.
  const ops = plan.actions.map(forwardOp);
  const n = ops.length;
  const tempDir = await mkdtemp(path.join(tmpdir(), 'passthru-apply-'));
  const runner = createStepRunner({ ...deps, uri: plan.uri, timeoutMs: deps.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, tempDir, total: n });
  const steps: StepResult[] = [];
  let failure: ApplyFailure | null = null;
  const interrupted = async () => (deps.signal?.aborted ? await interruption(deps.signal, steps.length, runner) : null);
  try {
    for (const [k, op] of ops.entries()) {
      failure = await interrupted();
      if (failure) break;
      const action = plan.actions[k] as Action;
      deps.hooks?.preStep?.(k + 1, n, action);
      const result = await runner.run(op, k + 1, 'apply');
      steps.push(result);
      deps.hooks?.postStep?.(k + 1, n, action, result);
      if (!result.ok) {
        failure = { kind: 'step', step: k + 1, action, error: result.error ?? 'failed' };
        break;
      }
    }
    // Interrupted during the last step or the final check: rolled back all the same, as the operator asked to stop.
    failure ??= await interrupted();
    if (!failure && deps.finalCheck) failure = await finalCheck(deps.finalCheck, runner);
    failure ??= await interrupted();
    if (!failure) return { host: plan.name, uri: plan.uri, ok: true, steps, failure: null, rollback: [], restored: true, leftovers: [] };
    // The failed (or interrupted) step is undone too: it may have half-happened (a device unbound but not rebound).
    const outcome = await rollback(plan.actions.slice(0, steps.length), runner, deps.hooks);
    return { host: plan.name, uri: plan.uri, ok: false, steps, failure, ...outcome };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** The failure an interruption makes, journaled so that the rollback that follows reads as asked for. */
async function interruption(signal: AbortSignal, done: number, runner: StepRunner): Promise<ApplyFailure> {
  const error = interruptionText(signal);
  await runner.journal.record({ step: done, of: runner.total, phase: 'apply', kind: 'interrupted', attempt: 0, command: null, result: 'failed', exitCode: null, error, durationMs: 0 });
  return { kind: 'interrupted', step: null, action: null, error };
}

async function finalCheck(check: () => Promise<string[]>, runner: StepRunner): Promise<ApplyFailure | null> {
  const started = runner.now();
  let error: string | null;
  try {
    const remaining = await check();
    error = remaining.length === 0 ? null : `after the last step the host still differs: ${remaining.join('; ')}`;
  } catch (err) {
    error = `could not check the host after the last step: ${(err as Error).message}`;
  }
  await runner.journal.record({
    step: runner.total,
    of: runner.total,
    phase: 'verify',
    kind: 'final-check',
    attempt: 1,
    command: null,
    result: error === null ? 'ok' : 'failed',
    exitCode: null,
    error,
    durationMs: runner.elapsed(started),
  });
  return error === null ? null : { kind: 'final-check', step: null, action: null, error };
}
