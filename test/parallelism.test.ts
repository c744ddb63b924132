/**
 * `--parallelism N` (SPEC 12) from the command line: 12 hosts (each its own libvirt test-driver file, observed
 * through the fake host tree) reached through a virsh shim that holds every call 0.3 s, a stand-in for a remote
 * round trip, and logs when each call started and ended. The hosts worked on at once are read back from that log:
 * never more than N, and N really reached (the bound is not a serial loop).
 */
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../src/model/plan.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';
import { findRealVirsh } from './helpers/virsh-shim.js';

const virsh = findRealVirsh();
const HOSTS = Array.from({ length: 12 }, (_, i) => `hv${String(i + 1).padStart(2, '0')}`);

/** One logged virsh call: when it ran (ns since the epoch) and the URI it was given with `-c`. */
interface Call {
  start: bigint;
  end: bigint;
  uri: string;
}

/**
 * The largest number of hosts in flight at once: each host's span runs from its first call's start to its last
 * call's end (a subset of the time passthru spent on it, so this never over-counts).
 */
function maxHostsAtOnce(calls: Call[]): number {
  const spans = new Map<string, { start: bigint; end: bigint }>();
  for (const c of calls) {
    const s = spans.get(c.uri);
    spans.set(c.uri, s ? { start: s.start < c.start ? s.start : c.start, end: s.end > c.end ? s.end : c.end } : { start: c.start, end: c.end });
  }
  // Ends sort before starts at the same instant: a host that ended as another began was not in flight with it.
  const edges = [...spans.values()].flatMap((s) => [
    { t: s.start, d: 1 },
    { t: s.end, d: -1 },
  ]);
  edges.sort((a, b) => (a.t === b.t ? a.d - b.d : a.t < b.t ? -1 : 1));
  let now = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (now += e.d));
  return max;
}

describe.skipIf(!virsh)('--parallelism bounds the hosts worked on at once', () => {
  let dir: string;
  let root: string;
  let file: string;
  let shim: string;
  let log: string;
  const uris = new Map<string, string>();

  beforeAll(async () => {
    [dir, root] = await Promise.all([mkdtemp(path.join(tmpdir(), 'passthru-parallel-')), seedHost().build()]);
    for (const h of HOSTS) {
      const xml = path.join(dir, `${h}.xml`);
      await copyFile('examples/seed/libvirt-node.xml', xml);
      uris.set(h, `test://${xml}`);
    }
    file = path.join(dir, 'fleet.yaml');
    await writeFile(
      file,
      ['version: 1', 'hosts:', ...HOSTS.map((h) => `  ${h}: { uri: "${uris.get(h)}" }`), ''].join('\n'),
    );
    log = path.join(dir, 'calls.log');
    shim = path.join(dir, 'virsh');
    // mkdtemp names hold no quote, so single-quoting the paths is enough. The hold comes before the real call, like
    // a round trip; the line is appended once the call is over, so a line is never interleaved with another's.
    await writeFile(
      shim,
      [
        '#!/bin/sh',
        'start=$(date +%s%N)',
        'uri=; prev=',
        'for a in "$@"; do [ "$prev" = "-c" ] && uri=$a; prev=$a; done',
        'sleep 0.3',
        `'${virsh}' "$@"`,
        'rc=$?',
        `echo "$start $(date +%s%N) $uri" >> '${log}'`,
        'exit $rc',
        '',
      ].join('\n'),
    );
    await chmod(shim, 0o755);
  });
  beforeEach(async () => writeFile(log, ''));
  afterAll(async () => Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]));

  const calls = async (): Promise<Call[]> =>
    (await readFile(log, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [start = '', end = '', uri = ''] = l.split(' ');
        return { start: BigInt(start), end: BigInt(end), uri };
      });
  const plan = (...flags: string[]) => runCli(['plan', '-f', file, '--root', root, '--virsh', shim, '--format', 'json', ...flags]);

  it('--parallelism 3 over 12 hosts: at most 3 at once, 3 reached, every host planned in the file\'s order', async () => {
    const r = await plan('--parallelism', '3');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Plan;
    expect(out.hosts.map((h) => [h.name, h.error])).toEqual(HOSTS.map((h) => [h, undefined]));
    const logged = await calls();
    expect(new Set(logged.map((c) => c.uri))).toEqual(new Set(uris.values()));
    expect(maxHostsAtOnce(logged)).toBe(3);
  });

  it('the default is 10 at once', async () => {
    const r = await plan();
    expect(r.code).toBe(0);
    expect(maxHostsAtOnce(await calls())).toBe(10);
  });

  it('check, observe and doctor are bounded too', async () => {
    for (const argv of [
      ['check', '-f', file],
      ['observe', '-f', file],
      ['doctor', '-f', file],
    ]) {
      await writeFile(log, '');
      await runCli([...argv, '--root', root, '--virsh', shim, '--parallelism', '4']);
      const logged = await calls();
      expect(new Set(logged.map((c) => c.uri)).size, argv[0]).toBe(12);
      expect(maxHostsAtOnce(logged), argv[0]).toBe(4);
    }
  });

  it('a host that fails does not stop the others (one host file removed)', async () => {
    const gone = path.join(dir, 'hv05.xml');
    await rm(gone);
    try {
      const r = await plan('--parallelism', '4');
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as Plan;
      expect(out.hosts.filter((h) => h.error).map((h) => h.name)).toEqual(['hv05']);
      expect(out.hosts.filter((h) => !h.error)).toHaveLength(11);
      expect(maxHostsAtOnce(await calls())).toBe(4);
    } finally {
      await copyFile('examples/seed/libvirt-node.xml', gone);
    }
  });
});
