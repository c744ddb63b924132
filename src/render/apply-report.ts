/**
 * The views of an apply: its progress lines (`[2/5] nodedev-detach 0000:07:00.0 ok (0.62s)`), the closing report
 * per host in text, and the machine-readable report (`apply --format json`). Pure: strings from the apply stage's
 * plain results.
 */
import type { ApplyOutcome, ApplyReport, HostRefusal, StepResult } from '../model/apply-report.js';
import { PassthruError } from '../errors.js';
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

/** Where a host's apply sits in a rollout of several waves (1-based). */
export interface WaveLabel {
  index: number;
  count: number;
}

/**
 * The progress lines of host `host`; prefixed with its name when several hosts run at once (`host` not null), and
 * with its wave in a rollout of several (`[wave 2/3] hv5: [1/3] nodedev-detach ...`).
 */
export function progressLines(host: string | null, style: Style, wave: WaveLabel | null = null): ProgressLines {
  const prefix = `${wave ? `[wave ${wave.index}/${wave.count}] ` : ''}${host === null ? '' : `${host}: `}`;
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
  lines.push(...notBackLines(r));
  return lines.join('\n');
}

/** For each device that did not come back to its host driver, in the apply or its rollback: what to try. */
function notBackLines(r: ApplyReport): string[] {
  return [...r.steps, ...r.rollback].flatMap((s) =>
    s.remedies === undefined ? [] : [`  ${s.label}: the device did not come back. Try, in order:`, ...s.remedies.map((m) => `    - ${m}`)],
  );
}

/** What each state of a host not applied to is called in the text report. */
const NOT_APPLIED: Record<HostRefusal['state'], string> = {
  unreachable: 'not applied (not observed)',
  blocked: 'not applied (blocked)',
  refused: 'not applied',
  'not-attempted': 'not attempted',
};

/** One line (and its hint) for a host that was not applied to. */
function renderRefusal(r: HostRefusal, style: Style): string {
  const hint = r.error instanceof PassthruError && r.error.hint ? `\n  fix: ${r.error.hint}` : '';
  const text = `Host ${r.host}: ${NOT_APPLIED[r.state]}: ${r.error.message.replace(/^not attempted: /, '')}`;
  return (r.state === 'not-attempted' ? style.yellow(text) : style.red(text)) + hint;
}

/** The closing report of every host that ran or was not applied to, and where the journal is; empty when none. */
export function renderApplyText(outcome: ApplyOutcome, journalPath: string, style: Style): string {
  if (outcome.reports.length === 0 && outcome.refused.length === 0) return '';
  const hosts = [...outcome.reports.map((r) => renderHostReport(r, style)), ...outcome.refused.map((r) => renderRefusal(r, style))];
  return `\n${hosts.join('\n')}\n${outcome.reports.length > 0 ? `Journal: ${journalPath}\n` : ''}`;
}

/**
 * `apply --format json`: every applied host's report (`hosts[]`, each with its `state` and `wave`), and each host not
 * applied to with its `state` and `error` (`notApplied[]`); `waves` when the rollout had several; `journal` null
 * when none ran; `verify` (apply --verify) when it ran.
 */
export function renderApplyJson(outcome: ApplyOutcome, journalPath: string | null, verify?: unknown): string {
  const ok = outcome.reports.every((r) => r.ok) && outcome.refused.length === 0;
  const waveOf = (host: string) => {
    const i = outcome.waves.findIndex((w) => w.includes(host));
    return i < 0 ? null : i + 1;
  };
  const notApplied = outcome.refused.map((r) => ({
    host: r.host,
    state: r.state,
    wave: r.wave,
    error: r.error.message,
    ...(r.error instanceof PassthruError && r.error.hint ? { hint: r.error.hint } : {}),
  }));
  const report = {
    format_version: APPLY_REPORT_FORMAT_VERSION,
    ok,
    ...(journalPath !== null ? { journal: journalPath } : {}),
    hosts: outcome.reports.map((r) => ({ ...r, state: reportState(r), wave: waveOf(r.host) })),
    ...(notApplied.length > 0 ? { notApplied } : {}),
    ...(outcome.waves.length > 1 ? { waves: outcome.waves } : {}),
    // `apply --verify`: verify's own JSON report (render/verify.ts) of the VMs changed live.
    ...(verify !== undefined ? { verify } : {}),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** `applied`, `failed` (rolled back) or `not-restored`: how a host's apply ended, for scripts. */
function reportState(r: ApplyReport): 'applied' | 'failed' | 'not-restored' {
  if (r.ok) return 'applied';
  return r.restored ? 'failed' : 'not-restored';
}
