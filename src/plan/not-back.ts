/**
 * Drift that no action can fix: a device listed under `release` (SPEC 2: bound to a host driver, in no VM) that is
 * in no domain and bound to no driver. It did not come back when it was last released (a reset bug, or its host
 * driver not loaded); a reattach would not help, so `check` reports it as drift with the remedies (SPEC 13) rather
 * than plan an action that would fail again.
 */
import type { DesiredHostState } from '../model/desired.js';
import type { HostPlan, Plan, Problem, ProblemCode } from '../model/plan.js';
import { comebackRemedies } from './device-recovery.js';
import type { HostView } from './host-view.js';

/** Problem codes that are drift although they come with no action: `check` exits 2 on them. */
export const DRIFT_PROBLEMS: ReadonlySet<ProblemCode> = new Set<ProblemCode>(['device-not-back']);

/** The problems of `host` that are drift by themselves (no action fixes them). */
export function driftProblems(host: HostPlan): Problem[] {
  return host.problems.filter((p) => DRIFT_PROBLEMS.has(p.code));
}

/** True when a host is drifted: an action to apply, or a problem that is drift by itself (`check`, the agent). */
export function hostDrifted(host: HostPlan): boolean {
  return host.actions.length > 0 || driftProblems(host).length > 0;
}

/** True when `check` must report drift: an action to apply, or a problem that is drift by itself. */
export function planDrifted(plan: Plan): boolean {
  return plan.changes || plan.hosts.some(hostDrifted);
}

/** One warning per released device that is in no domain and on no driver. */
export function releasedWithoutDriver(desired: DesiredHostState, view: HostView): Problem[] {
  const seen = new Set<string>();
  return desired.release.flatMap((r) =>
    view.devicesAt(r.address).flatMap((d): Problem[] => {
      if (seen.has(d.address) || d.driver !== null || d.unreadable !== undefined || view.usersOf(d.address).length > 0) return [];
      seen.add(d.address);
      return [
        {
          severity: 'warn',
          code: 'device-not-back',
          message: `${d.address} is listed under \`release\` but is bound to no driver: it did not come back to its host driver`,
          hint: comebackRemedies(d.address, null).join('; or '),
          address: d.address,
        },
      ];
    }),
  );
}
