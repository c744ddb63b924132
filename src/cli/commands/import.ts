/**
 * `passthru import`: brings an existing host under passthru by writing the passthrough.yaml that describes what
 * it has now (desired/import-yaml.ts). `-o FILE` never replaces an existing file unless `--force` is given.
 */
import { importedDesiredYaml } from '../../desired/import-yaml.js';
import { ExitCode } from '../../errors.js';
import { systemClock } from '../../io/clock.js';
import type { Invocation } from '../args.js';
import { snapshotsFor, writeUserFile } from '../context.js';
import { hostsToObserve } from './observe.js';
import type { Terminal } from '../terminal.js';

export async function runImport(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await hostsToObserve(inv);
  const snapshots = [...(await snapshotsFor(desired, inv, term)).values()];
  const text = importedDesiredYaml(snapshots, new Map(desired.hosts.map((h) => [h.name, h.uri])), systemClock.now());
  if (inv.out) {
    await writeUserFile(inv.out, text, 'the desired state', { overwrite: inv.force });
    if (!inv.common.quiet) term.err(`Wrote ${inv.out}; check it with: passthru plan -f ${inv.out}\n`);
  } else term.out(text);
  return ExitCode.ok;
}
