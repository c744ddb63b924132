/**
 * `passthru import`: brings an existing host under passthru by writing the passthrough.yaml that describes what
 * it has now (desired/import-yaml.ts). `-o FILE` never replaces an existing file unless `--force` is given.
 */
import { ExitCode, HostError, PassthruError } from '../../errors.js';
import { systemClock } from '../../io/clock.js';
import type { Invocation } from '../args.js';
import { observeHosts, reportContext, writeUserFile } from '../context.js';
import { render } from '../reporters.js';
import { hostsToObserve } from './observe.js';
import type { Terminal } from '../terminal.js';

export async function runImport(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await hostsToObserve(inv);
  const observations = await observeHosts(desired, inv, term);
  const failed = observations.flatMap((o) => ('error' in o ? [o] : []));
  // The file describes every host or none: one written without a host would leave that host's VMs unmanaged.
  if (failed.length > 0) {
    const first = failed[0]?.error;
    const fix = first instanceof PassthruError && first.hint ? `${first.hint}; ` : '';
    throw new HostError(
      `cannot import: ${failed.length} of ${observations.length} host(s) could not be observed\n` +
        failed.map((f) => `  ${f.host.name}: ${f.error.message}`).join('\n'),
      { hint: `${fix}or import only the hosts that answer, with --host NAME` },
    );
  }
  const snapshots = observations.flatMap((o) => ('snapshot' in o ? [o.snapshot] : []));
  const uris = new Map(desired.hosts.map((h) => [h.name, h.uri]));
  const text = render('import', inv.format, { snapshots, uris, writtenAt: systemClock.now() }, reportContext(inv, term, term.outStream));
  if (inv.out) {
    await writeUserFile(inv.out, text, 'the desired state', { overwrite: inv.force });
    if (!inv.common.quiet) term.err(`Wrote ${inv.out}; check it with: passthru plan -f ${inv.out}\n`);
  } else term.out(text);
  return ExitCode.ok;
}
