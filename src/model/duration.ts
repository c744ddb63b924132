/**
 * Durations as users write them (`--lock-timeout 5m`, `--interval 30s`) and as messages print them. Shared by the
 * CLI, apply's lock and step runner, and the agent's decisions, so it sits below all of them.
 */
import { UsageError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses `--lock-timeout` style durations to milliseconds: `30s`, `5m`, `1h`, `1m30s`, `250ms`, `0`. A bare
 * number is seconds. Throws a UsageError naming the accepted forms.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (s === '' || parts.map((p) => p[0]).join('') !== s) {
    throw new UsageError(`invalid duration "${text}"`, { hint: 'write it as 30s, 5m, 1h, 1m30s, 250ms or 0' });
  }
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2] as keyof typeof UNIT_MS], 0));
}

/** `1.5s`, `2m`, `250ms`: durations in messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(2))}s`;
  return `${Number((ms / 60_000).toFixed(1))}m`;
}
