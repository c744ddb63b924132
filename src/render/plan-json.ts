/**
 * `--format json`: the public, versioned plan contract (SPEC 4). The Plan type is that contract; the command line
 * adds one field to each observed host, `xmlChanges`, for integrators that show a change as a before/after pair
 * (Ansible's `diff`), so they need neither a second observation nor a diff parser.
 */
import type { HostPlan, Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { vmXmlChanges } from './plan-diff.js';

/**
 * A host of the JSON plan. `xmlChanges`: each VM whose persistent XML the plan changes, with the whole XML as
 * observed (`dumpxml --inactive`) and as planned (the same text as `--format diff`); empty when none; absent on a
 * host that could not be observed (its changes are unknown) and when the plan is rendered without its snapshots.
 */
export interface HostPlanJson extends HostPlan {
  xmlChanges?: { vm: string; before: string; after: string }[];
}

/** The JSON plan: the Plan, with its hosts as {@link HostPlanJson}. */
export interface PlanJson extends Omit<Plan, 'hosts'> {
  hosts: HostPlanJson[];
}

/** The plan as JSON; with the snapshots it was computed from, each observed host also carries its `xmlChanges`. */
export function renderPlanJson(plan: Plan, snapshots?: ReadonlyMap<string, HostSnapshot>): string {
  if (!snapshots) return `${JSON.stringify(plan, null, 2)}\n`;
  const changes = vmXmlChanges(plan, snapshots);
  const hosts = plan.hosts.map((h): HostPlanJson => {
    if (h.error || !snapshots.has(h.name)) return h;
    return { ...h, xmlChanges: changes.filter((c) => c.host === h.name).map(({ vm, before, after }) => ({ vm, before, after })) };
  });
  const json: PlanJson = { ...plan, hosts };
  return `${JSON.stringify(json, null, 2)}\n`;
}
