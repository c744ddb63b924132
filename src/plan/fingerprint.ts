/**
 * A plan remembers what it was computed from: the fingerprint of each host's snapshot. `apply PLANFILE` observes
 * again and refuses the plan when the fingerprint moved (SPEC 4 "stale").
 */
import { createHash } from 'node:crypto';
import type { HostSnapshot } from '../model/snapshot.js';

/** JSON with object keys sorted, so that equal data always hashes equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:<hex>` of the snapshot without its observation time. */
export function fingerprintSnapshot(snapshot: HostSnapshot): string {
  const { observedAt: _observedAt, ...state } = snapshot;
  return `sha256:${createHash('sha256').update(canonicalJson(state)).digest('hex')}`;
}
