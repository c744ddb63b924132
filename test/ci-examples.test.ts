/**
 * The CI examples (examples/ci/) run a real passthru command line: the `passthru check` of each is split as the
 * shell splits it and parsed by the CLI's own parseInvocation, its JUnit file is the one the CI publishes, the
 * report is published whatever the exit code (2 when drifted), and the package installed is this package.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseInvocation } from '../src/cli/args.js';

const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { name: string };

/** A simple shell command: its words (quotes and backslashes as sh reads them) and where `>` sends stdout. */
function shellCommand(line: string): { argv: string[]; stdout: string | null } {
  const words: string[] = [];
  let stdout: string | null = null;
  let redirect = false;
  const re = /\s*(?:(>)|((?:[^\s'"\\>|;&]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+)|(\S))/gy;
  for (let m = re.exec(line); m && m[0].trim() !== ''; m = re.exec(line)) {
    if (m[3] !== undefined) throw new Error(`not a simple command (${m[3]}): ${line}`);
    if (m[1]) {
      redirect = true;
      continue;
    }
    const word = (m[2] ?? '').replace(/'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)/g, (_, sq?: string, dq?: string, bs?: string) =>
      sq ?? (dq !== undefined ? dq.replace(/\\([$`"\\])/g, '$1') : (bs ?? '')),
    );
    if (redirect) [stdout, redirect] = [word, false];
    else words.push(word);
  }
  return { argv: words, stdout };
}

/** The one line of `lines` that runs `passthru check`, as the CLI parses it. */
function passthruCheck(lines: string[]) {
  const found = lines.filter((l) => /^\s*passthru check\b/m.test(l));
  expect(found).toHaveLength(1);
  const { argv, stdout } = shellCommand((found[0] ?? '').trim());
  expect(argv[0]).toBe('passthru');
  return { inv: parseInvocation(argv.slice(1), {}), stdout };
}

describe('shellCommand (the test\'s own word splitter)', () => {
  it('splits as sh does', () => {
    expect(shellCommand(`passthru check -f 'my fleet.yaml' --host "hv\\"1" a\\ b > out.xml`)).toEqual({
      argv: ['passthru', 'check', '-f', 'my fleet.yaml', '--host', 'hv"1', 'a b'],
      stdout: 'out.xml',
    });
    expect(() => shellCommand('passthru check | tee x')).toThrow('not a simple command');
  });
});

describe('examples/ci', () => {
  it('GitHub Actions: passthru check --format junit, published by a JUnit action even when the check fails', async () => {
    const wf = parse(await readFile('examples/ci/github-actions.yml', 'utf8')) as {
      permissions: Record<string, string>;
      jobs: Record<string, { steps: { name?: string; run?: string; uses?: string; if?: string; with?: Record<string, unknown> }[] }>;
    };
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    const { inv, stdout } = passthruCheck(steps.flatMap((s) => (s.run ? s.run.split('\n') : [])));
    expect(inv).toMatchObject({ command: 'check', format: 'junit', parallelism: 10, common: { file: 'passthrough.yaml', fileGiven: true } });
    const publish = steps.find((s) => s.uses?.startsWith('mikepenz/action-junit-report@'));
    expect(publish?.with?.report_paths).toBe(stdout);
    expect(publish?.if).toBe('always()');
    expect(wf.permissions.checks).toBe('write');
    expect(steps.some((s) => s.run?.includes(`npm install -g ${pkg.name}`))).toBe(true);
  });

  it('GitLab CI: passthru check --format junit, kept as the junit report whatever the exit code', async () => {
    const ci = parse(await readFile('examples/ci/gitlab-ci.yml', 'utf8')) as Record<
      string,
      { script: string[]; before_script: string[]; artifacts: { when: string; reports: { junit: string } } }
    >;
    const [job, ...others] = Object.values(ci);
    expect(others).toEqual([]);
    const { inv, stdout } = passthruCheck(job?.script ?? []);
    expect(inv).toMatchObject({ command: 'check', format: 'junit', parallelism: 10, common: { file: 'passthrough.yaml', fileGiven: true } });
    expect(job?.artifacts.reports.junit).toBe(stdout);
    expect(job?.artifacts.when).toBe('always');
    expect(job?.before_script).toContain(`npm install -g ${pkg.name}`);
  });
});
