/**
 * `passthru apply`: glue. Plan (or read a saved plan and prove it is not stale), show it, ask, then hand the hosts
 * to the apply stage (apply/apply-hosts.ts) with the process's signals wired in, and print its views
 * (render/apply-report.ts).
 */
import { ExitCode, PassthruError, UsageError } from '../../errors.js';
import { applyHosts, applyOutcomeExitCode, unapplyableHosts, type WavePosition } from '../../apply/apply-hosts.js';
import { defaultJournalPath } from '../../apply/journal.js';
import { defaultStateDir } from '../../apply/lock.js';
import { formatDuration, parseDuration } from '../../model/duration.js';
import { savedPlanToApply } from '../../apply/saved-plan.js';
import type { ProgressHooks } from '../../apply/step-runner.js';
import { systemClock } from '../../io/clock.js';
import { listenForInterrupts } from '../../io/interrupts.js';
import type { DesiredState } from '../../model/desired.js';
import type { HostRefusal } from '../../model/apply-report.js';
import type { Plan } from '../../model/plan.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import { planObservations } from '../../plan/plan-all.js';
import { progressLines } from '../../render/apply-report.js';
import { renderPlanText } from '../../render/plan-text.js';
import { styleFor, type Style } from '../../render/style.js';
import type { Invocation } from '../args.js';
import { render, report } from '../reporters.js';
import { loadDesired, makeDriverctl, makeSsh, makeVirsh, observeHosts, readUserFile } from '../context.js';
import type { Terminal } from '../terminal.js';
import { verifyExitCode, vmsChangedLive, type HostVerdict } from '../../plan/guest-verify.js';
import { verifyHosts } from './verify.js';

/** Progress hooks that print one host's lines on stderr (none with -q). */
function progress(host: string, multi: boolean, wave: WavePosition | null, term: Terminal, style: Style, quiet: boolean): ProgressHooks {
  if (quiet) return {};
  const lines = progressLines(multi ? host : null, style, wave);
  return {
    preStep: (i, n, a) => term.err(lines.preStep(i, n, a)),
    postStep: (i, n, a, r) => term.err(lines.postStep(i, n, a, r)),
    preUndo: (i, n, label) => term.err(lines.preUndo(i, n, label)),
    postUndo: (i, n, r) => term.err(lines.postUndo(i, n, r)),
  };
}

/** The plan to apply (computed now, or read from PLANFILE and proven not stale) and the snapshots it shows. */
async function savedOrFreshPlan(inv: Invocation, term: Terminal): Promise<{ desired: DesiredState; plan: Plan; snapshots: Map<string, HostSnapshot> }> {
  if (!inv.planFile) {
    // Each host on its own (SPEC 12): one that cannot be observed is reported and not applied; the others are.
    const desired = await loadDesired(inv);
    const observations = await observeHosts(desired, inv, term);
    const snapshots = new Map(observations.flatMap((o) => ('snapshot' in o ? [[o.host.name, o.snapshot] as const] : [])));
    return { desired, plan: planObservations(desired, observations), snapshots };
  }
  const text = await readUserFile(inv.planFile, 'the saved plan', 'write one with `passthru plan -o FILE`', 'savedPlan');
  return savedPlanToApply(text, inv.planFile, (desired) => observeHosts(desired, inv, term));
}

export async function runApply(inv: Invocation, term: Terminal): Promise<number> {
  if (inv.snapshot) throw new UsageError('apply always observes the host itself; --snapshot is for plan and check');
  const lockTimeoutMs = parseDuration(inv.lockTimeout);
  // `--json` is the older spelling of `--format json`, kept as an alias.
  const format = inv.json ? 'json' : inv.format;
  const json = format === 'json';
  const style = styleFor(term.errStream, term.env, inv.common.noColor);
  const { desired, plan, snapshots } = await savedOrFreshPlan(inv, term);
  if (!json) term.err(renderPlanText(plan, snapshots, style));
  // A host not observed or blocked is refused on its own (SPEC 12); the hosts that can be applied still are.
  const unapplyable = unapplyableHosts(plan);
  const applyable = plan.hosts.filter((h) => h.actions.length > 0 && !unapplyable.some((r) => r.host === h.name));
  if (unapplyable.length > 0 && applyable.length > 0 && !json) {
    term.err(style.yellow(`\n${refusalText(unapplyable)}; the other host(s) are applied: ${applyable.map((h) => h.name).join(', ')}.\n`));
  }
  if (applyable.length === 0 && unapplyable.length > 0) {
    if (json) report(term, 'apply', format, { outcome: { reports: [], refused: unapplyable, waves: [] }, journalPath: null }, { style, quiet: inv.common.quiet });
    throw new PassthruError(`${refusalText(unapplyable)}; no host is left to apply`, { hint: 'fix them, then run passthru plan' });
  }
  if (!plan.changes) {
    if (json) report(term, 'apply', format, { outcome: { reports: [], refused: [], waves: [] }, journalPath: null }, { style, quiet: inv.common.quiet });
    return ExitCode.ok;
  }
  if (!inv.yes) {
    if (!term.stdinIsTTY) {
      throw new UsageError('refusing to change the host without confirmation: stdin is not a terminal', {
        hint: 'review the plan above and rerun with --yes (e.g. in automation: passthru plan -o plan.json, review, passthru apply plan.json --yes)',
      });
    }
    if (!(await term.confirm('\nDo you want to apply these changes? Only "yes" is accepted: '))) {
      term.err('Apply cancelled; nothing was changed.\n');
      return ExitCode.error;
    }
  }
  const journalPath = inv.journal ?? defaultJournalPath(term.env);
  const multi = plan.hosts.length > 1;
  // From here on a signal must not kill the process half-way: it stops the apply, which rolls back (SPEC 6).
  const interrupts = listenForInterrupts({
    first: (s) => term.err(style.yellow(`\npassthru: ${s}: starting no new step or wave; the step in flight finishes (or times out), then everything done is rolled back\n`)),
    again: (s) => term.err(style.yellow(`passthru: ${s} again: ignored, the rollback runs to its end (it cannot be abandoned safely)\n`)),
  });
  const outcome = await applyHosts(plan, desired, snapshots, {
    virsh: makeVirsh(inv, term),
    ssh: makeSsh(term, inv),
    driverctl: makeDriverctl(inv, term),
    root: inv.common.root,
    clock: systemClock,
    journalPath,
    lockDir: defaultStateDir(term.env),
    lockTimeoutMs,
    parallelism: inv.parallelism,
    batches: inv.batches,
    maxFailures: inv.maxFailures,
    signal: interrupts.signal,
    hooks: (host, wave) => progress(host, multi, wave, term, style, inv.common.quiet),
    onWave: (w, hosts) => {
      if (!inv.common.quiet) term.err(style.bold(`[wave ${w.index}/${w.count}] ${hosts.length} host(s): ${hosts.join(', ')}\n`));
    },
    onWait: (host, o) => term.err(`${host}: waiting up to ${formatDuration(lockTimeoutMs)} for apply PID ${o.pid} (started ${o.startedAt})...\n`),
    onStaleLock: (host, o) =>
      term.err(style.yellow(`${host}: took over the lock of apply PID ${o.pid} (started ${o.startedAt}), which is gone; check the journal ${journalPath}\n`)),
  }).finally(() => interrupts.dispose());
  const { reports, refused } = outcome;
  const only = refused[0];
  if (only && refused.length === 1 && reports.length === 0 && !multi) throw only.error;
  const applied = applyOutcomeExitCode(outcome);
  const verified = inv.verify && applied === ExitCode.ok ? await verifyLiveChanges(plan, desired, inv, term) : null;
  // The JSON report is for scripts (stdout); the text report closes the progress lines on stderr.
  const shown = render('apply', format, { outcome, journalPath, ...(verified ? { verify: verified } : {}) }, { style, quiet: inv.common.quiet });
  if (json) term.out(shown);
  else term.err(shown);
  const code = verified ? verifyExitCode(verified) : applied;
  const bug = refused.find((r) => !(r.error instanceof PassthruError));
  if (bug) throw bug.error;
  if (refused.length > 0) {
    throw new PassthruError(`not applied to ${refused.length} host(s): ${refused.map((r) => `${r.host} (${r.state})`).join(', ')}${json ? '' : ' (see above)'}`, {
      exitCode: code,
      // In text each host's remedy is in the report above; JSON on stdout has them too, but stderr is read as well.
      ...(json && refused[0]?.error instanceof PassthruError && refused[0].error.hint ? { hint: refused[0].error.hint } : {}),
    });
  }
  return code;
}

/**
 * `apply --verify`: `verify` on the VMs whose running domain the plan changed (its live actions), observed afresh
 * after the apply; null when it changed none.
 */
async function verifyLiveChanges(plan: Plan, desired: DesiredState, inv: Invocation, term: Terminal): Promise<HostVerdict[] | null> {
  const only = vmsChangedLive(plan);
  if (only.size === 0) return null;
  const liveHosts = { ...desired, hosts: desired.hosts.filter((h) => only.has(h.name)) };
  return verifyHosts(desired, await observeHosts(liveHosts, inv, term), inv, term, only);
}

/** `refusing to apply to 2 host(s): hv2 (blocked: its problems are listed above), hv3 (not observed)`. */
function refusalText(hosts: readonly HostRefusal[]): string {
  const why = (r: HostRefusal) => (r.state === 'unreachable' ? 'not observed' : 'blocked: its problems are listed above');
  return `refusing to apply to ${hosts.length} host(s): ${hosts.map((r) => `${r.host} (${why(r)})`).join(', ')}`;
}
