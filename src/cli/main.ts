/**
 * The CLI entry: parse, dispatch, and the ONE place where errors are caught and turned into a message and an
 * exit code. Known errors print one line (plus the hint and the cause's short message); unknown ones print the
 * stack, because they are bugs.
 */
import { readFileSync } from 'node:fs';
import { ExitCode, PassthruError } from '../errors.js';
import { styleFor } from '../render/style.js';
import { parseInvocation, type CommandName, type Invocation } from './args.js';
import { helpText } from './help.js';
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
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI and returns its exit code; `term` defaults to the real process streams. */
export async function main(argv: readonly string[], term: Terminal = processTerminal()): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const inv = parseInvocation(argv, term.env);
    debug = inv.common.debug;
    if (inv.command === 'version') {
      term.out(`${version()}\n`);
      return ExitCode.ok;
    }
    if (inv.command === 'help') {
      term.out(helpText(inv.topic));
      return ExitCode.ok;
    }
    return await COMMANDS[inv.command](inv, term);
  } catch (error) {
    const style = styleFor(term.errStream, term.env, argv.includes('--no-color'));
    if (error instanceof PassthruError) {
      const lines = [`${style.red(style.bold('Error:'))} ${error.message}`];
      const cause = error.cause as { shortMessage?: string; message?: string } | undefined;
      if (cause && !debug) lines.push(`  cause: ${cause.shortMessage ?? cause.message ?? String(cause)}`);
      if (error.hint) lines.push(`  fix: ${error.hint}`);
      if (debug) lines.push(error.stack ?? '', ...(cause ? [`cause: ${String((cause as Error).stack ?? cause.message)}`] : []));
      term.err(`${lines.join('\n')}\n`);
      return error.exitCode;
    }
    term.err(`passthru: internal error (a bug — please report it with this output):\n${(error as Error).stack ?? String(error)}\n`);
    return ExitCode.error;
  }
}
