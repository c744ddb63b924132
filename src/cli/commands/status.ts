/**
 * `passthru status` (SPEC 9): prints what the agent last recorded in `STATE_DIR/status.json` and exits like
 * `check`: 0 when every host is in-sync or applied, 2 when any is drifted, 1 for any other state or no status.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseStatusFile, STATUS_FILE, statusExitCode } from '../../agent/status.js';
import { PassthruError } from '../../errors.js';
import { errorCode } from '../../io/error-code.js';
import type { Invocation } from '../args.js';
import { reportContext } from '../context.js';
import { report } from '../reporters.js';
import type { Terminal } from '../terminal.js';

export async function runStatus(inv: Invocation, term: Terminal): Promise<number> {
  const file = path.join(inv.agent.stateDir, STATUS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PassthruError(`no agent status in ${inv.agent.stateDir}: cannot read ${file}: ${errorCode(err) ?? String(err)}`, {
      hint: 'the agent writes it after its first reconcile: check `systemctl status passthru-agent`, or pass the agent\'s --state-dir',
    });
  }
  const status = parseStatusFile(text, file);
  report(term, 'status', inv.format, { status }, reportContext(inv, term, term.outStream));
  return statusExitCode(status.hosts);
}
