/** `passthru doctor`: the runbook's host preflight (seed steps 1-5 and 14), each check with its remedy. */
import { UsageError } from '../../errors.js';
import { isLocalUri } from '../../desired/uri.js';
import { doctorExitCode, formatDoctorText, runDoctor as diagnose } from '../../doctor/doctor.js';
import { styleFor } from '../../render/style.js';
import type { Invocation } from '../args.js';
import type { Terminal } from '../terminal.js';

export async function runDoctor(inv: Invocation, term: Terminal): Promise<number> {
  if (inv.common.connect && !isLocalUri(inv.common.connect)) {
    throw new UsageError(`doctor reads /sys and /proc of the machine it runs on; ${inv.common.connect} is a remote host`, {
      hint: 'run `passthru doctor` on that host itself (e.g. over ssh)',
    });
  }
  const { checks } = await diagnose(inv.common.root);
  const code = doctorExitCode(checks);
  if (inv.format === 'json') {
    term.out(`${JSON.stringify({ ok: code === 0, checks }, null, 2)}\n`);
  } else {
    const style = styleFor(term.outStream, term.env, inv.common.noColor);
    term.out(formatDoctorText(checks, style));
    term.out(code === 0 ? style.green('Ready for PCI passthrough.\n') : style.red('Fix the failed checks before passing devices through.\n'));
  }
  return code;
}
