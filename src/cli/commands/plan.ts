/**
 * `passthru plan` and `passthru check`: the same read-only computation, with different renderings and exit
 * codes (plan: 0/1, or 2 for changes with --detailed-exitcode; check: 0 in sync / 2 drifted / 1 error).
 */
import { ExitCode } from '../../errors.js';
import type { DesiredState } from '../../model/desired.js';
import type { Plan } from '../../model/plan.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import { planAll } from '../../plan/plan-all.js';
import { renderCheckJunit } from '../../render/check-junit.js';
import { renderPlanDiff } from '../../render/plan-diff.js';
import { renderPlanJson } from '../../render/plan-json.js';
import { renderPlanSh } from '../../render/plan-sh.js';
import { renderPlanText } from '../../render/plan-text.js';
import { styleFor } from '../../render/style.js';
import { SAVED_PLAN_FORMAT_VERSION, serializeSavedPlan } from '../../apply/saved-plan.js';
import type { Invocation, PlanFormat } from '../args.js';
import { loadDesired, snapshotsFor, writeUserFile } from '../context.js';
import type { Terminal } from '../terminal.js';

interface Computed {
  desired: DesiredState;
  snapshots: Map<string, HostSnapshot>;
  plan: Plan;
}

async function computePlan(inv: Invocation, term: Terminal): Promise<Computed> {
  const desired = await loadDesired(inv);
  const snapshots = await snapshotsFor(desired, inv, term);
  return { desired, snapshots, plan: planAll(desired, snapshots) };
}

export async function runPlan(inv: Invocation, term: Terminal): Promise<number> {
  const { plan, snapshots, desired } = await computePlan(inv, term);
  const style = styleFor(term.outStream, term.env, inv.common.noColor);
  const render = {
    text: () => renderPlanText(plan, snapshots, style),
    json: () => renderPlanJson(plan),
    diff: () => renderPlanDiff(plan, snapshots),
    sh: () => renderPlanSh(plan),
  }[inv.format as PlanFormat];
  term.out(render());
  if (inv.out) {
    await writeUserFile(
      inv.out,
      serializeSavedPlan({ format_version: SAVED_PLAN_FORMAT_VERSION, plan, snapshots: [...snapshots.values()], desired }),
      'the plan',
    );
    if (!inv.common.quiet) term.err(`Saved the plan to ${inv.out}; apply it with: passthru apply ${inv.out}\n`);
  }
  if (!plan.applyable) return ExitCode.error;
  return inv.detailedExitcode && plan.changes ? ExitCode.changes : ExitCode.ok;
}

export async function runCheck(inv: Invocation, term: Terminal): Promise<number> {
  const { plan, snapshots, desired } = await computePlan(inv, term);
  const style = styleFor(term.outStream, term.env, inv.common.noColor);
  if (inv.format === 'json') term.out(renderPlanJson(plan));
  else if (inv.format === 'junit') {
    const vms = new Map(desired.hosts.map((h) => [h.name, desired.vms.filter((v) => v.host === h.name).map((v) => v.name)]));
    term.out(renderCheckJunit(plan, vms));
  } else {
    if (!inv.common.quiet && (plan.changes || !plan.applyable)) term.out(renderPlanText(plan, snapshots, style));
    const verdict = !plan.applyable ? style.red('error: blocked') : plan.changes ? style.yellow('drifted') : style.green('in sync');
    term.out(`passthru check: ${verdict} (${plan.hosts.map((h) => `${h.name}: ${h.actions.length} change(s)`).join(', ')})\n`);
  }
  if (!plan.applyable) return ExitCode.error;
  return plan.changes ? ExitCode.changes : ExitCode.ok;
}
