/**
 * `passthru agent` end to end in check mode, as a real child process (the CLI built from these sources): libvirt's
 * test driver serves the seed's domains, a fake sysfs tree the seed host's devices. What is checked is what an
 * operator and a dashboard see — exit codes, status.json, passthru.prom, `passthru status`, the log — and that the
 * agent follows its source (a new git commit, an edited file), SIGHUP, and exits 0 on SIGTERM.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { iommuOffHost, removeFakeHost, seedHost } from './helpers/fake-host.js';
import { bundleCli, type CliBundle } from './helpers/cli-bundle.js';
import { startAgent, type AgentProcess } from './helpers/agent-process.js';
import { createTestRepo } from './helpers/git-repo.js';
import { runCli } from './helpers/run-cli.js';

const SEED_YAML = 'examples/seed/passthrough.yaml';
const TEST_URI = `test://${path.resolve('examples/seed/libvirt-node.xml')}`;
/** The seed host claims nothing: in sync with any host. */
const IN_SYNC_YAML = 'version: 1\n';

let cli: CliBundle;
let seedRoot: string;
let tmp: string;
beforeAll(async () => {
  [cli, seedRoot, tmp] = await Promise.all([bundleCli(), seedHost().build(), mkdtemp(path.join(tmpdir(), 'passthru-agent-cli-'))]);
});
afterAll(async () => {
  await Promise.all([cli?.remove(), seedRoot && removeFakeHost(seedRoot), tmp && rm(tmp, { recursive: true, force: true })]);
});

let n = 0;
/** A fresh state dir and lock dir for one agent. */
async function dirs() {
  const dir = await mkdtemp(path.join(tmp, `case-${n++}-`));
  return { dir, stateDir: path.join(dir, 'state'), env: { PASSTHRU_STATE_DIR: path.join(dir, 'locks'), PASSTHRU_JOURNAL: path.join(dir, 'journal.jsonl') } };
}

/** Starts an agent against the seed host (test driver + fake sysfs) and kills it when the test ends. */
function agent(args: string[], stateDir: string, env: NodeJS.ProcessEnv, root = seedRoot): AgentProcess {
  const a = startAgent(cli.launcher, ['agent', ...args, '-c', TEST_URI, '--root', root, '--state-dir', stateDir], stateDir, env);
  onTestFinished(() => a.kill());
  return a;
}

const sha256 = async (file: string) => `sha256:${createHash('sha256').update(await readFile(file)).digest('hex')}`;

/** The value of one sample in a metrics file. */
function sample(prom: string, series: string): number | undefined {
  const line = prom.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('passthru agent --once (check mode)', () => {
  it('drifted seed host: exit 2, status.json and passthru.prom say so, passthru status agrees', async () => {
    const { stateDir, env } = await dirs();
    const a = agent(['--once', '-f', SEED_YAML], stateDir, env);
    expect(await a.exited).toBe(2);
    const status = await a.status();
    const revision = await sha256(SEED_YAML);
    expect(status).toMatchObject({
      format_version: '1',
      agent: { pid: a.proc.pid, mode: 'check' },
      source: { location: path.resolve(SEED_YAML), revision },
      hosts: [{ name: 'local', state: 'drifted', revision, changes: 3, problems: [], consecutiveFailures: 0, lastApply: null, nextAttempt: null }],
    });
    const host = status?.hosts[0];
    expect(Date.parse(host?.lastReconcile ?? '')).toBeGreaterThan(Date.parse(status?.agent.started ?? ''));
    expect(host?.since).toBe(host?.lastReconcile);
    expect(Object.keys(status ?? {})).toEqual(['format_version', 'agent', 'source', 'hosts']);
    expect(Object.keys(host ?? {})).toEqual(['name', 'state', 'since', 'lastReconcile', 'lastApply', 'revision', 'changes', 'problems', 'consecutiveFailures', 'nextAttempt']);

    const prom = await readFile(path.join(stateDir, 'passthru.prom'), 'utf8');
    expect(sample(prom, 'passthru_host_in_sync{host="local"}')).toBe(0);
    expect(sample(prom, 'passthru_host_state{host="local",state="drifted"}')).toBe(1);
    expect(sample(prom, 'passthru_host_state{host="local",state="in-sync"}')).toBe(0);
    expect(sample(prom, 'passthru_plan_changes{host="local"}')).toBe(3);
    expect(sample(prom, 'passthru_plan_blocked{host="local"}')).toBe(0);
    expect(sample(prom, 'passthru_last_reconcile_timestamp_seconds{host="local"}')).toBe(Date.parse(host?.lastReconcile ?? '') / 1000);
    expect(sample(prom, `passthru_desired_revision_info{revision="${revision}"}`)).toBe(1);
    expect(prom).not.toContain('passthru_last_success_timestamp_seconds{');

    expect(a.lines).toContain(
      `info: local: drifted at revision ${revision.slice(0, 19)}: 3 change(s) pending (check mode: not applied): nodedev-detach 0000:07:00.0, attach-hostdev 0000:07:00.0 (rhel7.3), remove-interface 52:54:00:4f:3a:02 (rhel7.3)`,
    );
    // Off journald a text line carries its time; under journald (JOURNAL_STREAM set) the journal stamps it.
    expect(a.raw[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info: passthru agent: check mode, source /);
    const text = await runCli(['status', '--state-dir', stateDir]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain(`local: drifted since`);
    const json = await runCli(['status', '--state-dir', stateDir, '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(status);
  });

  it('in sync: exit 0; the last success is a metric', async () => {
    const { dir, stateDir, env } = await dirs();
    const file = path.join(dir, 'passthrough.yaml');
    await writeFile(file, IN_SYNC_YAML);
    const a = agent(['--once', '--source', file], stateDir, { ...env, JOURNAL_STREAM: '8:1234' });
    expect(await a.exited).toBe(0);
    expect(a.raw[0]).toMatch(/^info: passthru agent: check mode, /);
    expect((await a.status())?.hosts[0]).toMatchObject({ state: 'in-sync', changes: 0 });
    const prom = await readFile(path.join(stateDir, 'passthru.prom'), 'utf8');
    expect(sample(prom, 'passthru_host_in_sync{host="local"}')).toBe(1);
    expect(sample(prom, 'passthru_last_success_timestamp_seconds{host="local"}')).toBeGreaterThan(0);
    expect((await runCli(['status', '--state-dir', stateDir])).code).toBe(0);
  });

  it('blocked (IOMMU off): exit 1, every problem recorded, passthru_plan_blocked 1', async () => {
    const { stateDir, env } = await dirs();
    const off = await iommuOffHost().build();
    onTestFinished(() => removeFakeHost(off));
    const a = agent(['--once', '-f', SEED_YAML], stateDir, env, off);
    expect(await a.exited).toBe(1);
    const host = (await a.status())?.hosts[0];
    expect(host).toMatchObject({ state: 'blocked', changes: 3 });
    expect(host?.problems.map((p) => p.code)).toContain('iommu-disabled');
    expect(sample(await readFile(path.join(stateDir, 'passthru.prom'), 'utf8'), 'passthru_plan_blocked{host="local"}')).toBe(1);
    expect((await runCli(['status', '--state-dir', stateDir])).code).toBe(1);
  });

  it('invalid YAML: exit 1, the positioned error in the status; a missing file likewise', async () => {
    const { dir, stateDir, env } = await dirs();
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nvms:\n  rhel7.3:\n    devices:\n      - adress: "0000:07:00.0"\n');
    const a = agent(['--once', '--source', file], stateDir, env);
    expect(await a.exited).toBe(1);
    expect((await a.status())?.hosts[0]).toMatchObject({ name: 'local', state: 'invalid', problems: [{ code: 'source-invalid', message: expect.stringContaining(`${file}:5:9: unknown key "adress"`) }] });
    expect(a.lines.some((l) => l.startsWith('error: source invalid at revision sha256:'))).toBe(true);

    const missing = await dirs();
    const m = agent(['--once', '--source', path.join(dir, 'nope.yaml')], missing.stateDir, missing.env);
    expect(await m.exited).toBe(1);
    expect((await m.status())?.hosts[0]).toMatchObject({ state: 'invalid', revision: null, problems: [{ code: 'source-missing' }] });
  });

  it('a malformed --source is a positioned error at start, exit 1, with no status written', async () => {
    const { stateDir, env } = await dirs();
    const a = agent(['--once', '--source', 'git+file:///srv/infra.git#main'], stateDir, env);
    expect(await a.exited).toBe(1);
    expect(a.lines.join('\n')).toContain('--source:1:31: a git source needs ":PATH" after the ref "main"');
    expect(await a.status()).toBeNull();
  });

  it('a state dir that cannot be created is an error at start, in bounded time (mkdir -p under /proc spun forever)', async () => {
    const { env } = await dirs();
    // procfs refuses mkdir with ENOENT although the parent exists, which sent Node's recursive mkdir into a loop.
    const stateDir = '/proc/passthru-agent-test/state';
    const a = startAgent(cli.launcher, ['agent', '--once', '-f', SEED_YAML, '--state-dir', stateDir], stateDir, env);
    const killer = setTimeout(() => a.proc.kill('SIGKILL'), 10_000);
    onTestFinished(() => clearTimeout(killer));
    expect(await a.exited).toBe(1);
    expect(a.lines.join('\n')).toContain(`cannot use the state dir ${stateDir}: ENOENT`);
  });

  it('passthru status without a status: exit 1, says where it looked', async () => {
    const { stateDir } = await dirs();
    const r = await runCli(['status', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no agent status in ${stateDir}: cannot read ${path.join(stateDir, 'status.json')}: ENOENT`);
  });

  it('--log-format json: every line is one JSON object', async () => {
    const { stateDir, env } = await dirs();
    const a = agent(['--once', '-f', SEED_YAML, '--log-format', 'json'], stateDir, { ...env, JOURNAL_STREAM: '8:1234' });
    expect(await a.exited).toBe(2);
    const records = a.raw.map((l) => JSON.parse(l) as { level: string; msg: string; host?: string; state?: string });
    expect(records.length).toBeGreaterThan(1);
    expect(records.find((r) => r.state === 'drifted')).toMatchObject({ level: 'info', host: 'local' });
  });
});

describe('passthru agent (running, check mode)', () => {
  it('follows a git branch: a new commit is picked up at the next interval; SIGTERM exits 0', async () => {
    const repo = await createTestRepo();
    onTestFinished(() => repo.remove());
    const c1 = await repo.commit({ 'hv1/passthrough.yaml': await readFile(SEED_YAML, 'utf8') });
    const { stateDir, env } = await dirs();
    const a = agent(['--source', `git+${repo.url}#main:hv1/passthrough.yaml`, '--interval', '500ms'], stateDir, { ...env, ...repo.env });
    const first = await a.waitForStatus('the first reconcile', (s) => s.hosts[0]?.revision === c1);
    expect(first.source).toEqual({ location: `git+${repo.url}#main:hv1/passthrough.yaml`, revision: c1 });
    expect(first.hosts[0]).toMatchObject({ state: 'drifted', changes: 3 });
    const c2 = await repo.commit({ 'hv1/passthrough.yaml': IN_SYNC_YAML });
    const second = await a.waitForStatus('the new commit', (s) => s.hosts[0]?.revision === c2);
    expect(second.hosts[0]).toMatchObject({ state: 'in-sync', changes: 0, consecutiveFailures: 0 });
    expect(a.lines.some((l) => l === `info: source at revision ${c2.slice(0, 12)}`)).toBe(true);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.lines).toContain('info: SIGTERM: stopping');
  });

  it('SIGHUP reconciles now; an edited file is picked up without waiting for the interval', async () => {
    const { dir, stateDir, env } = await dirs();
    const file = path.join(dir, 'passthrough.yaml');
    await writeFile(file, await readFile(SEED_YAML, 'utf8'));
    const a = agent(['--source', file, '--interval', '1h'], stateDir, env);
    const first = await a.waitForStatus('the first reconcile', (s) => s.hosts.length === 1);
    expect(first.hosts[0]?.state).toBe('drifted');
    a.proc.kill('SIGHUP');
    await a.waitForStatus('the SIGHUP reconcile', (s) => s.hosts[0]?.lastReconcile !== first.hosts[0]?.lastReconcile);
    expect(a.lines).toContain('info: SIGHUP: reconciling now');
    // An editor's save (a new file renamed over the old one) is seen by the directory watch, debounced 2 s.
    await writeFile(`${file}.new`, IN_SYNC_YAML);
    await rename(`${file}.new`, file);
    const edited = await a.waitForStatus('the edit', (s) => s.hosts[0]?.state === 'in-sync', 10_000);
    expect(edited.source.revision).toBe(await sha256(file));
    a.proc.kill('SIGINT');
    expect(await a.exited).toBe(0);
  });

  it('an unreachable git remote is a status, not a crash: the agent keeps running', async () => {
    const { dir, stateDir, env } = await dirs();
    const repo = await createTestRepo();
    onTestFinished(() => repo.remove());
    const a = agent(['--source', `git+file://${dir}/no-such.git#main:passthrough.yaml`, '--interval', '500ms'], stateDir, { ...env, ...repo.env });
    const s = await a.waitForStatus('the first reconcile', (x) => x.hosts.length === 1);
    expect(s.hosts[0]).toMatchObject({ name: 'local', state: 'unreachable', consecutiveFailures: 1, problems: [{ code: 'source-unreachable' }] });
    expect(Date.parse(s.hosts[0]?.nextAttempt ?? '') - Date.parse(s.hosts[0]?.lastReconcile ?? '')).toBeGreaterThanOrEqual(8_000);
    expect(a.lines.find((l) => l.startsWith('warn: local: source unreachable:'))).toMatch(/retry in \d+(\.\d+)?s \(failure 1 in a row\)$/);
    expect(a.proc.exitCode).toBeNull();
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
  });
});
