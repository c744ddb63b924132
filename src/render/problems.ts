/** Problems (blocking errors and warnings) and hosts that could not be observed, as text: `plan`, `check`, `apply`. */
import type { HostErrorReport } from '../model/observation.js';
import type { Problem } from '../model/plan.js';
import { printable } from './printable.js';
import type { Style } from './style.js';

/** A problem; its strings come from the planner, with names from the host: all are escaped here. */
export function renderProblem(p: Problem, host: string, style: Style): string {
  const label = p.severity === 'block' ? style.red(style.bold('Error:')) : style.yellow(style.bold('Warning:'));
  const lines = [`${label} ${printable(p.message)}`, style.dim(`  on host ${printable(host)} [${p.code}]`)];
  if (p.hint) lines.push(`  fix: ${printable(p.hint)}`);
  return lines.join('\n');
}

/** A host with no plan because it could not be observed; a message of several lines (virsh's stderr) stays so. */
export function renderHostError(host: string, error: HostErrorReport, style: Style): string {
  const lines = [`${style.red(style.bold('Error:'))} host ${printable(host)} could not be observed: ${block(error.message)}`];
  if (error.hint) lines.push(`  fix: ${block(error.hint)}`);
  return lines.join('\n');
}

/** Text of several lines, escaped, with its continuation lines indented under the first. */
export function block(text: string): string {
  return printable(text, { layout: true }).replace(/\n/g, '\n    ');
}
