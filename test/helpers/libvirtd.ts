/**
 * A private libvirtd for tests, so that no test ever touches the machine's own daemon or its domains.
 *
 * A root libvirtd always serves the system instance, whose state paths (/etc/libvirt, /var/lib/libvirt, /run/libvirt)
 * are compiled in. An unprivileged libvirtd serves a *session* instance whose every path follows the XDG variables,
 * so the test runs one as `nobody` (dropping privileges with setpriv when the suite runs as root, as CI does) with
 * all of them in a fresh temp directory, and connects to its socket with `qemu+unix:///session?socket=...`. The
 * QEMU driver accepts config-only hostdev changes of PCI addresses the machine does not have, which is all that
 * domain steps need. Measured here (libvirt 9.0): the socket answers ~50 ms after spawn; the first `define` costs
 * ~1.8 s while the daemon probes qemu's capabilities.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XMLBuilder } from 'fast-xml-parser';

const LIBVIRTD = '/usr/sbin/libvirtd';
const VIRSH = '/usr/bin/virsh';
const QEMU = '/usr/bin/qemu-system-x86_64';

/**
 * Why a private libvirtd cannot run here (null when it can): the suite skips those tests with this reason printed.
 * CI installs libvirt-daemon, libvirt-daemon-driver-qemu, qemu-system-x86 and libvirt-clients, so there it runs.
 */
export function libvirtdUnavailable(): string | null {
  const missing = [LIBVIRTD, VIRSH, QEMU].filter((f) => !existsSync(f));
  return missing.length === 0
    ? null
    : `SKIPPED: real-libvirtd tests need ${missing.join(', ')} (apt-get install libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 libvirt-clients)`;
}

/** A running private daemon. */
export interface PrivateLibvirtd {
  /** Connect here: `qemu+unix:///session?socket=<dir>/run/libvirt-sock`. */
  uri: string;
  dir: string;
  /** Milliseconds from spawn until virsh could connect. */
  startMs: number;
  /** Runs the real virsh against the daemon; throws on a non-zero exit. */
  virsh(args: string[]): Promise<string>;
  /** Stops the daemon and removes its directory. */
  stop(): Promise<void>;
}

/** Starts a private daemon; resolves once virsh can connect to it. */
export async function startPrivateLibvirtd(): Promise<PrivateLibvirtd> {
  // Short path: a unix socket path must stay under 108 bytes.
  const dir = await mkdtemp('/tmp/ptl-');
  const dirs = ['cfg', 'run', 'cache', 'data'].map((d) => path.join(dir, d));
  await Promise.all(dirs.map((d) => mkdir(d)));
  const [cfg, run, cache, data] = dirs as [string, string, string, string];
  const socket = path.join(run, 'libvirt-sock');
  const conf = path.join(dir, 'libvirtd.conf');
  await writeFile(conf, `unix_sock_dir = "${run}"\nunix_sock_rw_perms = "0770"\n`);
  // As root, the daemon runs as nobody (whose group is `nogroup` on Debian, `nobody` elsewhere: use numbers).
  const owner = process.getuid?.() === 0 ? { uid: await idOf('-u'), gid: await idOf('-g') } : null;
  if (owner) await Promise.all([dir, ...dirs, conf].map((p) => chown(p, owner.uid, owner.gid)));
  const log = await open(path.join(dir, 'libvirtd.log'), 'w');
  // --timeout: a daemon orphaned by a killed test worker exits by itself once idle.
  const daemon = [LIBVIRTD, '--config', conf, '--timeout', '600'];
  const argv = owner ? ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', ...daemon] : daemon;
  const started = Date.now();
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', log.fd, log.fd],
    env: {
      PATH: process.env.PATH,
      LC_ALL: 'C',
      HOME: dir,
      XDG_CONFIG_HOME: cfg,
      XDG_RUNTIME_DIR: run,
      XDG_CACHE_HOME: cache,
      XDG_DATA_HOME: data,
    },
  });
  await log.close();
  const uri = `qemu+unix:///session?socket=${socket}`;
  const virsh = async (args: string[]) => (await execa(VIRSH, ['-c', uri, ...args], { env: { LC_ALL: 'C' } })).stdout;
  const stop = () => stopDaemon(child, dir);
  try {
    await waitUntilServing(child, virsh, dir);
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri, dir, startMs: Date.now() - started, virsh, stop };
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  return Number((await execa('id', [flag, 'nobody'])).stdout);
}

async function waitUntilServing(child: ChildProcess, virsh: (args: string[]) => Promise<string>, dir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`private libvirtd exited with ${child.exitCode}; see ${dir}/libvirtd.log`);
    try {
      await virsh(['uri']);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`private libvirtd did not answer within 20 s: ${(err as Error).message}`);
      await sleep(25);
    }
  }
}

async function stopDaemon(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** What a test domain has. */
export interface TestDomain {
  name: string;
  /** Default: a random one. */
  uuid?: string;
  /** Guest NICs on a bridge (never started, so the bridge need not exist). */
  bridges?: { mac: string; source: string }[];
  hostdevs?: { address: string; managed: boolean }[];
  /** SR-IOV VF NICs (`<interface type='hostdev'>`). */
  vfNics?: { address: string; managed: boolean; mac: string }[];
  /** Device elements written as they are (a `<rom>`, a `<vlan>`, boot order ...), appended to `<devices>`. */
  rawDevices?: string;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

/** Source `<address>` attributes of a canonical address `dddd:bb:ss.f`. */
function source(address: string, withType: boolean) {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(address);
  if (!m) throw new Error(`not a canonical address: ${address}`);
  return { ...(withType ? { '@type': 'pci' } : {}), '@domain': `0x${m[1]}`, '@bus': `0x${m[2]}`, '@slot': `0x${m[3]}`, '@function': `0x${m[4]}` };
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** Defines (or redefines) a never-started QEMU domain on the daemon and returns its UUID. */
export async function defineDomain(d: PrivateLibvirtd, dom: TestDomain): Promise<string> {
  const uuid = dom.uuid ?? randomUUID();
  const xml = builder.build({
    domain: {
      '@type': 'qemu',
      name: dom.name,
      uuid,
      memory: { '@unit': 'MiB', '#text': '64' },
      os: { type: { '@arch': 'x86_64', '@machine': 'pc', '#text': 'hvm' } },
      devices: {
        interface: [
          ...(dom.bridges ?? []).map((b) => ({ '@type': 'bridge', mac: { '@address': b.mac }, source: { '@bridge': b.source }, model: { '@type': 'virtio' } })),
          ...(dom.vfNics ?? []).map((v) => ({ '@type': 'hostdev', '@managed': yesNo(v.managed), mac: { '@address': v.mac }, source: { address: source(v.address, true) } })),
        ],
        hostdev: (dom.hostdevs ?? []).map((h) => ({ '@mode': 'subsystem', '@type': 'pci', '@managed': yesNo(h.managed), source: { address: source(h.address, false) } })),
      },
    },
  }) as string;
  const file = path.join(d.dir, `${uuid}.xml`);
  const devices = dom.rawDevices;
  await writeFile(file, devices ? xml.replace(/<devices\/>|<\/devices>/, (m) => (m === '<devices/>' ? `<devices>${devices}</devices>` : `${devices}</devices>`)) : xml);
  await d.virsh(['define', '--file', file]);
  return uuid;
}
