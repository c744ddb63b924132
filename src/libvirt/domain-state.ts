/**
 * What virsh's answers about a domain's state mean: the words `domstate` prints, and the error it gives for a UUID
 * that names no domain any more. Observation and apply's verification read them alike.
 */
import type { DomainState } from '../model/snapshot.js';

/** `domstate` words → DomainState. `idle` (blocked) and `in shutdown` still run: their live XML is real. */
const STATES: Record<string, { state: DomainState; active: boolean }> = {
  running: { state: 'running', active: true },
  idle: { state: 'other', active: true },
  paused: { state: 'paused', active: true },
  'in shutdown': { state: 'other', active: true },
  'shut off': { state: 'shut off', active: false },
  crashed: { state: 'crashed', active: false },
  pmsuspended: { state: 'pmsuspended', active: true },
};

/**
 * A `domstate` answer as a DomainState, and whether the domain has a running instance (a live XML). Shared with
 * apply's verification, so that a step is checked against the same notion of "running" the plan was made with.
 */
export function readDomainState(word: string): { state: DomainState; active: boolean } {
  return STATES[word.trim()] ?? { state: 'other', active: false };
}

/** What virsh says when a UUID no longer names a domain (it was undefined meanwhile). */
export const DOMAIN_VANISHED = /failed to get domain|domain not found|no domain with matching/i;
