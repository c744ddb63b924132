/**
 * `passthru apply`: plan (or read a saved plan and prove it is not stale), show it, ask, then converge each host
 * under its lock with a journal, step verification and rollback. Hosts are independent and run in parallel.
 */
import { ExitCode, PassthruError, UsageError } from '../../errors.js';
import { applyHost } from '../../apply/apply-host.js';
import { applyExitCode, type ApplyReport, type ProgressHooks } from '../../apply/execute.js';
import { defaultJournalPath } from '../../apply/journal.js';
import { defaultStateDir, formatDuration, parseDuration } from '../../apply/lock.js';
import { savedPlanToApply, staleHosts } from '../../apply/saved-plan.js';
import { hostTarget } from '../../apply/target.js';
import { desiredForHost } from '../../desired/slice.js';
import { systemClock } from '../../io/clock.js';
import type { DesiredHost, DesiredState } from '../../model/desired.js';
import type { Plan } from '../../model/plan.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import type { Virsh } from '../../io/virsh.js';
import { observeHost } from '../../observe/observe-host.js';
import { planAll } from '../../plan/plan-all.js';
import { planHost } from '../../plan/plan-host.js';
import { describeAction } from '../../render/action.js';
import { renderPlanText } from '../../render/plan-text.js';
import { styleFor, type Style } from '../../render/style.js';
import type { Invocation } from '../args.js';
import { loadDesired, makeVirsh, readUserFile, snapshotsFor } from '../context.js';
import type { Terminal } from '../terminal.js';

function progress(host: string, multi: boolean, term: Terminal, style: Style, quiet: boolean): ProgressHooks {
  const prefix = multi ? `${host}: ` : '';
  const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
  if (quiet) return {};
  return {
    preStep: (i, n, a) => term.err(`${prefix}[${i}/${n}] ${describeAction(a)} ...\n`),
    postStep: (i, n, a, r) =>
      term.err(
        `${prefix}[${i}/${n}] ${describeAction(a)} ${r.ok ? style.green('ok') : style.red(`FAILED: ${r.error ?? ''}`)} (${secs(r.durationMs)})` +
          `${r.note ? style.dim(` — ${r.note}`) : ''}\n`,
      ),
    preUndo: (i, n, label) => term.err(`${prefix}${style.yellow(`[undo ${i}/${n}]`)} ${label} ...\n`),
    postUndo: (i, n, r) =>
      term.err(`${prefix}${style.yellow(`[undo ${i}/${n}]`)} ${r.label} ${r.ok ? style.green('ok') : style.red(`FAILED: ${r.error ?? ''}`)}\n`),
  };
}

function reportText(r: ApplyReport, style: Style): string {
  if (r.ok) return style.green(`Host ${r.host}: applied ${r.steps.length} step(s); a fresh plan is empty.`);
  const lines = [style.red(`Host ${r.host}: apply FAILED${r.failure?.step ? ` at step ${r.failure.step}` : ' in the final check'}: ${r.failure?.error ?? ''}`)];
  if (r.restored) lines.push(`  Rolled back ${r.rollback.length} step(s); the host was observed back in its state before the apply.`);
  else {
    lines.push(style.red('  Rollback could NOT restore the host. What is not as it was:'));
    lines.push(...r.leftovers.map((l) => `    - ${l}`));
    lines.push('  Fix these by hand (see the journal for every command run), then run `passthru plan`.');
  }
  return lines.join('\n');
}

/** What a fresh plan of one host still wants, as lines; the executor fails the apply when any remain. */
function remainingWork(desired: DesiredState, host: DesiredHost, virsh: Virsh, root: string): () => Promise<string[]> {
  return async () => {
    const snapshot = await observeHost(host, { virsh, root, clock: systemClock });
    return planHost(desiredForHost(desired, host.name), snapshot).actions.map((a) => `${describeAction(a)}: ${a.reason}`);
  };
}

/** The plan to apply (computed now, or read from PLANFILE and proven not stale) and the snapshots it shows. */
async function savedOrFreshPlan(inv: Invocation, term: Terminal): Promise<{ desired: DesiredState; plan: Plan; snapshots: Map<string, HostSnapshot> }> {
  if (!inv.planFile) {
    const desired = await loadDesired(inv);
    const snapshots = await snapshotsFor(desired, inv, term);
    return { desired, plan: planAll(desired, snapshots), snapshots };
  }
  const text = await readUserFile(inv.planFile, 'the saved plan', 'write one with `passthru plan -o FILE`', 'savedPlan');
  return savedPlanToApply(text, inv.planFile, (desired) => snapshotsFor(desired, inv, term));
}

export async function runApply(inv: Invocation, term: Terminal): Promise<number> {
  if (inv.snapshot) throw new UsageError('apply always observes the host itself; --snapshot is for plan and check');
  const lockTimeoutMs = parseDuration(inv.lockTimeout);
  const style = styleFor(term.errStream, term.env, inv.common.noColor);
  const { desired, plan, snapshots } = await savedOrFreshPlan(inv, term);
  if (!inv.json) term.err(renderPlanText(plan, snapshots, style));
  if (!plan.applyable) {
    throw new PassthruError('refusing to apply a plan with blocking problems (listed above)', { hint: 'fix them, then run passthru plan' });
  }
  if (!plan.changes) {
    if (inv.json) term.out(`${JSON.stringify({ format_version: '1', ok: true, hosts: [] }, null, 2)}\n`);
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
  const virsh = makeVirsh(inv, term);
  const journalPath = inv.journal ?? defaultJournalPath(term.env);
  const multi = plan.hosts.length > 1;
  const toApply = plan.hosts.filter((h) => h.actions.length > 0);
  // allSettled, not all: a host refused (lock held, stale) must not make the CLI return while other hosts are still
  // being changed, with their reports lost.
  const settled = await Promise.allSettled(
    toApply.map(async (h) => {
      const host = desired.hosts.find((x) => x.name === h.name);
      if (!host) throw new PassthruError(`the plan names host "${h.name}", which the desired state does not declare`);
      return applyHost(h, {
        virsh,
        clock: systemClock,
        target: hostTarget({ uri: h.uri, virsh, root: host.local ? inv.common.root : null }),
        hooks: progress(h.name, multi, term, style, inv.common.quiet),
        journalPath,
        lock: {
          dir: defaultStateDir(term.env),
          timeoutMs: lockTimeoutMs,
          onWait: (o) => term.err(`${h.name}: waiting up to ${formatDuration(lockTimeoutMs)} for apply PID ${o.pid} (started ${o.startedAt})...\n`),
        },
        onStaleLock: (o) => term.err(style.yellow(`${h.name}: took over the lock of apply PID ${o.pid} (started ${o.startedAt}), which is gone; check the journal ${journalPath}\n`)),
        precheck: async () => {
          const fresh = await observeHost(host, { virsh, root: inv.common.root, clock: systemClock });
          return staleHosts([...snapshots.values()], [fresh]).flatMap((s) => s.changes);
        },
        finalCheck: remainingWork(desired, host, virsh, inv.common.root),
      });
    }),
  );
  const reports = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const refused = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ host: toApply[i]?.name ?? '?', error: s.reason as Error }] : []));
  const only = refused[0];
  if (only && refused.length === 1 && reports.length === 0) throw only.error;
  const ok = reports.every((r) => r.ok) && refused.length === 0;
  const notApplied = refused.map((r) => ({ host: r.host, error: r.error.message }));
  if (inv.json) term.out(`${JSON.stringify({ format_version: '1', ok, journal: journalPath, hosts: reports, ...(refused.length > 0 ? { notApplied } : {}) }, null, 2)}\n`);
  else if (reports.length > 0) term.err(`\n${reports.map((r) => reportText(r, style)).join('\n')}\nJournal: ${journalPath}\n`);
  const code = Math.max(...reports.map(applyExitCode), ExitCode.ok);
  const bug = refused.find((r) => !(r.error instanceof PassthruError));
  if (bug) throw bug.error;
  if (refused.length > 0) {
    throw new PassthruError(`not applied to ${refused.length} host(s):\n${refused.map((r) => `  ${r.host}: ${r.error.message}`).join('\n')}`, {
      exitCode: Math.max(code, ExitCode.error) as ExitCode,
      ...(refused[0]?.error instanceof PassthruError && refused[0].error.hint ? { hint: refused[0].error.hint } : {}),
    });
  }
  return code;
}
