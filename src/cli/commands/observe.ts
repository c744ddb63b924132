/** `passthru observe`: the snapshot JSON of each host, for review, for `plan --snapshot`, or as a CI artefact. */
import { existsSync } from 'node:fs';
import { ExitCode } from '../../errors.js';
import { loadDesiredState } from '../../desired/load.js';
import { withConnectUri } from '../../desired/connect.js';
import type { DesiredState } from '../../model/desired.js';
import type { Invocation } from '../args.js';
import { loadDesired, snapshotsFor, writeUserFile } from '../context.js';
import type { Terminal } from '../terminal.js';

/**
 * The hosts to look at: the file's when there is one (or `-f` names one, which must then exist), else the
 * default local host. `-c` narrows either to one host, so `passthru observe -c URI` works in an empty directory.
 */
export async function hostsToObserve(inv: Invocation): Promise<DesiredState> {
  if (inv.common.fileGiven || existsSync(inv.common.file)) return loadDesired(inv);
  const empty = loadDesiredState('version: 1\n', inv.common.file);
  return inv.common.connect !== null ? withConnectUri(empty, inv.common.connect) : empty;
}

export async function runObserve(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await hostsToObserve(inv);
  const snapshots = [...(await snapshotsFor(desired, inv, term)).values()];
  const json = `${JSON.stringify(snapshots.length === 1 ? snapshots[0] : snapshots, null, 2)}\n`;
  if (inv.out) {
    await writeUserFile(inv.out, json, 'the snapshot');
    if (!inv.common.quiet) term.err(`Wrote the snapshot of ${snapshots.map((s) => s.host).join(', ')} to ${inv.out}\n`);
  } else term.out(json);
  return ExitCode.ok;
}
