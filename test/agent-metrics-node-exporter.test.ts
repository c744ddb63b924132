/**
 * The honest check of passthru.prom: Debian's real node_exporter reads the agent's state dir with its textfile
 * collector, and a scrape of /metrics on loopback serves our metrics with their values — and
 * `node_textfile_scrape_error 0`, which it sets to 1 when any file does not parse. A second file with hostile
 * label values (quote, backslash, newline) checks the escaping against the real parser.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../src/agent/status.js';
import { renderMetrics } from '../src/render/metrics.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const missing = existsSync(NODE_EXPORTER)
  ? null
  : `SKIPPED: ${NODE_EXPORTER} is not installed — .ci/run must apt-get install -y prometheus-node-exporter for this test`;
if (missing) console.warn(`agent-metrics-node-exporter: ${missing}`);

const HOSTILE = 'rack "A"\\1\nx';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The value node_exporter serves for one series (it prints floats its own way: 1.7961195e+09). */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.skipIf(missing !== null)('passthru.prom read by node_exporter', () => {
  let dir: string;
  let root: string;
  let exporter: ChildProcess;
  let url: string;

  beforeAll(async () => {
    [dir, root] = await Promise.all([mkdtemp(path.join(tmpdir(), 'passthru-prom-')), seedHost().build()]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    exporter = spawn(NODE_EXPORTER, [`--collector.textfile.directory=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.textfile'], {
      stdio: 'ignore',
    });
  });
  afterAll(async () => {
    exporter?.kill('SIGTERM');
    await Promise.all([dir && rm(dir, { recursive: true, force: true }), root && removeFakeHost(root)]);
  });

  async function scrape(): Promise<string> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const r = await fetch(url);
        if (r.ok) return await r.text();
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`node_exporter did not answer on ${url}`);
      await sleep(100);
    }
  }

  it('serves the agent metrics with their values, and no scrape error', async () => {
    const testUri = `test://${path.resolve('examples/seed/libvirt-node.xml')}`;
    const run = await runCli(['agent', '--once', '-f', 'examples/seed/passthrough.yaml', '-c', testUri, '--root', root, '--state-dir', dir], {
      env: { PASSTHRU_STATE_DIR: path.join(dir, 'locks'), PASSTHRU_JOURNAL: path.join(dir, 'journal.jsonl') },
    });
    expect(run.code).toBe(2);
    const status = JSON.parse(await readFile(path.join(dir, 'status.json'), 'utf8')) as AgentStatus;
    // A second file, for a host whose name needs every escape.
    const hostile: AgentStatus = { ...status, source: { ...status.source, revision: null }, hosts: [{ ...status.hosts[0]!, name: HOSTILE, state: 'in-sync', changes: 0 }] };
    await writeFile(path.join(dir, 'hostile.prom'), renderMetrics(hostile, [{ host: HOSTILE, lastSuccess: null, applies: { applied: 2, failed: 0, 'rollback-failed': 0 } }]));

    const body = await scrape();
    expect(value(body, 'node_textfile_scrape_error')).toBe(0);
    expect(body).toContain('# TYPE passthru_host_state gauge');
    expect(body).toContain('# TYPE passthru_applies_total counter');
    expect(body).toContain('# HELP passthru_plan_blocked 1 when the host\'s last plan has a blocking problem and was not applied, else 0.');
    expect(value(body, 'passthru_host_in_sync{host="local"}')).toBe(0);
    expect(value(body, 'passthru_host_state{host="local",state="drifted"}')).toBe(1);
    expect(value(body, 'passthru_host_state{host="local",state="in-sync"}')).toBe(0);
    expect(value(body, 'passthru_plan_changes{host="local"}')).toBe(3);
    expect(value(body, 'passthru_plan_blocked{host="local"}')).toBe(0);
    expect(value(body, 'passthru_applies_total{host="local",result="applied"}')).toBe(0);
    expect(value(body, `passthru_desired_revision_info{revision="${status.source.revision}"}`)).toBe(1);
    const reconciled = value(body, 'passthru_last_reconcile_timestamp_seconds{host="local"}') ?? 0;
    expect(Math.abs(reconciled - Date.parse(status.hosts[0]?.lastReconcile ?? '') / 1000)).toBeLessThan(1);
    // node_exporter read the hostile label back to the same string and prints it escaped again.
    expect(value(body, 'passthru_host_in_sync{host="rack \\"A\\"\\\\1\\nx"}')).toBe(1);
    expect(value(body, 'passthru_applies_total{host="rack \\"A\\"\\\\1\\nx",result="applied"}')).toBe(2);
    // Its own record of the files it read.
    expect(body).toMatch(new RegExp(`node_textfile_mtime_seconds\\{file="${path.join(dir, 'passthru.prom').replace(/[/.]/g, '\\$&')}"\\}`));
  });

  it('a file that does not parse is reported as a scrape error (the check above is not vacuous)', async () => {
    await writeFile(path.join(dir, 'broken.prom'), 'passthru_host_in_sync{host="x} 1\n');
    const body = await scrape();
    expect(value(body, 'node_textfile_scrape_error')).toBe(1);
    await rm(path.join(dir, 'broken.prom'));
  });
});
