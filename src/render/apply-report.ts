/**
 * The views of an apply: its progress lines (`[2/5] nodedev-detach 0000:07:00.0 ok (0.62s)`), the closing report
 * per host in text, and the machine-readable report (`apply --format json`). Pure: strings from the apply stage's
 * plain results.
 */
import type { ApplyOutcome, ApplyReport, StepResult } from '../model/apply-report.js';
import type { Action } from '../model/plan.js';
import { describeAction } from './action.js';
import type { Style } from './style.js';

/** Version of the JSON report; bump on an incompatible change. */
export const APPLY_REPORT_FORMAT_VERSION = '1';

/** One line per event of a host's apply, as the CLI prints them on stderr. */
export interface ProgressLines {
  preStep(i: number, n: number, action: Action): string;
  postStep(i: number, n: number, action: Action, result: StepResult): string;
  preUndo(i: number, n: number, label: string): string;
  postUndo(i: number, n: number, result: StepResult): string;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

/** `ok`, `ok after a retry` (the seed's step 13 needed its second try), or `FAILED: why`. */
function outcome(r: StepResult, style: Style): string {
  if (!r.ok) return style.red(`FAILED: ${r.error ?? ''}`);
  const retries = r.earlierAttempts.length;
  return style.green(retries === 0 ? 'ok' : `ok after ${retries === 1 ? 'a retry' : `${retries} retries`}`);
}

/** What to add after a result: why each earlier attempt did not do, and the step's own remark. */
function remarks(r: StepResult, style: Style): string {
  const parts = [...r.earlierAttempts.map((e, k) => `attempt ${k + 1}: ${e}`), ...(r.note ? [r.note] : [])];
  return parts.length === 0 ? '' : style.dim(` — ${parts.join('; ')}`);
}

/** The progress lines of host `host`; prefixed with its name when several hosts run at once (`host` not null). */
export function progressLines(host: string | null, style: Style): ProgressLines {
  const prefix = host === null ? '' : `${host}: `;
  const undo = (i: number, n: number) => `${prefix}${style.yellow(`[undo ${i}/${n}]`)}`;
  return {
    preStep: (i, n, a) => `${prefix}[${i}/${n}] ${describeAction(a)} ...\n`,
    postStep: (i, n, a, r) => `${prefix}[${i}/${n}] ${describeAction(a)} ${outcome(r, style)} (${secs(r.durationMs)})${remarks(r, style)}\n`,
    preUndo: (i, n, label) => `${undo(i, n)} ${label} ...\n`,
    postUndo: (i, n, r) => `${undo(i, n)} ${r.label} ${outcome(r, style)}${remarks(r, style)}\n`,
  };
}

/** How a failed apply ended: `apply FAILED at step 2: …`, `apply interrupted by SIGTERM after 2 step(s)`. */
function failureLine(r: ApplyReport): string {
  const f = r.failure;
  if (f?.kind === 'interrupted') return `apply ${f.error} after ${r.steps.length} step(s)`;
  return `apply FAILED${f?.step ? ` at step ${f.step}` : ' in the final check'}: ${f?.error ?? ''}`;
}

/** One host's closing report. */
export function renderHostReport(r: ApplyReport, style: Style): string {
  if (r.ok) {
    const retried = r.steps.filter((s) => s.earlierAttempts.length > 0).length;
    return style.green(`Host ${r.host}: applied ${r.steps.length} step(s)${retried > 0 ? ` (${retried} after a retry)` : ''}; a fresh plan is empty.`);
  }
  const lines = [style.red(`Host ${r.host}: ${failureLine(r)}`)];
  if (r.restored) lines.push(`  Rolled back ${r.rollback.length} step(s); the host was observed back in its state before the apply.`);
  else {
    lines.push(style.red('  Rollback could NOT restore the host. What is not as it was:'));
    lines.push(...r.leftovers.map((l) => `    - ${l}`));
    lines.push('  Fix these by hand (see the journal for every command run), then run `passthru plan`.');
  }
  return lines.join('\n');
}

/** The closing report of every host that ran, and where the journal is; empty when none ran. */
export function renderApplyText(outcome: ApplyOutcome, journalPath: string, style: Style): string {
  if (outcome.reports.length === 0) return '';
  return `\n${outcome.reports.map((r) => renderHostReport(r, style)).join('\n')}\nJournal: ${journalPath}\n`;
}

/** `apply --format json`: every host's report, and the hosts not applied to with why; `journal` null when none ran. */
export function renderApplyJson(outcome: ApplyOutcome, journalPath: string | null): string {
  const ok = outcome.reports.every((r) => r.ok) && outcome.refused.length === 0;
  const notApplied = outcome.refused.map((r) => ({ host: r.host, error: r.error.message }));
  const report = {
    format_version: APPLY_REPORT_FORMAT_VERSION,
    ok,
    ...(journalPath !== null ? { journal: journalPath } : {}),
    hosts: outcome.reports,
    ...(notApplied.length > 0 ? { notApplied } : {}),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}
