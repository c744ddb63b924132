// @ts-check
/**
 * passthru's speed and memory targets (`npm run bench`). Timed unit tests are flaky on shared CI runners, so the
 * targets live here instead: this script measures, prints a table and exits 1 when a target is missed.
 *
 *   1. planHost on a synthetic 2,000-function host with 200 domains and a 200-VM desired state: time and heap.
 *   2. loadDesiredState of that 200-VM passthrough.yaml, and how its cost grows from 2,048 to 32,768 VMs.
 *   3. observeDomains through the real virsh against libvirt's test driver, counting virsh processes, against a
 *      naive one-process-per-domain loop.
 *   4. renderPlanText of the large plan.
 *   5. whole processes end to end (bench/e2e.js): `passthru plan` against the floor and the naive loop at three
 *      sizes, its peak RSS, `passthru validate` against node's start.
 *   6. the fleet: `passthru plan --parallelism 10` of 64 hosts through a virsh that adds 1 s per call, against one
 *      host's plan (bench/fleet.js).
 *
 * `--only e2e` runs only 5, `--only fleet` only 6, `--only in-process` only 1-4.
 * It runs the compiled code in dist/ (`npm run build` first; the `bench` script does). Options, as environment:
 *   PASSTHRU_BENCH_DIST   compiled tree to benchmark (default: ../dist next to this file)
 *   PASSTHRU_BENCH_VIRSH  the real virsh (default: `virsh` on PATH)
 *   BENCH_QUICK=1         fewer repetitions (a smoke run; the figures are noisier)
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { benchFleet, describeFleet } from './fleet.js';
import { buildWorld, desiredYaml, domainXml, testDriverXml } from './synthetic.js';
import { benchEndToEnd } from './e2e.js';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const dist = path.resolve(process.env.PASSTHRU_BENCH_DIST ?? path.join(root, 'dist'));
const quick = process.env.BENCH_QUICK === '1';
const onlyAt = process.argv.indexOf('--only');
/** `--only e2e` or `--only in-process`; null: both. */
const only = onlyAt === -1 ? null : (process.argv[onlyAt + 1] ?? '');

// ---------------------------------------------------------------------------------------------------- targets
// Chosen from measurements on a busy 2-core VM (bench/README.md) with 2-6× headroom: they catch an accidental
// O(n²) or a per-domain process, not a few percent of noise.
const TARGET = {
  planMs: 200,
  planPeakHeapMb: 100,
  loadMs: 250,
  loadColdMs: 1500,
  observeMs: 2000,
  renderMs: 50,
  /** Time per VM loading 32,768 VMs over that loading 2,048: 1 when linear; quadratic lookups made it ~40. */
  loadScaling: 3,
};
const SIZE = { functions: 2000, vms: 200, naiveSample: 50 };
/** Repetitions: untimed warm-up calls, then timed runs (the median is reported). */
const REPS = quick
  ? { plan: { warmup: 2, runs: 5 }, load: { warmup: 1, runs: 5 }, observe: { warmup: 0, runs: 3 }, render: { warmup: 2, runs: 5 } }
  : { plan: { warmup: 5, runs: 21 }, load: { warmup: 3, runs: 15 }, observe: { warmup: 0, runs: 5 }, render: { warmup: 3, runs: 21 } };

// ---------------------------------------------------------------------------------------------------- helpers
/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const at = (/** @type {number} */ i) => /** @type {number} */ (s[i]);
  return s.length % 2 === 1 ? at(m) : (at(m - 1) + at(m)) / 2;
};
const max = (/** @type {number[]} */ xs) => Math.max(...xs);
/** @param {number} x milliseconds */
const ms = (x) => (x < 10 ? `${x.toFixed(2)} ms` : x < 1000 ? `${x.toFixed(1)} ms` : `${(x / 1000).toFixed(2)} s`);
const mb = (/** @type {number} */ bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * Times `fn` `runs` times after `warmup` untimed calls. A slow `fn` (a regression) stops early, after at least
 * three timed runs, once it has used `budgetMs` on warm-up or on timed runs, so that the script stays near a minute.
 * @template T
 * @param {() => T | Promise<T>} fn
 * @param {{ warmup: number, runs: number, budgetMs?: number }} o
 */
async function timeIt(fn, o) {
  const budget = o.budgetMs ?? 6_000;
  const warmStart = performance.now();
  for (let i = 0; i < o.warmup && performance.now() - warmStart < budget / 5; i++) await fn();
  /** @type {number[]} */
  const times = [];
  /** @type {T | undefined} */
  let last;
  const start = performance.now();
  while (times.length < o.runs && (times.length < 3 || performance.now() - start < budget)) {
    const t0 = performance.now();
    last = await fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), max: max(times), runs: times.length, last: /** @type {T} */ (last) };
}

/** A problem with how the benchmark was started, not with what it measures: reported without a stack. */
class SetupError extends Error {}

const forceGc = () => {
  const gc = /** @type {undefined | (() => void)} */ (globalThis.gc);
  if (!gc) throw new SetupError('run with `node --expose-gc` (npm run bench does) to measure heap growth');
  gc();
  gc();
};

/**
 * Heap cost of one synchronous call, from a clean heap: the peak growth of V8's used heap during the call (seen
 * by every GC the call triggers, and at its end), all that it allocated, and what its result keeps alive.
 * @template T
 * @param {() => T} fn
 */
function heapOf(fn) {
  forceGc();
  const base = v8.getHeapStatistics().used_heap_size;
  const profiler = new v8.GCProfiler();
  profiler.start();
  const result = fn();
  const end = v8.getHeapStatistics().used_heap_size;
  const gcs = profiler.stop()?.statistics ?? [];
  const before = gcs.map((g) => g.beforeGC.heapStatistics.usedHeapSize);
  const freed = gcs.reduce(
    (n, g) => n + g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize,
    0,
  );
  forceGc();
  const retained = v8.getHeapStatistics().used_heap_size - base;
  return { peak: Math.max(end, ...before) - base, allocated: end - base + freed, retained, gcs: gcs.length, result };
}

/** The table: one row per figure, its target when it has one, and the verdict. */
/** @type {{ what: string, value: string, target: string, ok: boolean | null }[]} */
const rows = [];
/** @type {string[]} */
const notes = [];
/**
 * @param {string} what
 * @param {string} value
 * @param {string} [target]
 * @param {boolean} [ok]
 */
const row = (what, value, target = '', ok) => rows.push({ what, value, target, ok: ok ?? null });
/**
 * A row for a timing, checked against its target.
 * @param {string} what
 * @param {{ median: number, max: number, runs: number }} t
 * @param {number} targetMs
 */
const timedRow = (what, t, targetMs) =>
  row(`${what}, median of ${t.runs} (max ${ms(t.max)})`, ms(t.median), `< ${targetMs} ms`, t.median < targetMs);

/**
 * `85 actions (14 detach-hostdev, ...); 26 problems (26 warn takes-effect-at-next-start)`
 * @param {import('../dist/model/plan.js').HostPlan} p
 */
function describePlan(p) {
  /** @param {string[]} keys */
  const tally = (keys) => {
    /** @type {Map<string, number>} */
    const m = new Map();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return [...m].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  };
  return (
    `${p.actions.length} actions (${tally(p.actions.map((a) => a.kind))}); ` +
    `${p.problems.length} problems (${tally(p.problems.map((x) => `${x.severity} ${x.code}`))})`
  );
}

/**
 * One line about the synthetic host.
 * @param {import('../dist/model/snapshot.js').HostSnapshot} snapshot
 */
function describeHost(snapshot) {
  const d = snapshot.devices;
  /** @type {Map<number | null, number>} */
  const groups = new Map();
  for (const x of d) groups.set(x.iommuGroup, (groups.get(x.iommuGroup) ?? 0) + 1);
  const sizes = [...groups.values()];
  const hostdevs = snapshot.domains.reduce((n, x) => n + x.persistent.hostdevs.length, 0);
  return (
    `host: ${d.length} PCI functions in ${groups.size} IOMMU groups (of ${Math.min(...sizes)}-${Math.max(...sizes)}), ` +
    `${d.filter((x) => x.isBridge).length} bridges, ${d.filter((x) => x.virtualFunctions.length > 0).length} SR-IOV PFs ` +
    `with ${d.filter((x) => x.physFunction !== null).length} VFs; ${snapshot.domains.length} domains ` +
    `(${snapshot.domains.filter((x) => x.active).length} running) holding ${hostdevs} hostdevs`
  );
}

/**
 * One line about the desired state.
 * @param {import('../dist/model/desired.js').DesiredHostState} desired
 * @param {string} yaml
 */
function describeDesired(desired, yaml) {
  const claims = desired.vms.flatMap((v) => v.devices);
  const slots = claims.filter((c) => c.kind === 'address' && !c.address.includes('.')).length;
  return (
    `desired: ${desired.vms.length} VMs, ${claims.length} claims (${claims.filter((c) => c.kind === 'match').length} ` +
    `selectors, ${slots} whole slots), ${desired.release.length} release, ${desired.protect.length} protect; ` +
    `passthrough.yaml ${(yaml.length / 1024).toFixed(0)} KiB, ${yaml.split('\n').length - 1} lines`
  );
}

/**
 * A passthrough.yaml of `n` VMs with one guarded device each, for the loader's scaling.
 * @param {number} n
 */
function manyVmsYaml(n) {
  const lines = ['version: 1', 'vms:'];
  for (let i = 0; i < n; i++) {
    const address = `${Math.floor(i / 256).toString(16).padStart(4, '0')}:${(i % 256).toString(16).padStart(2, '0')}:00.0`;
    lines.push(`  vm-${i}:`, '    devices:', `      - address: "${address}"`, '        expect: { vendor: "8086", product: "1521" }');
  }
  return `${lines.join('\n')}\n`;
}

/** Refuses to benchmark a dist/ older than the sources it is compiled from. */
async function checkDistFresh() {
  /** @type {string[]} */
  const missing = [];
  /** @type {string[]} */
  const stale = [];
  /** @param {string} dir */
  const walk = async (dir) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) {
        const out = path.join(dist, path.relative(path.join(root, 'src'), p)).replace(/\.ts$/, '.js');
        const [src, js] = await Promise.all([stat(p), stat(out).catch(() => null)]);
        if (!js) missing.push(path.relative(root, out));
        else if (js.mtimeMs < src.mtimeMs) stale.push(path.relative(root, out));
      }
    }
  };
  // Only the default dist/ is checked: a PASSTHRU_BENCH_DIST tree is the caller's business.
  if (process.env.PASSTHRU_BENCH_DIST) return;
  await walk(path.join(root, 'src'));
  if (missing.length + stale.length > 0) {
    const list = [...missing.map((f) => `missing ${f}`), ...stale.map((f) => `stale ${f}`)];
    const shown = list.slice(0, 3).join(', ') + (list.length > 3 ? ', ...' : '');
    throw new SetupError(`dist/ is not built from the current sources (${shown}): run \`npm run build\``);
  }
}

/** The real virsh: PASSTHRU_BENCH_VIRSH, else the first `virsh` on PATH. */
async function findVirsh() {
  const given = process.env.PASSTHRU_BENCH_VIRSH;
  const candidates = given ? [given] : (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir || '.', 'virsh'));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return path.resolve(candidate);
    } catch {
      // not here
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------- main
/** 1-4: the planner, the loader, observation and rendering, in this process. */
async function benchInProcess() {
  /** @param {string} rel */
  const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
  /** @type {typeof import('../dist/plan/plan-host.js')} */
  const { planHost } = await load('plan/plan-host.js');
  /** @type {typeof import('../dist/plan/plan-all.js')} */
  const { assemblePlan } = await load('plan/plan-all.js');
  /** @type {typeof import('../dist/desired/load.js')} */
  const { loadDesiredState } = await load('desired/load.js');
  /** @type {typeof import('../dist/desired/slice.js')} */
  const { desiredForHost } = await load('desired/slice.js');
  /** @type {typeof import('../dist/libvirt/domain-xml.js')} */
  const { parseDomainXml } = await load('libvirt/domain-xml.js');
  /** @type {typeof import('../dist/observe/domains.js')} */
  const { observeDomains } = await load('observe/domains.js');
  /** @type {typeof import('../dist/io/execa-virsh.js')} */
  const { createVirsh } = await load('io/execa-virsh.js');
  /** @type {typeof import('../dist/render/plan-text.js')} */
  const { renderPlanText } = await load('render/plan-text.js');
  /** @type {typeof import('../dist/render/style.js')} */
  const { plainStyle } = await load('render/style.js');


  // ---- the synthetic world, as the planner sees it
  const world = buildWorld({ functions: SIZE.functions, vms: SIZE.vms });
  const yaml = desiredYaml(world);
  /** @type {import('../dist/model/snapshot.js').HostSnapshot} */
  const snapshot = {
    format_version: '1',
    host: 'local',
    uri: 'qemu:///system',
    deviceSource: 'sysfs',
    observedAt: '2026-11-24T00:00:00.000Z',
    iommu: { groupsPresent: true, dmarTable: true, ivrsTable: false, cmdline: 'BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt' },
    selinux: { enabled: false, virtUseSysfs: null },
    hostUseKnown: true,
    devices: world.devices,
    domains: world.domains
      .map((d) => {
        const xml = domainXml(d);
        return {
          name: d.name,
          uuid: d.uuid,
          state: d.running ? /** @type {const} */ ('running') : /** @type {const} */ ('shut off'),
          active: d.running,
          transient: false,
          persistent: parseDomainXml(xml),
          live: d.running ? parseDomainXml(xml) : null,
          persistentXml: xml,
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
  // The first call of the process: it pays for what runs once per process (module set-up, JIT), as every CLI run does.
  const coldStart = performance.now();
  const desiredState = loadDesiredState(yaml, 'passthrough.yaml');
  const coldMs = performance.now() - coldStart;
  const desired = desiredForHost(desiredState, 'local');
  notes.push(describeHost(snapshot), describeDesired(desired, yaml));

  // ---- 1. planner
  const plan = await timeIt(() => planHost(desired, snapshot), REPS.plan);
  const hostPlan = plan.last;
  if (hostPlan.actions.length === 0) throw new Error('the synthetic plan has no actions: the benchmark would measure nothing');
  timedRow('planHost, drift', plan, TARGET.planMs);
  notes.push(`drift plan: ${describePlan(hostPlan)}`);
  // The first rollout: the same file against the same domains before any of them has a hostdev — every claim is
  // an attach, most devices a nodedev-detach. The largest plan this host can produce.
  /** @type {import('../dist/model/snapshot.js').HostSnapshot} */
  const bare = {
    ...snapshot,
    domains: snapshot.domains.map((d) => ({
      ...d,
      persistent: { ...d.persistent, hostdevs: [] },
      live: d.live && { ...d.live, hostdevs: [] },
    })),
  };
  const rollout = await timeIt(() => planHost(desired, bare), REPS.plan);
  timedRow('planHost, first rollout', rollout, TARGET.planMs);
  notes.push(`first-rollout plan: ${describePlan(rollout.last)}`);
  const heap = heapOf(() => planHost(desired, snapshot));
  const peakOk = heap.peak < TARGET.planPeakHeapMb * 2 ** 20;
  row(`planHost, drift: peak heap growth (${heap.gcs} GCs during)`, mb(heap.peak), `< ${TARGET.planPeakHeapMb} MB`, peakOk);
  row('planHost, drift: allocated in all / retained (the plan)', `${mb(heap.allocated)} / ${mb(heap.retained)}`);

  // ---- 2. desired-state loading
  const loaded = await timeIt(() => loadDesiredState(yaml, 'passthrough.yaml'), REPS.load);
  timedRow(`loadDesiredState, ${desired.vms.length} VMs`, loaded, TARGET.loadMs);
  row('loadDesiredState, first call of a process', ms(coldMs), `< ${TARGET.loadColdMs} ms`, coldMs < TARGET.loadColdMs);
  const perVm = async (/** @type {number} */ n, /** @type {{ warmup: number, runs: number }} */ reps) => {
    const text = manyVmsYaml(n);
    const result = await timeIt(() => loadDesiredState(text, 'passthrough.yaml'), { ...reps, budgetMs: 30_000 });
    if (result.last.vms.length !== n) throw new Error(`loadDesiredState read ${result.last.vms.length} of ${n} VMs`);
    return result.median / n;
  };
  const small = await perVm(2048, { warmup: 1, runs: quick ? 3 : 5 });
  const large = await perVm(32768, { warmup: 0, runs: quick ? 1 : 3 });
  const scaling = large / small;
  row(
    'loadDesiredState, time per VM: 32,768 VMs / 2,048 VMs',
    `${(large * 1000).toFixed(0)} µs / ${(small * 1000).toFixed(0)} µs = ${scaling.toFixed(2)}`,
    `< ${TARGET.loadScaling}`,
    scaling < TARGET.loadScaling,
  );

  // ---- 3. observation through real virsh (test driver)
  const virshPath = await findVirsh();
  if (virshPath === null) {
    row('observeDomains (real virsh)', 'not run: virsh not found', `< ${TARGET.observeMs} ms`, false);
    notes.push('install libvirt-clients, or set PASSTHRU_BENCH_VIRSH, to measure observation');
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'passthru-bench-'));
    try {
      await benchObserve(dir, virshPath, world, { observeDomains, createVirsh });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // ---- 4. text rendering
  for (const [label, p, snap] of /** @type {const} */ ([
    ['drift', hostPlan, snapshot],
    ['first rollout', rollout.last, bare],
  ])) {
    const full = assemblePlan([p]);
    const snapshots = new Map([['local', snap]]);
    const render = await timeIt(() => renderPlanText(full, snapshots, plainStyle), REPS.render);
    timedRow(`renderPlanText, ${label} (${p.actions.length} actions)`, render, TARGET.renderMs);
    const size = `${render.last.split('\n').length - 1} lines, ${(render.last.length / 1024).toFixed(0)} KiB`;
    notes.push(`${label} plan as text: ${size}`);
  }

}

/** 5: whole processes (bench/e2e.js), its rows in this table. */
async function benchEndToEndRows() {
  const virsh = await findVirsh();
  if (virsh === null) {
    row('e2e (real virsh)', 'not run: virsh not found', 'run', false);
    return;
  }
  await benchEndToEnd({
    bundle: path.join(dist, 'bundle/passthru.js'),
    virsh,
    quick,
    row,
    note: (line) => notes.push(line),
  });
}

/** 6: the fleet (SPEC 12): whole processes, so each run pays node's start like an operator's does (bench/fleet.js). */
async function benchFleetRows() {
  const virsh = await findVirsh();
  if (virsh === null) {
    row('fleet (real virsh)', 'not run: virsh not found', 'run', false);
    return;
  }
  const fleet = await benchFleet({ cli: path.join(dist, 'bundle/passthru.js'), virsh, hosts: 64, parallelism: 10, oneHostRuns: quick ? 1 : 3 });
  row(`plan, ${fleet.hosts} hosts at --parallelism ${fleet.parallelism} (virsh +1 s per call) / one host`, describeFleet(fleet), `≤ ${fleet.targetRatio}`, fleet.ok);
}

async function main() {
  if (only !== null && !['e2e', 'fleet', 'in-process'].includes(only)) throw new SetupError(`--only takes e2e, fleet or in-process, not ${only}`);
  forceGc(); // fails at once without --expose-gc
  await checkDistFresh();
  const started = performance.now();
  const cpus = os.cpus();
  console.log(
    `passthru bench — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.platform()} ${os.arch()}, ` +
      `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}${quick ? ' (BENCH_QUICK: fewer runs)' : ''}`,
  );

  if (only === null || only === 'in-process') await benchInProcess();
  if (only === null || only === 'e2e') await benchEndToEndRows();
  if (only === null || only === 'fleet') await benchFleetRows();

  // ---- report
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => [r.what, r.value, r.target][i]?.length ?? 0)));
  const pad = (/** @type {string} */ s, /** @type {number | undefined} */ n) => s.padEnd(n ?? 0);
  console.log('');
  console.log(`${pad('benchmark', w[0])}  ${pad('measured', w[1])}  ${pad('target', w[2])}  result`);
  console.log(`${'-'.repeat(w[0] ?? 0)}  ${'-'.repeat(w[1] ?? 0)}  ${'-'.repeat(w[2] ?? 0)}  ------`);
  for (const r of rows) {
    const verdict = r.ok === null ? '' : r.ok ? 'ok' : 'MISSED';
    console.log(`${pad(r.what, w[0])}  ${pad(r.value, w[1])}  ${pad(r.target, w[2])}  ${verdict}`.trimEnd());
  }
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
  const missed = rows.filter((r) => r.ok === false);
  const verdict = missed.length === 0 ? 'all targets met' : `${missed.length} target(s) MISSED`;
  console.log(`\n${verdict} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  process.exitCode = missed.length === 0 ? 0 : 1;
}

/**
 * observeDomains against libvirt's test driver, through a shim that counts virsh processes; then the naive loop.
 * @param {string} dir
 * @param {string} virshPath
 * @param {import('./synthetic.js').World} world
 * @param {{
 *   observeDomains: typeof import('../dist/observe/domains.js').observeDomains,
 *   createVirsh: typeof import('../dist/io/execa-virsh.js').createVirsh,
 * }} lib
 */
async function benchObserve(dir, virshPath, world, lib) {
  const nodeXml = path.join(dir, 'node.xml');
  const smallXml = path.join(dir, 'node-20.xml');
  await writeFile(nodeXml, testDriverXml(world));
  await writeFile(smallXml, testDriverXml({ ...world, domains: world.domains.slice(0, 20) }));
  const uri = `test://${nodeXml}`;
  const smallUri = `test://${smallXml}`;

  // The shim: one line per process in `calls`, then the real virsh in its place (exec: no extra process alive).
  const calls = path.join(dir, 'calls');
  const shim = path.join(dir, 'virsh-counting');
  const sq = (/** @type {string} */ s) => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(shim, `#!/bin/sh\necho x >> ${sq(calls)}\nexec ${sq(virshPath)} "$@"\n`);
  await chmod(shim, 0o755);
  const virsh = lib.createVirsh({ binary: shim });
  const processes = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  // Correctness first: a fast observation of the wrong thing is worth nothing.
  const seen = await lib.observeDomains(virsh, uri);
  const want = new Map(world.domains.map((d) => [d.uuid, d]));
  const wrong = seen.filter((d) => {
    const w = want.get(d.uuid);
    return !w || w.name !== d.name || w.running !== d.active || w.hostdevs.length !== d.persistent.hostdevs.length;
  });
  if (seen.length !== world.domains.length || wrong.length > 0) {
    throw new Error(`observeDomains saw ${seen.length} domains (${wrong.length} wrong), expected ${world.domains.length}`);
  }

  /** @type {number[]} */
  const counts = [];
  const observed = await timeIt(async () => {
    const before = await processes();
    const t = await lib.observeDomains(virsh, uri);
    counts.push((await processes()) - before);
    return t;
  }, REPS.observe);
  const before = await processes();
  await lib.observeDomains(virsh, smallUri);
  const smallCount = (await processes()) - before;
  const perRun = counts[0] ?? 0;
  const constant = counts.every((c) => c === perRun) && smallCount === perRun;
  timedRow(`observeDomains, ${world.domains.length} domains`, observed, TARGET.observeMs);
  row(`virsh processes: 20 domains / ${world.domains.length} domains`, `${smallCount} / ${perRun}`, 'constant', constant);

  // The naive way: one process per `dumpxml`, in sequence, measured on a sample and extrapolated. Against the
  // same node.xml (the test driver parses all of it in every process), and against a one-domain file: the floor of
  // a virsh process here (exec, library load, connection), about what a connection to a real libvirtd costs.
  const oneXml = path.join(dir, 'node-1.xml');
  await writeFile(oneXml, testDriverXml({ ...world, domains: world.domains.slice(0, 1) }));
  const first = /** @type {import('./synthetic.js').DomainSpec} */ (world.domains[0]);
  const env = { ...process.env, LC_ALL: 'C' };
  /** @param {string} u @param {string[]} uuids */
  const naive = async (u, uuids) => {
    const t0 = performance.now();
    let n = 0;
    for (const id of uuids) {
      const argv = ['-c', u, 'dumpxml', '--inactive', '--domain', id];
      await execFileAsync(virshPath, argv, { env, maxBuffer: 2 ** 24 });
      n++;
      if (n >= 5 && performance.now() - t0 > 8_000) break;
    }
    return { n, each: (performance.now() - t0) / n };
  };
  const sample = await naive(uri, world.domains.slice(0, SIZE.naiveSample).map((d) => d.uuid));
  const floor = await naive(`test://${oneXml}`, Array.from({ length: SIZE.naiveSample }, () => first.uuid));
  const n = world.domains.length;
  row(`naive: 1 virsh per dumpxml, ${n} domains (${sample.n} run, ×${(n / sample.n).toFixed(1)})`, `~${ms(sample.each * n)}`);
  row(`naive: same, per-process floor (1-domain file, ${floor.n} run)`, `~${ms(floor.each * n)}`);
  row(`naive: 3 virsh per domain, as observeDomains reads (floor ×3)`, `~${ms(floor.each * n * 3)}`);
  notes.push(
    `observation: ${perRun} virsh processes per observeDomains whatever the number of domains (counted by an sh shim, ` +
      `whose exec is in the time); naively ${n} or ${n * 3}. A naive process costs ${ms(sample.each)} against the ` +
      `${n}-domain node.xml (the test driver parses all of it in every process), ${ms(floor.each)} at the floor`,
  );
}

main().catch((error) => {
  const text = error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`bench failed: ${text}`);
  process.exitCode = 1;
});
