/**
 * Plans every host of the desired state from one observation per host. Hosts are independent (SPEC 2, 12), so this
 * is `planHost` per observed host, an error entry per host that could not be observed, and the verdict on the whole.
 */
import { InternalError, PassthruError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { HostErrorReport, HostObservation, HostUnobserved } from '../model/observation.js';
import type { HostPlan, Plan } from '../model/plan.js';
import { PLAN_FORMAT_VERSION } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { desiredForHost } from '../desired/slice.js';
import { planHost } from './plan-host.js';

/** Builds the plan for all hosts; `snapshots` must hold one snapshot per declared host, keyed by host name. */
export function planAll(desired: DesiredState, snapshots: ReadonlyMap<string, HostSnapshot>): Plan {
  return planObservations(
    desired,
    desired.hosts.map((host) => {
      const snapshot = snapshots.get(host.name);
      if (!snapshot) throw new InternalError(`no snapshot for host ${host.name}`);
      return { host, snapshot };
    }),
  );
}

/** Builds the plan from one observation per host, in that order; a host that could not be observed gets its error. */
export function planObservations(desired: DesiredState, observations: readonly HostObservation[]): Plan {
  return assemblePlan(
    observations.map((o) => ('error' in o ? unobservedHostPlan(o) : planHost(desiredForHost(desired, o.host.name), o.snapshot))),
  );
}

/** The message and remedy of a host's error, as reports show them. */
export function hostErrorReport(error: Error): HostErrorReport {
  const hint = error instanceof PassthruError ? error.hint : undefined;
  return hint === undefined ? { message: error.message } : { message: error.message, hint };
}

function unobservedHostPlan(o: HostUnobserved): HostPlan {
  return { name: o.host.name, uri: o.host.uri, fingerprint: null, actions: [], problems: [], error: hostErrorReport(o.error) };
}

/** The plan-level verdicts derived from its hosts. */
export function assemblePlan(hosts: HostPlan[]): Plan {
  return {
    format_version: PLAN_FORMAT_VERSION,
    applyable: hosts.every((h) => h.error === undefined && h.problems.every((p) => p.severity !== 'block')),
    changes: hosts.some((h) => h.actions.length > 0),
    hosts,
  };
}
