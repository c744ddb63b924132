/**
 * `passthru plan` and `passthru check`: the same read-only computation, with different renderings and exit
 * codes (plan: 0/1, or 2 for changes with --detailed-exitcode; check: 0 in sync / 2 drifted / 1 error). Every host
 * is reported, whether it could be observed or not; the exit code is the worst host's.
 */
import { ExitCode } from '../../errors.js';
import type { Plan } from '../../model/plan.js';
import { planObservations } from '../../plan/plan-all.js';
import { planDrifted } from '../../plan/not-back.js';
import { renderHostError } from '../../render/problems.js';
import { SAVED_PLAN_FORMAT_VERSION, serializeSavedPlan } from '../../apply/saved-plan.js';
import type { Invocation } from '../args.js';
import { loadDesired, observeHosts, reportContext, writeUserFile } from '../context.js';
import { report, type PlanResult } from '../reporters.js';
import type { Terminal } from '../terminal.js';

async function computePlan(inv: Invocation, term: Terminal): Promise<PlanResult> {
  const desired = await loadDesired(inv);
  const observations = await observeHosts(desired, inv, term);
  const snapshots = new Map(observations.flatMap((o) => ('snapshot' in o ? [[o.host.name, o.snapshot] as const] : [])));
  return { desired, snapshots, plan: planObservations(desired, observations) };
}

/** Reports the plan in `--format`; a host that could not be observed is also named on stderr unless stdout is text. */
function reportPlan(command: 'plan' | 'check', result: PlanResult, inv: Invocation, term: Terminal): void {
  report(term, command, inv.format, result, reportContext(inv, term, term.outStream));
  if (inv.format === 'text') return;
  const style = reportContext(inv, term, term.errStream).style;
  for (const h of result.plan.hosts) if (h.error) term.err(`${renderHostError(h.name, h.error, style)}\n`);
}

/** Why a plan cannot be applied, for the line after `plan -o`. */
function notApplyable(plan: Plan): string {
  const unobserved = plan.hosts.filter((h) => h.error).length;
  const blocks = plan.hosts.reduce((n, h) => n + h.problems.filter((p) => p.severity === 'block').length, 0);
  return [
    ...(blocks > 0 ? [`${blocks} blocking problem(s)`] : []),
    ...(unobserved > 0 ? [`${unobserved} host(s) not observed`] : []),
  ].join(' and ');
}

export async function runPlan(inv: Invocation, term: Terminal): Promise<number> {
  const result = await computePlan(inv, term);
  const { plan, snapshots, desired } = result;
  reportPlan('plan', result, inv, term);
  if (inv.out) {
    // Written even when it cannot be applied: an older plan in that file must not stay there to be applied instead.
    await writeUserFile(
      inv.out,
      serializeSavedPlan({ format_version: SAVED_PLAN_FORMAT_VERSION, plan, snapshots: [...snapshots.values()], desired }),
      'the plan',
    );
    if (!plan.applyable) term.err(`Saved the plan to ${inv.out}, but it cannot be applied: ${notApplyable(plan)}. Fix them, then plan again.\n`);
    else if (!inv.common.quiet) term.err(`Saved the plan to ${inv.out}; apply it with: passthru apply ${inv.out}\n`);
  }
  if (!plan.applyable) return ExitCode.error;
  return inv.detailedExitcode && plan.changes ? ExitCode.changes : ExitCode.ok;
}

export async function runCheck(inv: Invocation, term: Terminal): Promise<number> {
  const result = await computePlan(inv, term);
  reportPlan('check', result, inv, term);
  if (!result.plan.applyable) return ExitCode.error;
  return planDrifted(result.plan) ? ExitCode.changes : ExitCode.ok;
}
