/**
 * The process streams and environment behind one small interface, so that commands can be run in-process by
 * tests and their output captured.
 */
import { createInterface } from 'node:readline/promises';

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** Asks a yes/no question; resolves false when stdin is not a terminal. */
  confirm(question: string): Promise<boolean>;
  outStream: { isTTY?: boolean };
  errStream: { isTTY?: boolean };
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export function processTerminal(): Terminal {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    confirm: async (question) => {
      if (!process.stdin.isTTY) return false;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim() === 'yes';
      } finally {
        rl.close();
      }
    },
    outStream: process.stdout,
    errStream: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    env: process.env,
  };
}
