/**
 * The CLI as its own process, for what an in-process run cannot show: signals (Ctrl-C, SIGTERM) and the process's
 * exit. The TypeScript CLI is bundled once into a plain node script, placed two directories below the repository
 * root like `dist/bundle/passthru.js`, because the CLI finds `schemas/` and `package.json` relative to itself.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

/** A bundled CLI: `node <script> ARGS` behaves as `passthru ARGS`. */
export interface CliBundle {
  script: string;
  /** Removes the bundle. */
  remove(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Bundles src/cli/main.ts with an entry that runs it on the process's own argv and streams. */
export async function bundleCli(): Promise<CliBundle> {
  // test/.bundle-*/ is git-ignored; two levels below the root, so `../../schemas` resolves as in dist/bundle.
  const dir = await mkdtemp(path.join(ROOT, 'test', '.bundle-'));
  const entry = path.join(dir, 'entry.mjs');
  const main = JSON.stringify(path.join(ROOT, 'src/cli/main.ts'));
  await writeFile(entry, `import { main } from ${main};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  const script = path.join(dir, 'passthru.mjs');
  await build({
    input: entry,
    platform: 'node',
    logLevel: 'silent',
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    output: { file: script, format: 'esm', codeSplitting: false },
  });
  return { script, remove: () => rm(dir, { recursive: true, force: true }) };
}
