/**
 * The CLI entry: parse, dispatch, and the ONE place where errors are caught and turned into a message and an
 * exit code. Known errors print their message (every diagnostic of a bad file on its own `Error:` line) with the
 * hint and the cause's short message; unknown ones print the stack, because they are bugs.
 */
import { ExitCode, PassthruError } from '../errors.js';
import { renderError, renderInternalError } from '../render/error-text.js';
import { printable } from '../render/printable.js';
import { styleFor } from '../render/style.js';
import { parseInvocation, type CommandName, type Invocation } from './args.js';
import { helpText } from './help.js';
import { packageInfo } from './package-info.js';
import type { Terminal } from './terminal.js';
import { processTerminal } from './terminal.js';
import { runValidate } from './commands/validate.js';
import { runDoctor } from './commands/doctor.js';
import { runObserve } from './commands/observe.js';
import { runPlan, runCheck } from './commands/plan.js';
import { runApply } from './commands/apply.js';
import { runImport } from './commands/import.js';
import { runAgentCommand } from './commands/agent.js';
import { runStatus } from './commands/status.js';
import { runVerify } from './commands/verify.js';

/** A command: takes the parsed invocation and the terminal, returns the exit code. */
export type Command = (inv: Invocation, term: Terminal) => Promise<number>;

const COMMANDS: Record<CommandName, Command> = {
  validate: runValidate,
  doctor: runDoctor,
  observe: runObserve,
  plan: runPlan,
  check: runCheck,
  apply: runApply,
  import: runImport,
  agent: runAgentCommand,
  status: runStatus,
  verify: runVerify,
};

/**
 * The terminal with everything written to stderr made printable: stderr is always for humans (errors, warnings,
 * apply's progress), and a line there may quote a host's text that no renderer escaped (virsh's stderr in a
 * failed step). passthru's own colours and the layout pass.
 */
function escapingStderr(term: Terminal): Terminal {
  return { ...term, err: (text) => term.err(printable(text, { layout: true, style: true })) };
}

/** Runs the CLI and returns its exit code; `term` defaults to the real process streams. */
export async function main(argv: readonly string[], terminal: Terminal = processTerminal()): Promise<number> {
  const term = escapingStderr(terminal);
  let debug = argv.includes('--debug');
  try {
    const inv = parseInvocation(argv, term.env);
    debug = inv.common.debug;
    if (inv.command === 'version') {
      term.out(`${packageInfo().version}\n`);
      return ExitCode.ok;
    }
    if (inv.command === 'help') {
      term.out(helpText(inv.topic));
      return ExitCode.ok;
    }
    return await COMMANDS[inv.command](inv, term);
  } catch (error) {
    if (!(error instanceof PassthruError)) {
      term.err(renderInternalError(error));
      return ExitCode.error;
    }
    term.err(renderError(error, styleFor(term.errStream, term.env, argv.includes('--no-color')), debug));
    return error.exitCode;
  }
}
