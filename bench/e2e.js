// @ts-check
/**
 * The end-to-end benchmark: whole processes, as an operator waits for them. On a host generated on disk
 * (bench/e2e-host.js: a kernel-faithful sysfs tree, libvirt's test driver with the domains, the passthrough.yaml)
 * it times, side by side and paired (A B A B ..., a ratio per pair, the median of the ratios, so that the drift of a
 * shared machine cancels):
 *
 *   - `passthru plan` (the built bundle, `--root TREE -c test:///NODE.xml`) against the FLOOR: node's start, ONE
 *     virsh process given every domstate/dumpxml on its stdin, one `ls -l` of every function's `driver` and
 *     `iommu_group` link: what any tool that reads the same facts must at least spend. At half, full and double
 *     size, for how cost grows.
 *   - `passthru plan` against the NAIVE runbook loop (one virsh process per domain and question, one readlink per
 *     function), at full size. It takes minutes, so each of its runs reads a sample of the domains and functions
 *     and is extrapolated linearly (said so in its row).
 *   - the peak RSS of `passthru plan` (`/usr/bin/time -f %M`, one untimed run per size).
 *   - `passthru validate` of the desired file against `node -e 0`.
 *
 * `node bench/run.js --only e2e` runs this alone. Options, as environment:
 *   BENCH_QUICK=1             fewer pairs
 *   BENCH_E2E_FUNCTIONS / BENCH_E2E_DOMAINS   the full size (default 2048 / 512)
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHostOnDisk } from './e2e-host.js';

/** The issue's targets (issue 12), as paired ratios of one run. */
export const E2E_TARGET = {
  /** plan / floor at full size. */
  planOverFloor: 1.5,
  /** naive / plan at full size. */
  naiveOverPlan: 20,
  /** plan at double size / plan at full size. */
  doubling: 2.2,
  rssMb: 150,
  /** validate / `node -e 0`. */
  validateOverNode: 2,
};

/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const at = (/** @type {number} */ i) => /** @type {number} */ (s[i]);
  return s.length % 2 === 1 ? at(m) : (at(m - 1) + at(m)) / 2;
};
const sec = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(2)} s`;
const times = (/** @type {number} */ x) => `${x.toFixed(2)}×`;

/**
 * Runs one process to its end and returns its wall time. Its stdout is read and dropped (as a caller reading it
 * would); stderr is kept for the error when it fails.
 * @param {string[]} argv
 * @param {{ input?: string, okCodes?: number[] }} [o]
 */
function run(argv, o = {}) {
  return new Promise((resolve, reject) => {
    const [cmd = '', ...args] = argv;
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    /** @type {Buffer[]} */
    const err = [];
    child.stdout?.resume();
    child.stderr?.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if ((o.okCodes ?? [0]).includes(code ?? -1)) resolve(ms);
      else reject(new Error(`${argv.slice(0, 3).join(' ')} ... exited ${code}: ${Buffer.concat(err).toString().slice(0, 2000)}`));
    });
    if (o.input !== undefined && child.stdin) child.stdin.end(o.input);
  });
}

/**
 * What is run against one generated host.
 * @param {import('./e2e-host.js').HostOnDisk} h
 * @param {{ bundle: string, virsh: string }} tools
 */
function commandsFor(h, tools) {
  const plan = [process.execPath, tools.bundle, 'plan', '--root', h.root, '-c', h.uri, '-f', h.desiredFile];
  // What the floor reads, the same facts passthru reads: state and both XMLs of every domain, every link.
  const script = `${h.uuids.map((u) => `domstate --domain ${u}\ndumpxml --inactive --domain ${u}\ndumpxml --domain ${u}\n`).join('')}`;
  const links = h.addresses.flatMap((a) => ['driver', 'iommu_group'].map((l) => path.join(h.root, 'sys/bus/pci/devices', a, l)));
  return {
    /** plan exits 1 for a blocked plan: still a whole plan, timed the same (the run checks it is not blocked). */
    plan: () => run(plan, { okCodes: [0, 1, 2] }),
    planArgv: plan,
    async floor() {
      let ms = await run([process.execPath, '-e', '0']);
      ms += await run([tools.virsh, '-q', '-c', h.uri], { input: script });
      // An unbound function has no driver link: ls says so and exits 2, having listed the others.
      ms += await run(['ls', '-l', ...links], { okCodes: [0, 1, 2] });
      return ms;
    },
    /**
     * The naive loop over `domains` domains and `functions` functions of the host, extrapolated to all of them.
     * @param {number} domains
     * @param {number} functions
     */
    async naive(domains, functions) {
      const v = (/** @type {string[]} */ args) => run([tools.virsh, '-q', '-c', h.uri, ...args]);
      let ms = await v(['list', '--all', '--uuid']);
      let domainMs = 0;
      for (let i = 0; i < domains; i++) {
        const u = /** @type {string} */ (h.uuids[i]);
        domainMs += await v(['domstate', '--domain', u]);
        domainMs += await v(['dumpxml', '--inactive', '--domain', u]);
        if (h.running[i]) domainMs += await v(['dumpxml', '--domain', u]);
      }
      let functionMs = 0;
      for (let i = 0; i < functions; i++) {
        const dir = path.join(h.root, 'sys/bus/pci/devices', /** @type {string} */ (h.addresses[i]));
        functionMs += await run(['readlink', path.join(dir, 'driver'), path.join(dir, 'iommu_group')], { okCodes: [0, 1] });
      }
      ms += (domainMs / domains) * h.uuids.length + (functionMs / functions) * h.addresses.length;
      return ms;
    },
    validate: () => run([process.execPath, tools.bundle, 'validate', '-f', h.desiredFile, '-q']),
  };
}

/** Peak RSS of one run in MB, or null without /usr/bin/time. @param {string[]} argv @param {string} dir */
async function peakRssMb(argv, dir) {
  if (!existsSync('/usr/bin/time')) return null;
  const out = path.join(dir, 'rss');
  await run(['/usr/bin/time', '-f', '%M', '-o', out, ...argv], { okCodes: [0, 1, 2] });
  const kb = Number((await readFile(out, 'utf8')).trim().split('\n').pop());
  return kb / 1024;
}

/**
 * Checks that the plan is a real one before it is timed: the host observed, every domain seen, actions to do.
 * @param {string[]} planArgv
 * @param {import('./e2e-host.js').HostOnDisk} h
 */
async function checkPlan(planArgv, h) {
  const [cmd = '', ...args] = planArgv;
  const json = await new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const out = [];
    const child = spawn(cmd, [...args, '--format', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', (b) => out.push(b));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(out).toString()));
  });
  /** @type {{ applyable: boolean, hosts: { error?: unknown, actions: unknown[] }[] }} */
  const plan = JSON.parse(json);
  const host = plan.hosts[0];
  if (!host || host.error) throw new Error(`e2e: passthru plan did not observe the generated host: ${JSON.stringify(host?.error)}`);
  if (host.actions.length === 0 || !plan.applyable) {
    throw new Error(`e2e: the generated plan has ${host.actions.length} actions, applyable ${plan.applyable}: it would time nothing real`);
  }
  return `${host.actions.length} actions for ${h.uuids.length} domains`;
}

/**
 * The end-to-end benchmark. Rows go to `row(what, value, target?, ok?)`, lines about the setup to `note`.
 * @param {{
 *   bundle: string,
 *   virsh: string,
 *   quick: boolean,
 *   row: (what: string, value: string, target?: string, ok?: boolean) => void,
 *   note: (line: string) => void,
 * }} o
 */
export async function benchEndToEnd(o) {
  const full = {
    functions: Number(process.env.BENCH_E2E_FUNCTIONS ?? 2048),
    vms: Number(process.env.BENCH_E2E_DOMAINS ?? 512),
  };
  const sizes = [
    { label: 'half', functions: full.functions / 2, vms: full.vms / 2 },
    { label: 'full', ...full },
    { label: 'double', functions: full.functions * 2, vms: full.vms * 2 },
  ];
  const pairs = o.quick ? 3 : 7;
  const naivePairs = o.quick ? 1 : 3;
  // The naive sample: 1/32 of the domains (at least 4) and 1/16 of the functions, extrapolated linearly.
  const naiveSample = { domains: Math.max(4, Math.round(full.vms / 32)), functions: Math.max(8, Math.round(full.functions / 16)) };

  const dir = await mkdtemp(path.join(os.tmpdir(), 'passthru-e2e-'));
  try {
    /** @type {{ label: string, functions: number, vms: number, h: import('./e2e-host.js').HostOnDisk, c: ReturnType<typeof commandsFor> }[]} */
    const hosts = [];
    for (const s of sizes) {
      const t0 = performance.now();
      const h = await writeHostOnDisk(dir, { functions: s.functions, vms: s.vms });
      const c = commandsFor(h, o);
      const what = await checkPlan(c.planArgv, h);
      o.note(`e2e ${s.label}: ${h.summary}; plan: ${what}; generated in ${sec(performance.now() - t0)}`);
      hosts.push({ ...s, h, c });
    }
    const at = (/** @type {string} */ label) => /** @type {(typeof hosts)[number]} */ (hosts.find((x) => x.label === label));

    // ---- plan vs floor, every size in each round: a round is one pair per size, in the same minute.
    /** @type {Map<string, { plan: number[], floor: number[] }>} */
    const t = new Map(hosts.map((x) => [x.label, { plan: [], floor: [] }]));
    for (let r = 0; r < pairs; r++) {
      for (const x of hosts) {
        const m = /** @type {{ plan: number[], floor: number[] }} */ (t.get(x.label));
        m.floor.push(await x.c.floor());
        m.plan.push(await x.c.plan());
      }
    }
    for (const x of hosts) {
      const m = /** @type {{ plan: number[], floor: number[] }} */ (t.get(x.label));
      const ratio = median(m.plan.map((p, i) => p / /** @type {number} */ (m.floor[i])));
      const isFull = x.label === 'full';
      o.row(
        `e2e plan / floor, ${x.label} (${x.functions} fn, ${x.vms} dom; median of ${pairs} pairs: plan ${sec(median(m.plan))}, floor ${sec(median(m.floor))})`,
        times(ratio),
        isFull ? `≤ ${E2E_TARGET.planOverFloor}×` : '',
        isFull ? ratio <= E2E_TARGET.planOverFloor : undefined,
      );
    }
    const planOf = (/** @type {string} */ label) => /** @type {{ plan: number[] }} */ (t.get(label)).plan;
    const doubling = median(planOf('double').map((p, i) => p / /** @type {number} */ (planOf('full')[i])));
    const floorDoubling = median(
      /** @type {{ floor: number[] }} */ (t.get('double')).floor.map((f, i) => f / /** @type {number} */ (/** @type {{ floor: number[] }} */ (t.get('full')).floor[i])),
    );
    o.row(
      `e2e plan, double / full size (paired by round; the floor grows ${times(floorDoubling)})`,
      times(doubling),
      `≤ ${E2E_TARGET.doubling}×`,
      doubling <= E2E_TARGET.doubling,
    );

    // ---- peak RSS, one untimed run per size
    for (const x of hosts) {
      const rss = await peakRssMb(x.c.planArgv, dir);
      const isFull = x.label === 'full';
      if (rss === null) o.row(`e2e plan peak RSS, ${x.label}`, 'not measured: no /usr/bin/time', isFull ? `≤ ${E2E_TARGET.rssMb} MB` : '', isFull ? false : undefined);
      else o.row(`e2e plan peak RSS, ${x.label}`, `${rss.toFixed(0)} MB`, isFull ? `≤ ${E2E_TARGET.rssMb} MB` : '', isFull ? rss <= E2E_TARGET.rssMb : undefined);
    }

    // ---- naive loop vs plan, full size
    const f = at('full');
    /** @type {number[]} */
    const naiveRatios = [];
    /** @type {number[]} */
    const naiveMs = [];
    for (let r = 0; r < naivePairs; r++) {
      const p = await f.c.plan();
      const n = await f.c.naive(naiveSample.domains, naiveSample.functions);
      naiveMs.push(n);
      naiveRatios.push(n / p);
    }
    const naive = median(naiveRatios);
    o.row(
      `e2e naive loop / plan, full (naive: ${naiveSample.domains} of ${f.vms} domains and ${naiveSample.functions} of ` +
        `${f.functions} functions per run, extrapolated linearly: ~${sec(median(naiveMs))}; ${naivePairs} pair(s))`,
      times(naive),
      `≥ ${E2E_TARGET.naiveOverPlan}×`,
      naive >= E2E_TARGET.naiveOverPlan,
    );

    // ---- validate vs node's own start
    /** @type {number[]} */
    const nodeMs = [];
    /** @type {number[]} */
    const validateMs = [];
    for (let r = 0; r < pairs; r++) {
      nodeMs.push(await run([process.execPath, '-e', '0']));
      validateMs.push(await f.c.validate());
    }
    const v = median(validateMs.map((x, i) => x / /** @type {number} */ (nodeMs[i])));
    o.row(
      `e2e validate / node -e 0, full (median of ${pairs} pairs: validate ${sec(median(validateMs))}, node ${sec(median(nodeMs))})`,
      times(v),
      `≤ ${E2E_TARGET.validateOverNode}×`,
      v <= E2E_TARGET.validateOverNode,
    );
    o.note(
      'e2e floor = `node -e 0` + one virsh process reading every domstate/dumpxml from its stdin + one `ls -l` of every ' +
        "function's driver and iommu_group link, run one after the other. The test driver parses the whole node.xml in " +
        'every virsh process, so each process costs more as the host grows (a real libvirtd does not).',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
