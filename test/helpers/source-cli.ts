/**
 * The CLI built from src/ into one file (with rolldown, as scripts/bundle-cli.js builds dist/), for tests that need
 * it in a process of its own: to cap its memory (`--max-old-space-size`), which an in-process run cannot do. It is
 * built from the source under test, not from a dist/ that may be stale.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'rolldown';

/** A CLI run in a child process. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the run. */
  ms: number;
}

/** Bundles src/cli/main.ts into `dir`; returns a function that runs it with `argv`. */
export async function buildSourceCli(dir: string): Promise<(argv: string[], o: { env?: NodeJS.ProcessEnv; maxOldSpaceMb?: number }) => Promise<ProcessResult>> {
  await build({
    input: path.resolve('src/cli/main.ts'),
    platform: 'node',
    logLevel: 'warn',
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    output: { file: path.join(dir, 'passthru.mjs'), format: 'esm', codeSplitting: false },
  });
  const launcher = path.join(dir, 'launch.mjs');
  await writeFile(launcher, "import { main } from './passthru.mjs';\nprocess.exitCode = await main(process.argv.slice(2));\n");
  return (argv, o) =>
    new Promise((resolve) => {
      const start = performance.now();
      const flags = o.maxOldSpaceMb ? [`--max-old-space-size=${o.maxOldSpaceMb}`] : [];
      execFile(process.execPath, [...flags, launcher, ...argv], { env: o.env, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - start });
      });
    });
}
