/**
 * `passthru doctor`: the runbook's host preflight (seed steps 1-5 and 14), each check with its remedy, and whether
 * libvirt answers at the URI of each host that `plan` would connect to.
 */
import { UsageError } from '../../errors.js';
import { isLocalUri } from '../../desired/uri.js';
import { desiredStateChecks, doctorExitCode, runDoctor as diagnose } from '../../doctor/doctor.js';
import { libvirtChecks } from '../../doctor/libvirt.js';
import type { Invocation } from '../args.js';
import { makeVirsh, reportContext } from '../context.js';
import { report } from '../reporters.js';
import type { Terminal } from '../terminal.js';
import { hostsToObserve } from './observe.js';

export async function runDoctor(inv: Invocation, term: Terminal): Promise<number> {
  if (inv.common.connect && !isLocalUri(inv.common.connect)) {
    throw new UsageError(`doctor reads /sys and /proc of the machine it runs on; ${inv.common.connect} is a remote host`, {
      hint: 'run `passthru doctor` on that host itself (e.g. over ssh)',
    });
  }
  // `doctor -c URI` asks that URI only: doctor examines this machine, and a passthrough.yaml that happens to be in
  // the directory (one of several hosts, say) is no reason to refuse.
  const desired = await hostsToObserve(inv, inv.common.connect === null);
  const [{ checks }, competing, libvirt] = await Promise.all([
    diagnose(inv.common.root),
    desiredStateChecks(inv.common.root, desired),
    libvirtChecks(makeVirsh(inv, term), desired.hosts, inv.parallelism),
  ]);
  const all = [...checks, ...competing, ...libvirt];
  const code = doctorExitCode(all);
  report(term, 'doctor', inv.format, { checks: all, ok: code === 0 }, reportContext(inv, term, term.outStream));
  return code;
}
