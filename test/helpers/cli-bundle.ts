/**
 * The CLI as a real child process, built from the sources under test: `src/cli/main.ts` bundled (rolldown, as
 * scripts/bundle-cli.js does for the package) into a temp dir, with a launcher like bin/passthru.js. The agent
 * needs this — signals, process exit, a long-running process — where runCli's in-process calls cannot go.
 *
 * The bundle sits two levels below the temp dir, which links the package's schemas/ and package.json: the modules
 * find them relative to their own URL, like dist/bundle/passthru.js does.
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A built CLI: run `node launcher ARGS`. */
export interface CliBundle {
  /** The executable launcher (`#!/usr/bin/env node`), also runnable as `process.execPath launcher`. */
  launcher: string;
  remove(): Promise<void>;
}

/** Bundles the CLI from the current sources. Takes ~1 s. */
export async function bundleCli(): Promise<CliBundle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passthru-cli-bundle-'));
  await symlink(path.join(REPO, 'schemas'), path.join(dir, 'schemas'));
  await symlink(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  await mkdir(path.join(dir, 'dist', 'bundle'), { recursive: true });
  const bundle = path.join(dir, 'dist', 'bundle', 'passthru.js');
  await build({
    input: path.join(REPO, 'src', 'cli', 'main.ts'),
    platform: 'node',
    logLevel: 'silent',
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    // One file, as scripts/bundle-cli.js makes it: the commands' dynamic imports stay in it.
    output: { file: bundle, format: 'esm', codeSplitting: false },
  });
  const launcher = path.join(dir, 'passthru');
  await writeFile(launcher, `#!/usr/bin/env node\nimport { main } from ${JSON.stringify(bundle)};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  await chmod(launcher, 0o755);
  return { launcher, remove: () => rm(dir, { recursive: true, force: true }) };
}
