/** `check` as text: the plan when something is off (unless quiet), then one verdict line naming every host. */
import type { HostPlan, Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { planDrifted } from '../plan/not-back.js';
import { renderPlanText } from './plan-text.js';
import { printable } from './printable.js';
import type { Style } from './style.js';

const hostState = (h: HostPlan) =>
  h.error ? 'not observed' : h.problems.some((p) => p.severity === 'block') ? 'blocked' : `${h.actions.length} change(s)`;

function verdict(plan: Plan, style: Style): string {
  const errors = [
    ...(plan.hosts.some((h) => h.error) ? ['not observed'] : []),
    ...(plan.hosts.some((h) => h.problems.some((p) => p.severity === 'block')) ? ['blocked'] : []),
  ];
  if (errors.length > 0) return style.red(`error: ${errors.join(', ')}`);
  return planDrifted(plan) ? style.yellow('drifted') : style.green('in sync');
}

export function renderCheckText(plan: Plan, snapshots: ReadonlyMap<string, HostSnapshot>, style: Style, quiet: boolean): string {
  const details = !quiet && (planDrifted(plan) || !plan.applyable) ? renderPlanText(plan, snapshots, style) : '';
  const hosts = plan.hosts.map((h) => `${printable(h.name)}: ${hostState(h)}`).join(', ');
  return `${details}passthru check: ${verdict(plan, style)} (${hosts})\n`;
}
