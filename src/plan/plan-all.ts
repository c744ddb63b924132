/**
 * Plans every host of the desired state from one snapshot per host. Hosts are independent (SPEC 2), so this is
 * `planHost` per host plus the verdict on the whole.
 */
import { InternalError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { HostPlan, Plan } from '../model/plan.js';
import { PLAN_FORMAT_VERSION } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { desiredForHost } from '../desired/slice.js';
import { planHost } from './plan-host.js';

/** Builds the plan for all hosts; `snapshots` must hold one snapshot per declared host, keyed by host name. */
export function planAll(desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>): Plan {
  const hosts: HostPlan[] = desired.hosts.map((host) => {
    const snapshot = snapshots.get(host.name);
    if (!snapshot) throw new InternalError(`no snapshot for host ${host.name}`);
    return planHost(desiredForHost(desired, host.name), snapshot);
  });
  return assemblePlan(hosts);
}

/** The plan-level verdicts derived from its hosts. */
export function assemblePlan(hosts: HostPlan[]): Plan {
  return {
    format_version: PLAN_FORMAT_VERSION,
    applyable: hosts.every((h) => h.problems.every((p) => p.severity !== 'block')),
    changes: hosts.some((h) => h.actions.length > 0),
    hosts,
  };
}
