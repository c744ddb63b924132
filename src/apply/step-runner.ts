/**
 * Runs one step of the action table against a host: the XML into a temp file, one virsh process with a timeout,
 * a fresh observation of the target to judge it, and a journal line before and after every attempt. Shared by the
 * forward run (`execute.ts`) and the rollback (`rollback.ts`), which therefore never import each other.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../io/clock.js';
import type { Driverctl } from '../io/driverctl.js';
import { describeExit, type Virsh, type VirshRunResult } from '../io/virsh.js';
import { HostError } from '../errors.js';
import type { StepResult } from '../model/apply-report.js';
import type { Action } from '../model/plan.js';
import { XML_FILE, opSubject, type LocalChange, type Op } from '../plan/action-steps.js';
import type { Journal, JournalEntry } from './journal.js';
import { formatDuration } from '../model/duration.js';
import { comebackRemedies } from '../plan/device-recovery.js';
import { verify, virshError, type TargetObserver } from './target.js';

/** Called around each step so the CLI can print `[2/5] nodedev-detach 0000:07:00.0 ... ok (0.62s)`. */
export interface ProgressHooks {
  preStep?(i: number, n: number, action: Action): void;
  postStep?(i: number, n: number, action: Action, result: StepResult): void;
  /** Around each undo: `i` counts undos, `n` is how many there are, `label` says what is undone. */
  preUndo?(i: number, n: number, label: string): void;
  postUndo?(i: number, n: number, result: StepResult): void;
}

/** Runs ops against one host: temp files for XML, the timeout, journaling and verification. */
export interface StepRunner {
  run(op: Op, step: number, phase: JournalEntry['phase']): Promise<StepResult>;
  readonly journal: Journal;
  readonly target: TargetObserver;
  /** Steps in the plan (the journal's `of`). */
  readonly total: number;
  /** Milliseconds since `since` (a value of `now()`), on the deps' clock. */
  elapsed(since: number): number;
  now(): number;
}

/** What a runner needs: the host's URI, the world, and where XML files go. */
export interface StepRunnerOptions {
  uri: string;
  virsh: Virsh;
  /** Runs the binding steps (SPEC 10); a plan with one fails that step when it is missing. */
  driverctl?: Driverctl;
  target: TargetObserver;
  journal: Journal;
  clock: Clock;
  /** Per virsh (or driverctl) process. */
  timeoutMs: number;
  /** A private directory that receives the XML files handed to virsh. */
  tempDir: string;
  total: number;
  /** How long a reattached device may take to show its host driver. Default DEFAULT_DRIVER_SETTLE. */
  driverSettle?: DriverSettle;
}

/**
 * The bounded wait after `nodedev-reattach` for the device's driver link to become what is expected: the kernel
 * probes drivers asynchronously for some devices, so one reading right after virsh returns may be early.
 */
export interface DriverSettle {
  /** Readings after the first one. */
  polls: number;
  intervalMs: number;
  sleep(ms: number): Promise<void>;
}

/** 5 s in quarter seconds. */
export const DEFAULT_DRIVER_SETTLE: DriverSettle = { polls: 20, intervalMs: 250, sleep: (ms) => sleep(ms) };

/** The runner for one host. */
export function createStepRunner(o: StepRunnerOptions): StepRunner {
  const now = () => o.clock.now().getTime();
  const elapsed = (since: number) => now() - since;
  let files = 0;
  return {
    journal: o.journal,
    target: o.target,
    total: o.total,
    now,
    elapsed,
    async run(op, step, phase) {
      const started = now();
      const base = { step, of: o.total, phase, ...opSubject(op) };
      // What the messages name: a local SR-IOV step is passthru changing the host's files itself, not a virsh command.
      const tool = op.local ? `passthru (${op.local.what})` : (op.tool ?? 'virsh');
      // The journal names driverctl's commands with the program: an argv alone would read as virsh's.
      let args = op.tool === 'driverctl' ? ['driverctl', ...op.args] : op.args;
      if (op.xml !== undefined) {
        const file = path.join(o.tempDir, `step-${++files}.xml`);
        await writeFile(file, op.xml);
        args = op.args.map((a) => (a === XML_FILE ? file : a));
      }
      const earlierAttempts: string[] = [];
      for (let attempt = 1; ; attempt++) {
        const attemptStarted = now();
        await o.journal.record({ ...base, attempt, command: args, ...(op.xml ? { xml: op.xml } : {}), result: 'started', exitCode: null, error: null, durationMs: 0 });
        // A virsh that cannot even start (HostError) fails the step like any other error, so rollback still runs.
        const r = await runTool(o, op, args).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
        const settle = op.kind === 'nodedev-reattach' ? (o.driverSettle ?? DEFAULT_DRIVER_SETTLE) : null;
        const outcome = r instanceof Error ? { error: r.message, note: null, retryable: false } : await judge(op, tool, r, o.target, o.timeoutMs, settle);
        const exitCode = r instanceof Error || r.timedOut ? null : r.exitCode;
        await o.journal.record({ ...base, attempt, command: args, result: outcome.error === null ? 'ok' : 'failed', exitCode, error: outcome.error, durationMs: elapsed(attemptStarted) });
        if (outcome.retryable && attempt <= op.retries) {
          earlierAttempts.push(outcome.error as string);
          continue;
        }
        const notBack = op.kind === 'nodedev-reattach' && outcome.error !== null && op.address !== undefined ? op.address : null;
        return {
          step,
          kind: op.kind,
          label: op.label,
          ok: outcome.error === null,
          attempts: attempt,
          earlierAttempts,
          command: args,
          exitCode,
          error: outcome.error,
          note: outcome.note,
          // A reattach that failed leaves a device that did not come back: the report says so, with what to do.
          ...(notBack === null ? {} : { remedies: comebackRemedies(notBack, op.expect.what === 'driver' ? op.expect.is : null) }),
          durationMs: elapsed(started),
        };
      }
    },
  };
}

/**
 * Carries out a step on the local host's files (an SR-IOV count) and reports it as virsh would have: exit 0, or 1
 * with the error on stderr, so that it is judged, journaled and rolled back like every other step.
 */
async function runLocal(change: LocalChange, args: string[], target: TargetObserver): Promise<VirshRunResult> {
  const started = Date.now();
  const result = (exitCode: number, stderr: string): VirshRunResult => ({ exitCode, signal: null, stdout: '', stderr, timedOut: false, command: args, durationMs: Date.now() - started });
  if (!target.sriov) return result(1, `error: ${change.what} changes the local host's sysfs, and this host is remote`);
  try {
    if (change.what === 'set-numvfs') await target.sriov.setNumVfs(change.pf, change.to);
    else await target.sriov.persist(change.pf, change.to);
    return result(0, '');
  } catch (err) {
    return result(1, `error: ${(err as Error).message}`);
  }
}

/**
 * Starts the step: virsh connected to the host, driverctl (whose argv `args` begins with its name), or a change of the
 * local host's files.
 */
function runTool(o: StepRunnerOptions, op: Op, args: string[]): Promise<VirshRunResult> {
  if (op.local) return runLocal(op.local, args, o.target);
  if (op.tool !== 'driverctl') return o.virsh.run(o.uri, args, { timeoutMs: o.timeoutMs });
  if (!o.driverctl) return Promise.reject(new HostError(`${op.label} needs driverctl, which this apply was not given`));
  return o.driverctl.run(args.slice(1), { timeoutMs: o.timeoutMs });
}

interface Judgement {
  error: string | null;
  note: string | null;
  /** Virsh said it worked but the state did not follow: worth the seed's one retry. */
  retryable: boolean;
}

/**
 * Decides a step from the tool's result and a fresh observation of the target; with `settle`, a success whose
 * expectation does not hold yet is read again, a bounded number of times, before it is judged.
 */
async function judge(
  op: Op,
  tool: string,
  r: Pick<VirshRunResult, 'exitCode' | 'signal' | 'stderr' | 'timedOut'>,
  target: TargetObserver,
  timeoutMs: number,
  settle: DriverSettle | null,
): Promise<Judgement> {
  if (r.timedOut) return { error: `timed out after ${formatDuration(timeoutMs)}`, note: null, retryable: false };
  const message = r.exitCode === 0 ? null : (virshError(r.stderr) ?? `${tool} ${describeExit(r)}`);
  if (message !== null && !op.alreadyDone?.test(message)) return { error: message, note: null, retryable: false };
  let verdict;
  try {
    verdict = await verify(op.expect, target);
    for (let k = 0; message === null && !verdict.holds && k < (settle?.polls ?? 0); k++) {
      await settle?.sleep(settle.intervalMs);
      verdict = await verify(op.expect, target);
    }
  } catch (err) {
    return { error: `could not verify: ${(err as Error).message}`, note: null, retryable: false };
  }
  if (verdict.holds) return { error: null, note: message ?? verdict.note, retryable: false };
  if (message !== null) return { error: message, note: null, retryable: false };
  return { error: `${tool} reported success but ${verdict.observed} (expected ${verdict.expected})`, note: null, retryable: true };
}
