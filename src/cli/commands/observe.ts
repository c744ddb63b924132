/** `passthru observe`: the snapshot JSON of each host, for review, for `plan --snapshot`, or as a CI artefact. */
import { existsSync } from 'node:fs';
import { ExitCode } from '../../errors.js';
import { loadDesiredState } from '../../desired/load.js';
import { selectHosts } from '../../desired/connect.js';
import type { DesiredState } from '../../model/desired.js';
import { hostErrorReport } from '../../plan/plan-all.js';
import { renderHostError } from '../../render/problems.js';
import type { Invocation } from '../args.js';
import { loadDesired, observeHosts, reportContext, writeUserFile } from '../context.js';
import { render } from '../reporters.js';
import type { Terminal } from '../terminal.js';

/**
 * The hosts to look at: the file's when there is one (or `-f` names one, which must then exist), else the
 * default local host. `--host` and `-c` narrow either, so `passthru observe -c URI` works in an empty directory.
 * `useFile: false` skips a file that `-f` did not name.
 */
export async function hostsToObserve(inv: Invocation, useFile = true): Promise<DesiredState> {
  if (inv.common.fileGiven || (useFile && existsSync(inv.common.file))) return loadDesired(inv);
  return selectHosts(loadDesiredState('version: 1\n', `${inv.common.file} (absent: the default host)`), inv.common);
}

/**
 * Prints (or writes to `-o`) the snapshot of every host that could be observed; each one that could not is named
 * on stderr with its error, and makes the exit code 1.
 */
export async function runObserve(inv: Invocation, term: Terminal): Promise<number> {
  const observations = await observeHosts(await hostsToObserve(inv), inv, term);
  const snapshots = observations.flatMap((o) => ('snapshot' in o ? [o.snapshot] : []));
  const failed = observations.flatMap((o) => ('error' in o ? [o] : []));
  const style = reportContext(inv, term, term.errStream).style;
  for (const f of failed) term.err(`${renderHostError(f.host.name, hostErrorReport(f.error), style)}\n`);
  if (snapshots.length > 0) {
    const json = render('observe', inv.format, { snapshots }, reportContext(inv, term, term.outStream));
    if (inv.out) {
      await writeUserFile(inv.out, json, 'the snapshot');
      if (!inv.common.quiet) term.err(`Wrote the snapshot of ${snapshots.map((s) => s.host).join(', ')} to ${inv.out}\n`);
    } else term.out(json);
  }
  return failed.length > 0 ? ExitCode.error : ExitCode.ok;
}
