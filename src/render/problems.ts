/** Problems (blocking errors and warnings) as text, shared by `plan`, `check` and `apply`. */
import type { Problem } from '../model/plan.js';
import type { Style } from './style.js';

export function renderProblem(p: Problem, host: string, style: Style): string {
  const label = p.severity === 'block' ? style.red(style.bold('Error:')) : style.yellow(style.bold('Warning:'));
  const lines = [`${label} ${p.message}`, style.dim(`  on host ${host} [${p.code}]`)];
  if (p.hint) lines.push(`  fix: ${p.hint}`);
  return lines.join('\n');
}
