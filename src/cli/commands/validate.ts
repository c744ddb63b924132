/** `passthru validate`: the desired state checked offline. Errors surface as InputError from the loader. */
import { ExitCode } from '../../errors.js';
import type { Invocation } from '../args.js';
import { loadDesired } from '../context.js';
import type { Terminal } from '../terminal.js';

export async function runValidate(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await loadDesired(inv);
  const claims = desired.vms.reduce((n, vm) => n + vm.devices.length, 0);
  if (inv.format === 'json') {
    term.out(`${JSON.stringify({ valid: true, file: desired.file, hosts: desired.hosts.length, vms: desired.vms.length }, null, 2)}\n`);
  } else if (!inv.common.quiet) {
    term.out(`${desired.file}: valid (${desired.hosts.length} host(s), ${desired.vms.length} VM(s), ${claims} device entr${claims === 1 ? 'y' : 'ies'})\n`);
  }
  return ExitCode.ok;
}
