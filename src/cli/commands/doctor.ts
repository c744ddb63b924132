/** `passthru doctor`: the runbook's host preflight (seed steps 1-5 and 14), each check with its remedy. */
import { ExitCode, UsageError } from '../../errors.js';
import { isLocalUri } from '../../desired/uri.js';
import { doctorChecks, type DoctorCheck } from '../../doctor/checks.js';
import { readDoctorFacts } from '../../observe/platform.js';
import { styleFor, type Style } from '../../render/style.js';
import type { Invocation } from '../args.js';
import type { Terminal } from '../terminal.js';

function renderCheck(c: DoctorCheck, style: Style): string {
  const mark = { pass: style.green('PASS'), warn: style.yellow('WARN'), fail: style.red('FAIL'), skip: style.dim('SKIP') }[c.status];
  const lines = [`${mark}  ${c.title}`, `      ${style.dim(c.detail)}`];
  if (c.remedy && c.status !== 'pass') lines.push(`      fix: ${c.remedy}`);
  return lines.join('\n');
}

export async function runDoctor(inv: Invocation, term: Terminal): Promise<number> {
  if (inv.common.connect && !isLocalUri(inv.common.connect)) {
    throw new UsageError(`doctor reads /sys and /proc of the machine it runs on; ${inv.common.connect} is a remote host`, {
      hint: 'run `passthru doctor` on that host itself (e.g. over ssh)',
    });
  }
  const checks = doctorChecks(await readDoctorFacts(inv.common.root));
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (inv.format === 'json') {
    term.out(`${JSON.stringify({ ok: failed === 0, checks }, null, 2)}\n`);
  } else {
    const style = styleFor(term.outStream, term.env, inv.common.noColor);
    term.out(`${checks.map((c) => renderCheck(c, style)).join('\n')}\n\n`);
    const warned = checks.filter((c) => c.status === 'warn').length;
    term.out(failed > 0 ? style.red(`${failed} check(s) failed: fix them before passing devices through.\n`) : style.green(`Ready for PCI passthrough${warned ? ` (${warned} warning(s))` : ''}.\n`));
  }
  return failed > 0 ? ExitCode.error : ExitCode.ok;
}
