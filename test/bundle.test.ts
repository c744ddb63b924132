/**
 * The package as an operator gets it: its npm name is one passthru owns (`passthru` is an unrelated package that
 * `npx passthru` outside a checkout would download and run, as root under sudo), and the bundled CLI runs as one
 * file copied anywhere, without package.json or schemas/ beside it.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const run = promisify(execFile);
const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { name: string; version: string; bin: Record<string, string> };

describe('the npm package', () => {
  it('is not named `passthru` (taken on the registry by an unrelated package); the command still is', () => {
    expect(pkg.name).toBe('passthru-vfio');
    expect(Object.keys(pkg.bin)).toEqual(['passthru']);
  });

  it('import writes a $schema path into the installed package', async () => {
    const r = await runCli(['import', '--snapshot', 'examples/seed/snapshot.json', '-f', 'examples/seed/passthrough.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./node_modules/passthru-vfio/schemas/passthrough.schema.json',
    );
  });
});

describe('dist/bundle/passthru.js', () => {
  let dir: string;
  beforeAll(async () => {
    // Bundled from src/ by the build's own script, so this tests the code under test, not a stale dist/.
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-bundle-'));
    await run(process.execPath, ['scripts/bundle-cli.js', 'src/cli/run.ts', path.join(dir, 'passthru.js')]);
    await Promise.all(['passthrough.yaml', 'snapshot.json'].map((f) => copyFile(path.join('examples/seed', f), path.join(dir, f))));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('runs on its own, copied alone into an empty directory', async () => {
    const version = await run(process.execPath, ['passthru.js', '--version'], { cwd: dir });
    expect(version.stdout).toBe(`${pkg.version}\n`);
    const plan = await run(process.execPath, ['passthru.js', 'plan', '--snapshot', 'snapshot.json', '--no-color'], { cwd: dir });
    expect(plan.stdout).toContain('Plan: 1 to bind to vfio-pci, 0 to return to the host, 1 hostdev(s) to attach');
    // --snapshot is validated against schemas/snapshot.schema.json, inlined in the bundle.
    const json = await run(process.execPath, ['passthru.js', 'plan', '--snapshot', 'snapshot.json', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ format_version: '1', applyable: true });
  });

  it('is executable by itself (shebang, mode)', async () => {
    const r = await run(path.join(dir, 'passthru.js'), ['--version'], { cwd: dir });
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });
});
