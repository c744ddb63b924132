/**
 * Rollout in waves (`apply --batches 1,10%,100%`, SPEC 12): the hosts with changes are cut into waves, and a wave
 * starts only when the ones before it went well. Pure: the list is parsed from its text and applied to host names.
 *
 * The list means what Ansible's `serial` list means, so that one rollout policy reads the same in a playbook and on
 * the command line: each entry is the SIZE of its wave (not a running total), a percentage is of all the hosts with
 * changes (rounded down, at least 1), and the last entry repeats until every host is in a wave. So `1,10%,100%` on
 * 40 hosts is waves of 1, 4 and 35 hosts; `2` alone is waves of 2 hosts each.
 */
import { UsageError } from '../errors.js';

/** One entry of `--batches`: a number of hosts, or a percentage of the hosts with changes. */
export type BatchSize = { hosts: number } | { percent: number };

const HINT = 'a comma-separated list of host counts or percentages, each the size of its wave: e.g. --batches 1,10%,100%';

/** Parses `--batches`; a malformed list is a UsageError (before anything is observed). */
export function parseBatches(text: string): BatchSize[] {
  const entries = text.split(',').map((e) => e.trim());
  return entries.map((entry) => {
    const percent = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(entry);
    if (percent) {
      const p = Number(percent[1]);
      if (p > 0 && p <= 100) return { percent: p };
    } else if (/^[0-9]+$/.test(entry)) {
      const n = Number(entry);
      if (Number.isSafeInteger(n) && n >= 1) return { hosts: n };
    }
    throw new UsageError(`--batches "${text}": "${entry}" is neither a number of hosts (1 or more) nor a percentage (above 0%, at most 100%)`, { hint: HINT });
  });
}

/** The hosts of each wave, in the order given; every host is in exactly one wave. Without batches, one wave. */
export function splitWaves<T>(hosts: readonly T[], batches: readonly BatchSize[] | null): T[][] {
  if (hosts.length === 0) return [];
  if (!batches || batches.length === 0) return [[...hosts]];
  const waves: T[][] = [];
  let start = 0;
  for (let i = 0; start < hosts.length; i++) {
    const b = batches[Math.min(i, batches.length - 1)] as BatchSize;
    const size = 'hosts' in b ? b.hosts : Math.max(1, Math.floor((hosts.length * b.percent) / 100));
    waves.push(hosts.slice(start, start + size));
    start += size;
  }
  return waves;
}
