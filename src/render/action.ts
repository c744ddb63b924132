/** One-line names of plan actions, shared by apply's progress lines, its final check and the JUnit report. */
import type { Action } from '../model/plan.js';
import { printable } from './printable.js';

/** The action's kind and what it acts on: `nodedev-detach 0000:07:00.0`, or a guest NIC's MAC. */
export function actionSubject(a: Action): string {
  return `${a.kind} ${printable('address' in a ? a.address : (a.mac ?? ''))}`;
}

/** The subject and, for a domain change, its VM: `attach-hostdev 0000:07:00.0 (rhel7.3)`. Escaped for a terminal. */
export function describeAction(a: Action): string {
  return `${actionSubject(a)}${'vm' in a ? ` (${printable(a.vm)})` : ''}`;
}
