/**
 * Applying a plan to every host it changes. Hosts are independent (SPEC 2, 12): each runs under its own lock
 * (apply-host.ts), is checked right after locking against the state it was planned from, and is planned afresh after
 * its last step. A host that cannot be applied (not observed, blocked, its lock held, its state moved) neither stops
 * nor hides the others: every host of the plan ends with a report or a refusal, and only then does this return.
 * The hosts with changes roll out in waves (`--batches`, waves.ts), at most `--parallelism` at once within a wave; a
 * wave starts only while the failed hosts so far are within `--max-failures`, and never after an interruption.
 */
import { ExitCode, HostError, PassthruError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { settleBounded } from '../io/bounded.js';
import { interruptionText } from '../io/interrupts.js';
import type { Ssh } from '../io/ssh.js';
import type { Driverctl } from '../io/driverctl.js';
import type { Virsh } from '../io/virsh.js';
import type { ApplyOutcome, ApplyReport, HostRefusal } from '../model/apply-report.js';
import type { DesiredHost, DesiredState } from '../model/desired.js';
import type { HostPlan, Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { desiredForHost } from '../desired/slice.js';
import { observeHost } from '../observe/observe-host.js';
import { planHost } from '../plan/plan-host.js';
import { describeAction } from '../render/action.js';
import { applyHost } from './apply-host.js';
import { applyExitCode } from './execute.js';
import type { LockOwner } from './lock.js';
import { staleHosts } from './saved-plan.js';
import type { ProgressHooks } from './step-runner.js';
import { hostTarget } from './target.js';
import { splitWaves, type BatchSize } from './waves.js';

/** Where a host's apply sits in a rollout of several waves (1-based), for its progress lines. */
export interface WavePosition {
  index: number;
  count: number;
}

/** What applying to many hosts needs: the world, the journal and lock settings, the rollout, the CLI's callbacks. */
export interface ApplyHostsDeps {
  virsh: Virsh;
  /** Reads remote hosts' host use for the pre- and post-checks, as observation did. Default: the real ssh. */
  ssh?: Ssh;
  /** Runs the binding steps of the local host (SPEC 10). */
  driverctl?: Driverctl;
  /** The local host's file tree (`--root`). */
  root: string;
  clock: Clock;
  journalPath: string;
  lockDir: string;
  lockTimeoutMs: number;
  /** At most this many hosts changed at once (`--parallelism`). */
  parallelism: number;
  /** The sizes of the waves (`--batches`); null: one wave. */
  batches: readonly BatchSize[] | null;
  /** Failed hosts tolerated before no further wave starts (`--max-failures`). */
  maxFailures: number;
  /** Per virsh process; default the executor's. */
  stepTimeoutMs?: number;
  /** Stops every host's apply (see ExecuteDeps.signal), and keeps any further wave from starting. */
  signal?: AbortSignal;
  /** Progress hooks of one host; `wave` is null when the rollout is a single wave. */
  hooks?(host: string, wave: WavePosition | null): ProgressHooks;
  /** A wave of several begins. */
  onWave?(wave: WavePosition, hosts: readonly string[]): void;
  /** A live apply holds the host's lock: waiting begins. */
  onWait?(host: string, owner: LockOwner): void;
  /** The lock of a dead apply was taken over. */
  onStaleLock?(host: string, owner: LockOwner): void;
}

/**
 * Applies each host of `plan` that has actions and can be applied; `snapshots` are what it was planned from. A host
 * not observed or blocked is refused up front and is in no wave (its problems are in the plan the operator saw).
 */
export async function applyHosts(plan: Plan, desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>, deps: ApplyHostsDeps): Promise<ApplyOutcome> {
  const refused = unapplyableHosts(plan);
  const waves = splitWaves(
    plan.hosts.filter((h) => h.actions.length > 0 && !refused.some((r) => r.host === h.name)),
    deps.batches,
  );
  const reports: ApplyReport[] = [];
  const failed: string[] = [];
  for (const [i, wave] of waves.entries()) {
    const position = { index: i + 1, count: waves.length };
    const stop = reasonToStop(deps, failed, position);
    if (stop) {
      refused.push(...wave.map((h) => ({ host: h.name, state: 'not-attempted' as const, error: new PassthruError(stop), wave: position.index })));
      continue;
    }
    if (waves.length > 1) deps.onWave?.(position, wave.map((h) => h.name));
    const settled = await settleBounded(wave, deps.parallelism, (h) => applyOne(h, desired, snapshots, deps, waves.length > 1 ? position : null));
    for (const [k, s] of settled.entries()) {
      const host = wave[k]?.name ?? '?';
      if (s.status === 'fulfilled') reports.push(s.value);
      else refused.push({ host, state: 'refused', error: asError(s.reason), wave: position.index });
      if (s.status === 'rejected' || !s.value.ok) failed.push(host);
    }
  }
  const order = (name: string) => plan.hosts.findIndex((h) => h.name === name);
  return {
    reports: reports.sort((a, b) => order(a.host) - order(b.host)),
    refused: refused.sort((a, b) => order(a.host) - order(b.host)),
    waves: waves.map((w) => w.map((h) => h.name)),
  };
}

/** The hosts of `plan` that cannot be applied at all (not observed, blocked), each with why; in no wave. */
export function unapplyableHosts(plan: Plan): HostRefusal[] {
  return plan.hosts.flatMap((h) => {
    const why = whyNotApplyable(h);
    return why ? [{ host: h.name, ...why, wave: null }] : [];
  });
}

/** Why a host of the plan cannot be applied at all (not observed, blocked), or null. */
function whyNotApplyable(h: HostPlan): Pick<HostRefusal, 'state' | 'error'> | null {
  if (h.error) return { state: 'unreachable', error: new HostError(h.error.message, h.error.hint ? { hint: h.error.hint } : {}) };
  const blocks = h.problems.filter((p) => p.severity === 'block');
  if (blocks.length === 0) return null;
  return {
    state: 'blocked',
    error: new PassthruError(`blocked by ${blocks.length} problem(s) (${[...new Set(blocks.map((p) => p.code))].join(', ')}, listed in the plan); not applied`, {
      hint: 'fix them, then run passthru plan',
    }),
  };
}

/** Why the wave at `position` must not start: an interruption, or more failed hosts than tolerated; else null. */
function reasonToStop(deps: ApplyHostsDeps, failed: readonly string[], position: WavePosition): string | null {
  if (deps.signal?.aborted) return `not attempted: ${interruptionText(deps.signal)} before wave ${position.index}/${position.count} began`;
  if (failed.length > deps.maxFailures) {
    return `not attempted: ${failed.length} host(s) failed in earlier waves (${failed.join(', ')}), more than --max-failures ${deps.maxFailures}`;
  }
  return null;
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

async function applyOne(h: HostPlan, desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>, deps: ApplyHostsDeps, wave: WavePosition | null): Promise<ApplyReport> {
  const host = desired.hosts.find((x) => x.name === h.name);
  if (!host) throw new PassthruError(`the plan names host "${h.name}", which the desired state does not declare`);
  const observe = () => observeHost(host, { virsh: deps.virsh, root: deps.root, clock: deps.clock, ...(deps.ssh ? { ssh: deps.ssh } : {}) });
  const planned = snapshots.get(h.name);
  return applyHost(h, {
    virsh: deps.virsh,
    ...(deps.driverctl ? { driverctl: deps.driverctl } : {}),
    clock: deps.clock,
    target: hostTarget({ uri: h.uri, virsh: deps.virsh, root: host.local ? deps.root : null }),
    ...(deps.hooks ? { hooks: deps.hooks(h.name, wave) } : {}),
    ...(deps.stepTimeoutMs !== undefined ? { stepTimeoutMs: deps.stepTimeoutMs } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    journalPath: deps.journalPath,
    lock: {
      dir: deps.lockDir,
      timeoutMs: deps.lockTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(deps.onWait ? { onWait: (o: LockOwner) => deps.onWait?.(h.name, o) } : {}),
    },
    ...(deps.onStaleLock ? { onStaleLock: (o: LockOwner) => deps.onStaleLock?.(h.name, o) } : {}),
    precheck: async () => (planned ? staleHosts([planned], [await observe()]).flatMap((s) => s.changes) : []),
    finalCheck: async () => remainingWork(desired, host, await observe()),
  });
}

/** What a fresh plan of one host still wants, as lines; the executor fails the apply when any remain. */
function remainingWork(desired: DesiredState, host: DesiredHost, snapshot: HostSnapshot): string[] {
  return planHost(desiredForHost(desired, host.name), snapshot).actions.map((a) => `${describeAction(a)}: ${a.reason}`);
}

/**
 * The exit code of a whole apply (SPEC 4, 12): the worst host's — 3 when any host could not be restored, 1 when any
 * failed or was not applied to (not observed, blocked, refused, not attempted), else 0.
 */
export function applyOutcomeExitCode(outcome: ApplyOutcome): ExitCode {
  const worst = Math.max(ExitCode.ok, ...outcome.reports.map(applyExitCode), outcome.refused.length > 0 ? ExitCode.error : ExitCode.ok);
  return worst as ExitCode;
}
