/**
 * Applying a plan to every host it changes. Hosts are independent (SPEC 2, 12): each runs in parallel under its
 * own lock (apply-host.ts), is checked right after locking against the state it was planned from, and is planned
 * afresh after its last step. A host refused (lock held, state moved) neither stops nor hides the others: every
 * host ends with a report or a refusal, and only then does this return.
 */
import { ExitCode, PassthruError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Virsh } from '../io/virsh.js';
import type { ApplyOutcome, ApplyReport } from '../model/apply-report.js';
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

/** What applying to many hosts needs: the world, the journal and lock settings, and the CLI's callbacks. */
export interface ApplyHostsDeps {
  virsh: Virsh;
  /** The local host's file tree (`--root`). */
  root: string;
  clock: Clock;
  journalPath: string;
  lockDir: string;
  lockTimeoutMs: number;
  /** Per virsh process; default the executor's. */
  stepTimeoutMs?: number;
  /** Stops every host's apply (see ExecuteDeps.signal). */
  signal?: AbortSignal;
  /** Progress hooks of one host. */
  hooks?(host: string): ProgressHooks;
  /** A live apply holds the host's lock: waiting begins. */
  onWait?(host: string, owner: LockOwner): void;
  /** The lock of a dead apply was taken over. */
  onStaleLock?(host: string, owner: LockOwner): void;
}

/** Applies each host of `plan` that has actions; `snapshots` are what it was planned from. */
export async function applyHosts(plan: Plan, desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>, deps: ApplyHostsDeps): Promise<ApplyOutcome> {
  const toApply = plan.hosts.filter((h) => h.actions.length > 0);
  // allSettled, not all: a refused host must not make this return while other hosts are still being changed.
  const settled = await Promise.allSettled(toApply.map((h) => applyOne(h, desired, snapshots, deps)));
  return {
    reports: settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
    refused: settled.flatMap((s, i) => (s.status === 'rejected' ? [{ host: toApply[i]?.name ?? '?', error: asError(s.reason) }] : [])),
  };
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

async function applyOne(h: HostPlan, desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>, deps: ApplyHostsDeps): Promise<ApplyReport> {
  const host = desired.hosts.find((x) => x.name === h.name);
  if (!host) throw new PassthruError(`the plan names host "${h.name}", which the desired state does not declare`);
  const observe = () => observeHost(host, { virsh: deps.virsh, root: deps.root, clock: deps.clock });
  const planned = snapshots.get(h.name);
  return applyHost(h, {
    virsh: deps.virsh,
    clock: deps.clock,
    target: hostTarget({ uri: h.uri, virsh: deps.virsh, root: host.local ? deps.root : null }),
    ...(deps.hooks ? { hooks: deps.hooks(h.name) } : {}),
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
 * failed or was refused, else 0.
 */
export function applyOutcomeExitCode(outcome: ApplyOutcome): ExitCode {
  const worst = Math.max(ExitCode.ok, ...outcome.reports.map(applyExitCode), outcome.refused.length > 0 ? ExitCode.error : ExitCode.ok);
  return worst as ExitCode;
}
