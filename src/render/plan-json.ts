/** `--format json`: the public, versioned plan contract (SPEC 4). The Plan type is that contract. */
import type { Plan } from '../model/plan.js';

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
