/**
 * Runs the CLI in-process with captured streams: the same `main()` the `passthru` binary calls, so that tests
 * see exactly the user's output and exit code without a node process per case.
 */
import { main } from '../../src/cli/main.js';
import type { Terminal } from '../../src/cli/terminal.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  tty?: boolean;
  /** Answer to a confirmation prompt. */
  answer?: boolean;
}

export async function runCli(argv: string[], o: RunCliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const tty = o.tty ?? false;
  const term: Terminal = {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    confirm: async () => o.answer ?? false,
    outStream: { isTTY: tty },
    errStream: { isTTY: tty },
    stdinIsTTY: tty,
    env: { PATH: process.env.PATH, ...o.env },
  };
  const code = await main(argv, term);
  return { code, stdout, stderr };
}
