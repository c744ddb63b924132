/**
 * Carries out one host's plan: each action as one virsh process with a timeout, verified by observing its target
 * again, journaled before the next starts. The first failure stops the run and everything done so far is rolled
 * back (`rollback.ts`), so the host ends where it was, or the report says exactly where it is.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { describeExit, type Virsh, type VirshRunResult } from '../io/virsh.js';
import type { Action, HostPlan } from '../model/plan.js';
import type { Journal, JournalEntry } from './journal.js';
import { formatDuration } from './lock.js';
import { rollback } from './rollback.js';
import { XML_FILE, forwardOp, opSubject, verify } from './steps.js';
import type { Op } from './steps.js';
import type { TargetObserver } from './target.js';
import { virshError } from './target.js';

/** Default timeout of one virsh process: `nodedev-detach` resets the device, which can take many seconds. */
const DEFAULT_STEP_TIMEOUT_MS = 120_000;

/** The outcome of one step (a planned action, or an undo during rollback). */
export interface StepResult {
  /** 1-based position in the plan; for an undo, the position of the step it undoes. */
  step: number;
  kind: JournalEntry['kind'];
  /** For humans: `nodedev-detach 0000:07:00.0`. */
  label: string;
  ok: boolean;
  /** Commands run: 0 when an undo found nothing to undo, 2 after the seed's detach retry. */
  attempts: number;
  /** The last virsh argv run (without the connection), or null when none ran. */
  command: string[] | null;
  exitCode: number | null;
  /** virsh's short message, `timed out after 2m`, or what verification observed instead. */
  error: string | null;
  /** A remark on a success, e.g. "already in the domain configuration" or "no host driver claimed it". */
  note: string | null;
  durationMs: number;
}

/** Called around each step so the CLI can print `[2/5] nodedev-detach 0000:07:00.0 ... ok (0.62s)`. */
export interface ProgressHooks {
  preStep?(i: number, n: number, action: Action): void;
  postStep?(i: number, n: number, action: Action, result: StepResult): void;
  /** Around each undo: `i` counts undos, `n` is how many there are, `label` says what is undone. */
  preUndo?(i: number, n: number, label: string): void;
  postUndo?(i: number, n: number, result: StepResult): void;
}

/** What `executeHostPlan` needs from the outside world. */
export interface ExecuteDeps {
  virsh: Virsh;
  target: TargetObserver;
  journal: Journal;
  /** Times steps, so that durations in reports are reproducible under a test clock. */
  clock: Clock;
  hooks?: ProgressHooks;
  /** Per virsh process (commands and verification reads). Default DEFAULT_STEP_TIMEOUT_MS. */
  stepTimeoutMs?: number;
  /**
   * Observes the whole host after the last step and returns what still differs from the desired state (the
   * lines of a fresh plan); non-empty fails the apply, which is then rolled back (SPEC 6).
   */
  finalCheck?: () => Promise<string[]>;
}

/** Why an apply failed: a step (with its position), or the final check (step null). */
export interface ApplyFailure {
  step: number | null;
  action: Action | null;
  error: string;
}

/** Everything an apply did and where the host stands. */
export interface ApplyReport {
  host: string;
  uri: string;
  ok: boolean;
  /** The planned steps that ran, in order; the last one is the failed one when `failure.step` is set. */
  steps: StepResult[];
  failure: ApplyFailure | null;
  /** The undo steps, in the order they ran (reverse plan order). */
  rollback: StepResult[];
  /** True when the host was observed back in its state before the apply (always true on success). */
  restored: boolean;
  /** When not restored: each thing not as it was, e.g. `0000:07:00.0 is on vfio-pci (was igb)`. */
  leftovers: string[];
}

/** Exit code the CLI returns for a report (SPEC 4): 0 applied, 1 failed and restored, 3 failed and not restored. */
export function applyExitCode(report: ApplyReport): ExitCode {
  if (report.ok) return ExitCode.ok;
  return report.restored ? ExitCode.error : ExitCode.rollbackFailed;
}

/** Runs ops against one host: temp files for XML, the timeout, journaling and verification. */
export interface StepRunner {
  run(op: Op, step: number, phase: JournalEntry['phase']): Promise<StepResult>;
  readonly journal: Journal;
  readonly target: TargetObserver;
  readonly total: number;
  /** Milliseconds since `since` (a value of `now()`), on the deps' clock. */
  elapsed(since: number): number;
  now(): number;
}

/**
 * Applies `plan` to its host, in order, stopping at the first failure and rolling back. Never throws for a failed
 * step (the report says); throws only when the journal cannot be written, since then nothing may run unrecorded.
 */
export async function executeHostPlan(plan: HostPlan, deps: ExecuteDeps): Promise<ApplyReport> {
  // Building every step first means a malformed plan fails before the host is touched.
  const ops = plan.actions.map(forwardOp);
  const n = ops.length;
  const tempDir = await mkdtemp(path.join(tmpdir(), 'passthru-apply-'));
  const runner = stepRunner(plan.uri, deps, tempDir, n);
  const steps: StepResult[] = [];
  let failure: ApplyFailure | null = null;
  try {
    for (const [k, op] of ops.entries()) {
      const action = plan.actions[k] as Action;
      deps.hooks?.preStep?.(k + 1, n, action);
      const result = await runner.run(op, k + 1, 'apply');
      steps.push(result);
      deps.hooks?.postStep?.(k + 1, n, action, result);
      if (!result.ok) {
        failure = { step: k + 1, action, error: result.error ?? 'failed' };
        break;
      }
    }
    if (!failure && deps.finalCheck) failure = await finalCheck(deps.finalCheck, runner);
    if (!failure) return { host: plan.name, uri: plan.uri, ok: true, steps, failure: null, rollback: [], restored: true, leftovers: [] };
    // The failed step is undone too: it may have half-happened (a device unbound but not rebound, a timeout).
    const touched = failure.step === null ? plan.actions : plan.actions.slice(0, failure.step);
    const outcome = await rollback(touched, runner, deps.hooks);
    return { host: plan.name, uri: plan.uri, ok: false, steps, failure, ...outcome };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
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
  return error === null ? null : { step: null, action: null, error };
}

/** The runner for one host; `tempDir` receives the XML files handed to virsh. */
function stepRunner(uri: string, deps: ExecuteDeps, tempDir: string, total: number): StepRunner {
  const timeoutMs = deps.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const now = () => deps.clock.now().getTime();
  const elapsed = (since: number) => now() - since;
  let files = 0;
  return {
    journal: deps.journal,
    target: deps.target,
    total,
    now,
    elapsed,
    async run(op, step, phase) {
      const started = now();
      const base = { step, of: total, phase, ...opSubject(op) };
      let args = op.args;
      if (op.xml !== undefined) {
        const file = path.join(tempDir, `step-${++files}.xml`);
        await writeFile(file, op.xml);
        args = op.args.map((a) => (a === XML_FILE ? file : a));
      }
      let attempt = 0;
      for (;;) {
        attempt++;
        const attemptStarted = now();
        await deps.journal.record({ ...base, attempt, command: args, ...(op.xml ? { xml: op.xml } : {}), result: 'started', exitCode: null, error: null, durationMs: 0 });
        // A virsh that cannot even start (HostError) fails the step like any other error, so rollback still runs.
        const r = await deps.virsh.run(uri, args, { timeoutMs }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
        const outcome = r instanceof Error ? { error: r.message, note: null, retryable: false } : await judge(op, r, deps.target, timeoutMs);
        const retry = outcome.retryable && attempt <= op.retries;
        const result: StepResult = {
          step,
          kind: op.kind,
          label: op.label,
          ok: outcome.error === null,
          attempts: attempt,
          command: args,
          exitCode: r instanceof Error || r.timedOut ? null : r.exitCode,
          error: outcome.error,
          note: outcome.note,
          durationMs: elapsed(started),
        };
        await deps.journal.record({ ...base, attempt, command: args, result: result.ok ? 'ok' : 'failed', exitCode: result.exitCode, error: result.error, durationMs: elapsed(attemptStarted) });
        if (!retry) return result;
      }
    },
  };
}

interface Judgement {
  error: string | null;
  note: string | null;
  /** Virsh said it worked but the state did not follow: worth the seed's one retry. */
  retryable: boolean;
}

/** Decides a step from virsh's result and a fresh observation of the target. */
async function judge(op: Op, r: Pick<VirshRunResult, 'exitCode' | 'signal' | 'stderr' | 'timedOut'>, target: TargetObserver, timeoutMs: number): Promise<Judgement> {
  if (r.timedOut) return { error: `timed out after ${formatDuration(timeoutMs)}`, note: null, retryable: false };
  const message = r.exitCode === 0 ? null : (virshError(r.stderr) ?? `virsh ${describeExit(r)}`);
  if (message !== null && !op.alreadyDone?.test(message)) return { error: message, note: null, retryable: false };
  let verdict;
  try {
    verdict = await verify(op.expect, target);
  } catch (err) {
    return { error: `could not verify: ${(err as Error).message}`, note: null, retryable: false };
  }
  if (verdict.holds) return { error: null, note: message ?? verdict.note, retryable: false };
  if (message !== null) return { error: message, note: null, retryable: false };
  return { error: `virsh reported success but ${verdict.observed} (expected ${verdict.expected})`, note: null, retryable: true };
}
