/**
 * `passthru status` for a person: what the agent is, what it follows, and each host's state with its problems and
 * when it is next tried. Scripts read `--format json` (status.json itself) instead.
 */
import { shortRevision } from '../agent/decide.js';
import type { AgentStatus, HostState, HostStatus } from '../agent/status.js';
import type { Problem } from '../model/plan.js';
import { renderProblem } from './problems.js';
import type { Style } from './style.js';

function paintState(state: HostState, style: Style): string {
  if (state === 'in-sync' || state === 'applied') return style.green(state);
  if (state === 'drifted') return style.yellow(state);
  return style.red(state);
}

/** `2026-12-01 10:00:05Z`: seconds are enough for a person, and the Z says which clock. */
function when(iso: string | null): string {
  return iso === null ? '-' : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

function hostBlock(h: HostStatus, style: Style): string {
  const lines = [
    `${style.bold(h.name)}: ${paintState(h.state, style)} since ${when(h.since)} at revision ${shortRevision(h.revision)}`,
    `  last reconcile ${when(h.lastReconcile)}, last apply ${when(h.lastApply)}, ${h.changes} change(s)` +
      `${h.consecutiveFailures > 0 ? `, ${h.consecutiveFailures} failure(s) in a row` : ''}, next attempt ${when(h.nextAttempt)}`,
  ];
  // Status problems carry the agent's codes too; the shared renderer only prints the code.
  for (const p of h.problems) lines.push(...renderProblem(p as Problem, h.name, style).split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}

/** The status as text. */
export function renderStatusText(status: AgentStatus, style: Style): string {
  const head = [
    `passthru agent, ${status.agent.mode} mode, PID ${status.agent.pid}, started ${when(status.agent.started)}`,
    `Source: ${status.source.location} at revision ${shortRevision(status.source.revision)}`,
  ];
  const hosts = status.hosts.length > 0 ? status.hosts.map((h) => hostBlock(h, style)) : ['No host has been reconciled yet.'];
  return `${head.join('\n')}\n\n${hosts.join('\n\n')}\n`;
}
