// @ts-check
/**
 * The fleet figure (SPEC 12): `passthru plan --parallelism P` over N hosts, each a libvirt test-driver file of its
 * own, reached through a virsh shim that adds 1 s to every call (a stand-in for a remote round trip). The whole
 * process's time against one host's (`plan --host hv1` on the same file), as a ratio; the target is
 * ratio ≤ 2 × ceil(N / P): hosts are observed P at a time, so N hosts cost about ceil(N / P) hosts' time.
 *
 * Every host is local to passthru (test:/// URIs), so all read the same small fake sysfs tree written here (one
 * I350 port on igb, routes and mounts that use nothing): the figure is about virsh round trips, not sysfs.
 *
 * Part of `npm run bench` (bench/run.js, section 5); alone, against a built dist/:
 *   node bench/fleet.js                          # 64 hosts, --parallelism 10
 *   FLEET_HOSTS=12 FLEET_PARALLELISM=4 node bench/fleet.js   # a quick check
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

/** What one fleet measurement gives. */
/**
 * @typedef {{ hosts: number, parallelism: number, oneHostMs: number, fleetMs: number, ratio: number, targetRatio: number, ok: boolean }} FleetFigure
 */

/** Writes the fake host tree every host reads (`--root`). @param {string} root */
async function writeTree(root) {
  const dev = 'sys/devices/pci0000:00/0000:07:00.0';
  const file = async (/** @type {string} */ rel, /** @type {string} */ text) => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  };
  const link = async (/** @type {string} */ rel, /** @type {string} */ target) => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink(target, path.join(root, rel));
  };
  await file(`${dev}/vendor`, '0x8086\n');
  await file(`${dev}/device`, '0x1521\n');
  await file(`${dev}/class`, '0x020000\n');
  await mkdir(path.join(root, 'sys/bus/pci/drivers/igb'), { recursive: true });
  await mkdir(path.join(root, 'sys/kernel/iommu_groups/17/devices'), { recursive: true });
  await link(`${dev}/driver`, '../../../bus/pci/drivers/igb');
  await link(`${dev}/iommu_group`, '../../../kernel/iommu_groups/17');
  await link('sys/bus/pci/devices/0000:07:00.0', '../../../devices/pci0000:00/0000:07:00.0');
  await link('sys/kernel/iommu_groups/17/devices/0000:07:00.0', '../../../../devices/pci0000:00/0000:07:00.0');
  await file('proc/net/route', 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n');
  await file('proc/net/fib_trie', 'Main:\n');
  await file('proc/mounts', 'tmpfs / tmpfs rw 0 0\n');
  await file('proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
}

/**
 * Runs the fleet measurement.
 * @param {{ cli: string, virsh: string, hosts: number, parallelism: number, delaySeconds?: number, oneHostRuns?: number }} o
 * @returns {Promise<FleetFigure>}
 */
export async function benchFleet(o) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'passthru-bench-fleet-'));
  try {
    const root = path.join(dir, 'root');
    await writeTree(root);
    const seed = await readFile(path.join(repo, 'examples/seed/libvirt-node.xml'), 'utf8');
    const names = Array.from({ length: o.hosts }, (_, i) => `hv${i + 1}`);
    await Promise.all(
      names.map((name, i) =>
        writeFile(
          path.join(dir, `${name}.xml`),
          seed.replace('<name>rhel7.3</name>', `<name>vm-${name}</name>`).replace('7b4f6a2c-1d3e-4c5b-9a8f-0e1d2c3b4a57', `7b4f6a2c-1d3e-4c5b-9a8f-${String(i).padStart(12, '0')}`),
        ),
      ),
    );
    const yaml = [
      'version: 1',
      'hosts:',
      ...names.map((n) => `  ${n}: { uri: "test://${dir}/${n}.xml" }`),
      'vms:',
      ...names.map((n) => `  vm-${n}: { host: ${n}, devices: [{ address: "07:00.0" }], removeInterfaces: [{ type: bridge, source: br0 }] }`),
      '',
    ].join('\n');
    const fleetFile = path.join(dir, 'fleet.yaml');
    await writeFile(fleetFile, yaml);
    const shim = path.join(dir, 'virsh');
    // mkdtemp names hold no quote.
    await writeFile(shim, `#!/bin/sh\nsleep ${o.delaySeconds ?? 1}\nexec '${o.virsh}' "$@"\n`);
    await chmod(shim, 0o755);

    const plan = async (/** @type {string[]} */ extra) => {
      const argv = [o.cli, 'plan', '-f', fleetFile, '--root', root, '--virsh', shim, '--format', 'json', ...extra];
      const started = performance.now();
      const r = await execFileAsync(process.execPath, argv, { maxBuffer: 2 ** 26 }).catch((/** @type {any} */ e) => e);
      const elapsed = performance.now() - started;
      /** @type {{ hosts: { name: string, error?: unknown, actions: unknown[] }[] }} */
      const parsed = JSON.parse(r.stdout);
      const failed = parsed.hosts.filter((h) => h.error !== undefined || h.actions.length === 0);
      if (failed.length > 0) throw new Error(`fleet bench: ${failed.length} host(s) not planned (${failed.map((h) => h.name).slice(0, 3).join(', ')}): ${r.stderr}`);
      return { elapsed, hosts: parsed.hosts.length };
    };
    /** @type {number[]} */
    const one = [];
    for (let i = 0; i < (o.oneHostRuns ?? 3); i++) {
      const r = await plan(['--host', 'hv1']);
      if (r.hosts !== 1) throw new Error(`fleet bench: --host hv1 planned ${r.hosts} hosts`);
      one.push(r.elapsed);
    }
    const oneHostMs = [...one].sort((a, b) => a - b)[Math.floor(one.length / 2)] ?? 0;
    const fleet = await plan(['--parallelism', String(o.parallelism)]);
    if (fleet.hosts !== o.hosts) throw new Error(`fleet bench: planned ${fleet.hosts} of ${o.hosts} hosts`);
    const ratio = fleet.elapsed / oneHostMs;
    const targetRatio = 2 * Math.ceil(o.hosts / o.parallelism);
    return { hosts: o.hosts, parallelism: o.parallelism, oneHostMs, fleetMs: fleet.elapsed, ratio, targetRatio, ok: ratio <= targetRatio };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line of the figure, for a table or alone. @param {FleetFigure} f */
export function describeFleet(f) {
  const s = (/** @type {number} */ x) => `${(x / 1000).toFixed(1)} s`;
  return `${s(f.fleetMs)} / ${s(f.oneHostMs)} = ${f.ratio.toFixed(2)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const hosts = Number(process.env.FLEET_HOSTS ?? 64);
  const parallelism = Number(process.env.FLEET_PARALLELISM ?? 10);
  const cli = path.resolve(process.env.PASSTHRU_BENCH_DIST ?? path.join(repo, 'dist'), 'bundle/passthru.js');
  const virsh = process.env.PASSTHRU_BENCH_VIRSH ?? '/usr/bin/virsh';
  const f = await benchFleet({ cli, virsh, hosts, parallelism });
  console.log(`plan of ${hosts} hosts at --parallelism ${parallelism} / one host: ${describeFleet(f)} (target ≤ ${f.targetRatio}) ${f.ok ? 'ok' : 'MISSED'}`);
  process.exitCode = f.ok ? 0 : 1;
}
