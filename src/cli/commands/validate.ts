/** `passthru validate`: the desired state checked offline. Errors surface as InputError from the loader. */
import { ExitCode } from '../../errors.js';
import type { Invocation } from '../args.js';
import { loadDesired, reportContext } from '../context.js';
import { report } from '../reporters.js';
import type { Terminal } from '../terminal.js';

export async function runValidate(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await loadDesired(inv);
  report(term, 'validate', inv.format, { desired }, reportContext(inv, term, term.outStream));
  return ExitCode.ok;
}
