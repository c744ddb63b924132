/**
 * The one table of what each command prints: command → `--format` → renderer. Commands compute a result and hand
 * it to `report()`; none picks its output with an if/else of its own. The formats are those of `FORMATS` in args.ts,
 * and the compiler checks that each has a renderer here.
 */
import { InternalError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import type { DoctorCheck } from '../doctor/checks.js';
import type { ApplyOutcome } from '../model/apply-report.js';
import type { AgentStatus } from '../agent/status.js';
import { renderStatusText } from '../render/status-text.js';
import { renderVerifyJson, renderVerifyText, verifyJson } from '../render/verify.js';
import type { HostVerdict } from '../plan/guest-verify.js';
import { renderApplyJson, renderApplyText } from '../render/apply-report.js';
import { formatDoctorText } from '../doctor/doctor.js';
import { renderCheckJunit } from '../render/check-junit.js';
import { renderCheckText } from '../render/check-text.js';
import { renderPlanDiff } from '../render/plan-diff.js';
import { renderPlanJson } from '../render/plan-json.js';
import { renderPlanSh } from '../render/plan-sh.js';
import { renderPlanText } from '../render/plan-text.js';
import { printable } from '../render/printable.js';
import type { Style } from '../render/style.js';
import { importedDesiredYaml } from '../desired/import-yaml.js';
import type { FORMATS } from './args.js';
import type { Terminal } from './terminal.js';

/** What a renderer may look at besides the result. */
export interface ReportContext {
  /** The style of the stream the report goes to (colour only on a terminal). */
  style: Style;
  /** `-q`: only what scripts need. */
  quiet: boolean;
}

/** Renders one command's result in one format. */
export type Renderer<T> = (result: T, ctx: ReportContext) => string;

/** `plan` and `check`: the plan, what it was made from, and what it was made of. */
export interface PlanResult {
  desired: DesiredState;
  plan: Plan;
  /** The snapshot of each host that could be observed, by host name. */
  snapshots: ReadonlyMap<string, HostSnapshot>;
}

/** `validate`: the desired state, loaded and checked. */
export interface ValidateResult {
  desired: DesiredState;
}

/** `doctor`: every check, and whether the host is ready. */
export interface DoctorResult {
  checks: DoctorCheck[];
  ok: boolean;
}

/** `observe`: the snapshots of the hosts that could be observed. */
export interface ObserveResult {
  snapshots: HostSnapshot[];
}

/** `import`: the hosts observed, their URIs, and when: the passthrough.yaml that describes them. */
export interface ImportResult {
  snapshots: HostSnapshot[];
  uris: ReadonlyMap<string, string>;
  writtenAt: Date;
}

/** `apply`: what every host's apply did, and the journal that records it (null when nothing ran). */
export interface ApplyResult {
  outcome: ApplyOutcome;
  journalPath: string | null;
  /** `apply --verify`: the verdicts on the VMs changed live. */
  verify?: HostVerdict[];
}

/** `status`: what the agent last recorded. */
export interface StatusResult {
  status: AgentStatus;
}

/** `verify`: the verdicts of every host. */
export interface VerifyResult {
  hosts: HostVerdict[];
}

/** What each reported command's renderers take. */
interface Results {
  validate: ValidateResult;
  doctor: DoctorResult;
  observe: ObserveResult;
  plan: PlanResult;
  check: PlanResult;
  import: ImportResult;
  apply: ApplyResult;
  status: StatusResult;
  verify: VerifyResult;
}

type Reporters = { [C in keyof typeof FORMATS]: Record<(typeof FORMATS)[C][number], Renderer<Results[C]>> };

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

const vmsByHost = ({ desired }: PlanResult) =>
  new Map(desired.hosts.map((h) => [h.name, desired.vms.filter((v) => v.host === h.name).map((v) => v.name)]));

function validateText({ desired }: ValidateResult, { quiet }: ReportContext): string {
  const claims = desired.vms.reduce((n, vm) => n + vm.devices.length, 0);
  if (quiet) return '';
  return `${printable(desired.file)}: valid (${desired.hosts.length} host(s), ${desired.vms.length} VM(s), ${claims} device entr${claims === 1 ? 'y' : 'ies'})\n`;
}

function doctorText({ checks, ok }: DoctorResult, { style }: ReportContext): string {
  return formatDoctorText(checks, style) + (ok ? style.green('Ready for PCI passthrough.\n') : style.red('Fix the failed checks before passing devices through.\n'));
}

export const REPORTERS: Reporters = {
  validate: {
    text: validateText,
    json: ({ desired }) => json({ valid: true, file: desired.file, hosts: desired.hosts.length, vms: desired.vms.length }),
  },
  doctor: { text: doctorText, json: ({ ok, checks }) => json({ ok, checks }) },
  observe: { json: ({ snapshots }) => json(snapshots.length === 1 ? snapshots[0] : snapshots) },
  plan: {
    text: ({ plan, snapshots }, { style }) => renderPlanText(plan, snapshots, style),
    json: ({ plan, snapshots }) => renderPlanJson(plan, snapshots),
    diff: ({ plan, snapshots }) => renderPlanDiff(plan, snapshots),
    sh: ({ plan }) => renderPlanSh(plan),
  },
  check: {
    text: ({ plan, snapshots }, { style, quiet }) => renderCheckText(plan, snapshots, style, quiet),
    json: ({ plan, snapshots }) => renderPlanJson(plan, snapshots),
    junit: (r) => renderCheckJunit(r.plan, vmsByHost(r)),
  },
  import: { yaml: ({ snapshots, uris, writtenAt }) => importedDesiredYaml(snapshots, uris, writtenAt) },
  apply: {
    text: ({ outcome, journalPath, verify }, { style }) => renderApplyText(outcome, journalPath ?? '', style) + (verify ? `\n${renderVerifyText(verify, style)}` : ''),
    json: ({ outcome, journalPath, verify }) => renderApplyJson(outcome, journalPath, verify && verifyJson(verify)),
  },
  status: {
    text: ({ status }, { style }) => renderStatusText(status, style),
    json: ({ status }) => json(status),
  },
  verify: {
    text: ({ hosts }, { style }) => renderVerifyText(hosts, style),
    json: ({ hosts }) => renderVerifyJson(hosts),
  },
};

/**
 * Formats that are code or data for another program, written byte for byte: escaping would change what they mean
 * (a VM name in a script, a YAML scalar). Every other report reaches the terminal through {@link printable} as a
 * backstop: text keeps its layout and passthru's colours, and JSON is unchanged (its `\u` escapes are the same).
 */
const VERBATIM: ReadonlySet<string> = new Set(['sh', 'yaml']);

/** The report of `command` in `format` (one args.ts accepted for it), as text ready for the terminal. */
export function render<C extends keyof Results>(command: C, format: string, result: Results[C], ctx: ReportContext): string {
  const renderers: Partial<Record<string, Renderer<Results[C]>>> = REPORTERS[command];
  const renderer = renderers[format];
  if (!renderer) throw new InternalError(`no ${format} renderer for ${command}`);
  const text = renderer(result, ctx);
  return VERBATIM.has(format) ? text : printable(text, { layout: true, style: true });
}

/** Writes the report to stdout. */
export function report<C extends keyof Results>(term: Terminal, command: C, format: string, result: Results[C], ctx: ReportContext): void {
  term.out(render(command, format, result, ctx));
}
