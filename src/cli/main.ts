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
/** A command: takes the parsed invocation and the terminal, returns the exit code. */
export type Command = (inv: Invocation, term: Terminal) => Promise<number>;

/**
 * Each command's module, imported when it runs: a process runs one command, and `--version` or `validate` need
 * not load (nor the bundle evaluate) virsh's, apply's or the agent's code and the libraries only they use.
 */
const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.js')).runValidate,
  doctor: async () => (await import('./commands/doctor.js')).runDoctor,
  observe: async () => (await import('./commands/observe.js')).runObserve,
  plan: async () => (await import('./commands/plan.js')).runPlan,
  check: async () => (await import('./commands/plan.js')).runCheck,
  apply: async () => (await import('./commands/apply.js')).runApply,
  import: async () => (await import('./commands/import.js')).runImport,
  agent: async () => (await import('./commands/agent.js')).runAgentCommand,
  status: async () => (await import('./commands/status.js')).runStatus,
  verify: async () => (await import('./commands/verify.js')).runVerify,
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
    const command = await COMMANDS[inv.command]();
    return await command(inv, term);
  } catch (error) {
    if (!(error instanceof PassthruError)) {
      term.err(renderInternalError(error));
      return ExitCode.error;
    }
    term.err(renderError(error, styleFor(term.errStream, term.env, argv.includes('--no-color')), debug));
    return error.exitCode;
  }
}
