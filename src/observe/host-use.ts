/**
 * Which PCI functions the host itself depends on (SPEC 3 "host-critical"): the NIC under the default route or under
 * any address, the controller under a mounted filesystem or a swap area. Detaching one of those cuts the host off —
 * the classic way to lose a remote hypervisor — so the planner blocks it unless the entry says `force: true`.
 *
 * Everything comes from files, so a captured host tree can be planned against: `/proc/net/route`,
 * `/proc/net/ipv6_route`, `/proc/net/fib_trie`, `/proc/net/if_inet6`, `/proc/mounts`, `/proc/self/mountinfo`,
 * `/proc/swaps`, and the sysfs links that lead from an interface or a block device to its PCI function. The parsers
 * are pure and exported for their own tests; `observeHostUse` ties them to a tree.
 *
 * Unknown stays unknown: a table that is missing, unreadable or garbled, or a use that cannot be traced to its
 * hardware (an address no route attributes, a mount source not in sysfs), makes that part of host use — network or
 * storage — unknown, with the reason, instead of quietly empty. The planner then takes no NIC (or no disk
 * controller) of that host without `force`.
 *
 * Stacking is followed downwards from what the host uses to the hardware: a bridge/bond/VLAN to its ports (`lower_*`,
 * `brif/`, `bonding/slaves`, and each port's `master`/`upper_*`), a device-mapper/md device to its `slaves/`, a
 * partition to its disk, a multipath NVMe namespace to its controllers.
 */
import path from 'node:path';
import { describeError, isMissing } from '../io/error-code.js';
import { HostFs, type HostFiles } from '../io/host-fs.js';
import type { HostUse, HostUseUnknown, PciDevice } from '../model/snapshot.js';
import type { HostTree, ObserveOptions, WarnFn } from './sysfs.js';
import { pciAncestor } from './sysfs.js';

const posix = path.posix;

// ---------------------------------------------------------------------------------------------------------------
// Pure parsers: each throws an Error naming the first line it cannot read, so that a garbled table is not taken
// for an empty one.
// ---------------------------------------------------------------------------------------------------------------

/** The error of a parser for line `index` (0-based) of its table. */
function badLine(index: number, line: string, what: string): Error {
  const excerpt = line.length > 80 ? `${line.slice(0, 80)}...` : line;
  return new Error(`line ${index + 1} is not ${what}: ${JSON.stringify(excerpt)}`);
}

/** The lines of a table with their 0-based index, blank ones left out. */
function tableLines(text: string): { index: number; line: string }[] {
  return text
    .split('\n')
    .map((line, index) => ({ index, line }))
    .filter((l) => l.line.trim() !== '');
}

/** One line of `/proc/net/route` (the IPv4 main table). Addresses are host-order numbers (`10.0.0.1` = 0x0a000001). */
export interface RouteEntry {
  iface: string;
  destination: number;
  gateway: number;
  mask: number;
  flags: number;
  metric: number;
}

const RTF_UP = 0x1;
const RTF_REJECT = 0x200;

/**
 * `/proc/net/route` prints each address as the raw 32-bit word in the kernel's (little-endian on x86/arm64) byte
 * order: `0100000A` is 10.0.0.1. Big-endian hosts (s390x) are not handled: none runs passthru's use case.
 */
function routeWord(hex: string): number {
  const n = parseInt(hex, 16);
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | ((n >>> 24) & 0xff)) >>> 0;
}

/** Parses `/proc/net/route` (a header line, then one route per line). Throws on a garbled table. */
export function parseRouteTable(text: string): RouteEntry[] {
  const out: RouteEntry[] = [];
  const [header, ...lines] = tableLines(text);
  if (header === undefined || !/^Iface\s+Destination\s+Gateway\b/.test(header.line)) {
    throw badLine(header?.index ?? 0, header?.line ?? '', 'the header of /proc/net/route');
  }
  for (const { index, line } of lines) {
    const f = line.trim().split(/\s+/);
    const [iface, dest = '', gw = '', flags = '', , , metric = '', mask = ''] = f as string[];
    if (iface === undefined || f.length < 8 || ![dest, gw, flags, mask].every((x) => /^[0-9A-Fa-f]{1,8}$/.test(x)) || !/^\d+$/.test(metric)) {
      throw badLine(index, line, 'a route');
    }
    out.push({
      iface,
      destination: routeWord(dest),
      gateway: routeWord(gw),
      mask: routeWord(mask),
      flags: parseInt(flags, 16),
      metric: Number(metric),
    });
  }
  return out;
}

/** One line of `/proc/net/ipv6_route`. */
export interface Ipv6Route {
  iface: string;
  /** 32 hex digits. */
  destination: string;
  prefixLength: number;
  flags: number;
}

/** Parses `/proc/net/ipv6_route`. Throws on a garbled table. */
export function parseIpv6Routes(text: string): Ipv6Route[] {
  const out: Ipv6Route[] = [];
  for (const { index, line } of tableLines(text)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-f]{32}$/i.test(f[0] as string) || !/^[0-9a-f]{2}$/i.test(f[1] as string) || !/^[0-9a-f]{8}$/i.test(f[8] as string)) {
      throw badLine(index, line, 'an IPv6 route');
    }
    out.push({
      iface: f[9] as string,
      destination: (f[0] as string).toLowerCase(),
      prefixLength: parseInt(f[1] as string, 16),
      flags: parseInt(f[8] as string, 16),
    });
  }
  return out;
}

/**
 * Interfaces that carry a default route (IPv4 `0.0.0.0/0` or IPv6 `::/0`), sorted. Routes that are down or
 * `unreachable`/`prohibit` (RTF_REJECT, e.g. the kernel's `lo` catch-all in ipv6_route) do not count.
 */
export function defaultRouteInterfaces(v4: RouteEntry[], v6: Ipv6Route[] = []): string[] {
  const out = new Set<string>();
  for (const r of v4) {
    if (r.destination === 0 && r.mask === 0 && r.flags & RTF_UP && !(r.flags & RTF_REJECT)) out.add(r.iface);
  }
  for (const r of v6) {
    if (r.prefixLength === 0 && /^0+$/.test(r.destination) && r.flags & RTF_UP && !(r.flags & RTF_REJECT) && r.iface !== 'lo') {
      out.add(r.iface);
    }
  }
  return [...out].sort();
}

/** Dotted quad of a host-order number. */
export function ipv4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function ipv4Number(text: string): number {
  return text.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

/**
 * The host's own IPv4 addresses from `/proc/net/fib_trie`: leaves followed by a `/32 host LOCAL` line, loopback
 * (127/8) excluded, deduplicated (the trie prints the Main and Local tables), in order of appearance. Throws when
 * the text does not start with a table name (`Main:`, `Local:`, `Id 100:`), as every fib_trie does.
 */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let leaf: string | null = null;
  const first = tableLines(text)[0];
  if (first === undefined || !/^(Main|Local|Id \d+):$/.test(first.line.trim())) {
    throw badLine(first?.index ?? 0, first?.line ?? '', 'a routing table name (Main:, Local:)');
  }
  for (const line of text.split('\n')) {
    const leafMatch = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leafMatch) {
      leaf = leafMatch[1] as string;
      continue;
    }
    if (/^\s*\+--/.test(line) || /^\S/.test(line)) {
      leaf = null;
      continue;
    }
    if (leaf !== null && /^\s*\/32\s+host\s+LOCAL\b/.test(line) && !leaf.startsWith('127.')) out.add(leaf);
  }
  return [...out];
}

/**
 * Maps local IPv4 addresses to interfaces through the connected (gateway-less) routes of `/proc/net/route`, longest
 * prefix first: the kernel adds `10.0.0.0/24 dev eth0` for `10.0.0.5/24 dev eth0`, and no file names an IPv4
 * address's interface directly. An address without such a route (a `/32` address) goes to the only interface that
 * has any route, when there is exactly one; otherwise it is returned in `unattributed` for a warning.
 */
export function attributeIpv4(
  addresses: string[],
  routes: RouteEntry[],
): { byInterface: Map<string, string[]>; unattributed: string[] } {
  const connected = routes
    .filter((r) => r.gateway === 0 && r.mask !== 0 && r.flags & RTF_UP && !(r.flags & RTF_REJECT))
    .sort((a, b) => prefixLength(b.mask) - prefixLength(a.mask) || a.metric - b.metric);
  const routed = [...new Set(routes.map((r) => r.iface).filter((i) => i !== 'lo'))];
  const byInterface = new Map<string, string[]>();
  const unattributed: string[] = [];
  for (const a of addresses) {
    const n = ipv4Number(a);
    const iface = connected.find((r) => ((n & r.mask) >>> 0) === ((r.destination & r.mask) >>> 0))?.iface
      ?? (routed.length === 1 ? routed[0] : undefined);
    if (iface === undefined) unattributed.push(a);
    else byInterface.set(iface, [...(byInterface.get(iface) ?? []), a]);
  }
  return { byInterface, unattributed };
}

function prefixLength(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
}

/** One line of `/proc/net/if_inet6`. */
export interface Inet6Address {
  iface: string;
  /** Compressed text form: `2001:db8::5`. */
  address: string;
  prefixLength: number;
  /** The kernel's scope: 0x00 global, 0x05 site, 0x10 host (loopback), 0x20 link. */
  scope: number;
}

/** RFC 5952 text of 32 hex digits. */
export function ipv6Text(hex: string): string {
  const groups = (hex.toLowerCase().match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, ''));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Parses `/proc/net/if_inet6` (`address ifindex prefixlen scope flags name`). Throws on a garbled table. */
export function parseIfInet6(text: string): Inet6Address[] {
  const out: Inet6Address[] = [];
  for (const { index, line } of tableLines(text)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0] as string) || !f.slice(1, 4).every((x) => /^[0-9a-f]+$/i.test(x))) {
      throw badLine(index, line, 'an IPv6 address');
    }
    out.push({
      iface: f[5] as string,
      address: ipv6Text(f[0] as string),
      prefixLength: parseInt(f[2] as string, 16),
      scope: parseInt(f[3] as string, 16),
    });
  }
  return out;
}

/**
 * The IPv6 addresses that mean "this interface is configured": not link-local (`fe80::/10`, which every up
 * interface has) and not loopback.
 */
export function configuredIpv6(addresses: Inet6Address[]): Inet6Address[] {
  return addresses.filter((a) => a.iface !== 'lo' && a.scope !== 0x10 && a.scope !== 0x20 && !/^fe[89ab]/.test(a.address));
}

/** `/proc/mounts` and `/proc/swaps` escape space, tab, newline and backslash as `\040`-style octal. */
export function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** One mount. */
export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
}

/** Parses `/proc/mounts` (fstab format). Throws on a garbled table, and on one without `/` (every host has it). */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const { index, line } of tableLines(text)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) throw badLine(index, line, 'a mount');
    out.push({ source: unescapeOctal(f[0] as string), target: unescapeOctal(f[1] as string), fstype: f[2] as string });
  }
  if (!out.some((m) => m.target === '/')) throw new Error('it lists no filesystem mounted on /');
  return out;
}

/** Mounts whose source is a block device (`/dev/...`): the ones a PCI controller can be behind. */
export function blockMounts(mounts: MountEntry[]): MountEntry[] {
  return mounts.filter((m) => m.source.startsWith('/dev/'));
}

/** `major:minor` of each mount point, from `/proc/self/mountinfo`; resolves sources like `/dev/root`. */
export function parseMountinfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+:\d+$/.test(f[2] as string)) continue;
    out.set(unescapeOctal(f[4] as string), f[2] as string);
  }
  return out;
}

/** One active swap area. */
export interface SwapEntry {
  filename: string;
  /** `partition` or `file`. */
  type: string;
}

/** Parses `/proc/swaps` (a header, then `Filename Type Size Used Priority`). Throws on a garbled table. */
export function parseSwaps(text: string): SwapEntry[] {
  const out: SwapEntry[] = [];
  const [header, ...lines] = tableLines(text);
  if (header === undefined || !/^Filename\s+Type\b/.test(header.line)) {
    throw badLine(header?.index ?? 0, header?.line ?? '', 'the header of /proc/swaps');
  }
  for (const { index, line } of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) throw badLine(index, line, 'a swap area');
    out.push({ filename: unescapeOctal(f[0] as string), type: f[1] as string });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution through sysfs
// ---------------------------------------------------------------------------------------------------------------

/** The interfaces stacked below each interface (bridge/bond/VLAN → ports), and those whose links cannot be read. */
interface NetStack {
  lowers: Map<string, Set<string>>;
  /** Interface → why its stacking links cannot be read. */
  unreadable: Map<string, string>;
}

/** Reads the stacking of every interface, from every link the kernel offers. Throws when `/sys/class/net` cannot be listed. */
function readNetStack(fs: HostFiles): NetStack {
  const lowers = new Map<string, Set<string>>();
  const unreadable = new Map<string, string>();
  const add = (upper: string, lower: string) => {
    if (upper === lower) return;
    if (!lowers.has(upper)) lowers.set(upper, new Set());
    lowers.get(upper)?.add(lower);
  };
  for (const name of fs.list('/sys/class/net')) {
    const dir = `/sys/class/net/${name}`;
    try {
      const entries = fs.list(dir);
      for (const e of entries) {
        if (e.startsWith('lower_')) add(name, e.slice('lower_'.length));
        if (e.startsWith('upper_')) add(e.slice('upper_'.length), name);
      }
      if (entries.includes('master')) {
        const master = fs.readlink(`${dir}/master`);
        if (master !== null) add(posix.basename(master), name);
      }
      if (entries.includes('brif')) for (const port of fs.list(`${dir}/brif`)) add(name, port);
      if (entries.includes('bonding')) {
        const slaves = fs.readOptional(`${dir}/bonding/slaves`);
        for (const s of slaves?.trim().split(/\s+/).filter(Boolean) ?? []) add(name, s);
      }
    } catch (err) {
      if (!isMissing(err)) unreadable.set(name, `cannot read ${dir}: ${describeError(err)}`);
    }
  }
  return { lowers, unreadable };
}

/** `iface` and everything below it, e.g. `br0` → `br0, bond0, eth1, eth2`. */
function closure(iface: string, lowers: Map<string, Set<string>>): string[] {
  const seen = new Set<string>([iface]);
  const queue = [iface];
  while (queue.length > 0) {
    for (const l of lowers.get(queue.shift() as string) ?? []) {
      if (!seen.has(l)) {
        seen.add(l);
        queue.push(l);
      }
    }
  }
  return [...seen];
}

/**
 * The PCI function that a sysfs class entry (`/sys/class/net/eth0`, `/sys/class/block/sda`) sits on, null for a
 * virtual one. Throws when the entry is missing or cannot be resolved, or sits on a PCI function that was not
 * observed: the use is then untraceable, not virtual.
 */
function classEntryPci(fs: HostFiles, entry: string, known: ReadonlySet<string>): string | null {
  const resolved = fs.realpath(entry);
  const owner = pciAncestor(resolved, known);
  if (owner === null && /^\/sys\/devices\/pci[0-9a-f]/.test(resolved)) {
    throw new Error(`${entry} leads to ${resolved}, below no PCI function that was observed`);
  }
  return owner;
}

/** A PCI function reached from a block device, and the block device that sits directly on it. */
interface BlockBacking {
  address: string;
  leaf: string;
}

/**
 * Finds the PCI functions under block device `name` (`nvme0n1p2`, `dm-0`, `md127`), following the stack down.
 * Throws when a link on the way cannot be read.
 */
function blockPci(fs: HostFiles, name: string, known: ReadonlySet<string>, seen = new Set<string>()): BlockBacking[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const resolved = fs.realpath(`/sys/class/block/${name}`);
  const direct = classEntryPci(fs, `/sys/class/block/${name}`, known);
  if (direct !== null) return [{ address: direct, leaf: name }];

  const out: BlockBacking[] = [];
  const below = (n: string) => out.push(...blockPci(fs, n, known, seen));
  // device-mapper (LVM, LUKS, multipath) and md list their components in slaves/.
  for (const slave of fs.list(`${resolved}/slaves`)) below(slave);
  // A partition of a virtual disk (dm-0p1, md127p2) has no slaves of its own: its disk does.
  if (out.length === 0 && fs.exists(`${resolved}/partition`)) below(posix.basename(posix.dirname(resolved)));
  // Native NVMe multipath: the namespace head lives under /sys/devices/virtual/nvme-subsystem/nvme-subsysN/, which
  // links to each controller (nvme0 → .../0000:01:00.0/nvme/nvme0).
  const subsys = /^(.*\/nvme-subsystem\/nvme-subsys\d+)\//.exec(resolved);
  if (out.length === 0 && subsys) {
    for (const e of fs.list(subsys[1] as string)) {
      if (!/^nvme\d+$/.test(e)) continue;
      const ctrl = classEntryPci(fs, `${subsys[1]}/${e}`, known);
      if (ctrl !== null) out.push({ address: ctrl, leaf: e });
    }
  }
  return out;
}

/** Maps what `/proc/mounts` and `/proc/swaps` name to a kernel block device name, or null. */
class BlockNames {
  private dmNames: Map<string, string> | null = null;
  private devNumbers: Map<string, string> | null = null;

  constructor(
    private readonly fs: HostFiles,
    private readonly mountinfo: Map<string, string>,
  ) {}

  /** `dm/name` → `dm-N`, so that `/dev/mapper/vg-root` resolves without a `/dev` in the tree. */
  private dm(): Map<string, string> {
    if (this.dmNames === null) {
      this.dmNames = new Map();
      for (const b of this.fs.list('/sys/class/block')) {
        if (!b.startsWith('dm-')) continue;
        const n = this.optional(`/sys/class/block/${b}/dm/name`);
        if (n) this.dmNames.set(n.trim(), b);
      }
    }
    return this.dmNames;
  }

  /** `major:minor` → block name, from each block device's `dev` attribute. */
  private numbers(): Map<string, string> {
    if (this.devNumbers === null) {
      this.devNumbers = new Map();
      for (const b of this.fs.list('/sys/class/block')) {
        const n = this.optional(`/sys/class/block/${b}/dev`);
        if (n) this.devNumbers.set(n.trim(), b);
      }
    }
    return this.devNumbers;
  }

  private optional(file: string): string | null {
    try {
      return this.fs.readOptional(file);
    } catch {
      return null;
    }
  }

  private isBlock(name: string): boolean {
    return name !== '' && !name.includes('/') && this.fs.exists(`/sys/class/block/${name}`);
  }

  resolve(source: string, mountPoint?: string): string | null {
    const rest = source.slice('/dev/'.length);
    if (rest.startsWith('mapper/')) {
      const dm = this.dm().get(rest.slice('mapper/'.length));
      if (dm !== undefined) return dm;
    }
    const base = posix.basename(source);
    if (!rest.includes('/') && this.isBlock(base)) return base;
    // /dev/disk/by-uuid/..., /dev/vg/lv: symlinks in the tree's /dev, when it has one (the real host does).
    try {
      const target = posix.basename(this.fs.realpath(source));
      if (this.isBlock(target)) return target;
    } catch {
      // no /dev in a captured tree: try the other ways
    }
    // /dev/VG/LV names dm device "VG-LV", with '-' inside either name doubled.
    const lv = /^([^/]+)\/([^/]+)$/.exec(rest);
    if (lv) {
      const dm = this.dm().get(`${lv[1]?.replace(/-/g, '--')}-${lv[2]?.replace(/-/g, '--')}`);
      if (dm !== undefined) return dm;
    }
    // /dev/root and other aliases: the mount's device number.
    const devno = mountPoint === undefined ? undefined : this.mountinfo.get(mountPoint);
    if (devno !== undefined) return this.numbers().get(devno) ?? null;
    return null;
  }
}

/** The order host uses are listed in: the most disruptive first. */
const KIND_ORDER: HostUse['kind'][] = ['default-route', 'address', 'mount', 'swap', 'boot-vga'];

function via(used: string, nic: string): string {
  return used === nic ? '' : ` (${nic} is a port of ${used})`;
}

/** At most 3 mount points, so a host with many bind mounts stays readable. */
function someTargets(targets: string[]): string {
  return targets.length <= 3 ? targets.join(', ') : `${targets.slice(0, 3).join(', ')} and ${targets.length - 3} more`;
}

/** What {@link observeHostUse} found: the uses per PCI address, and the parts it could not observe. */
export interface HostUseObservation {
  uses: Map<string, HostUse[]>;
  unknown: HostUseUnknown;
}

/**
 * Collects the reasons one part of host use is unknown. The first few are kept for the snapshot; every one is
 * warned about as it is met.
 */
class Gaps {
  private readonly reasons: string[] = [];

  constructor(
    private readonly part: 'network' | 'storage',
    private readonly warn: WarnFn,
  ) {}

  add(reason: string): void {
    this.warn(`${reason}; ${this.part} host use is unknown`);
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }

  /** The reasons as one text, or undefined when the part is known. */
  summary(): string | undefined {
    if (this.reasons.length === 0) return undefined;
    return this.reasons.length <= 3 ? this.reasons.join('; ') : `${this.reasons.slice(0, 3).join('; ')} and ${this.reasons.length - 3} more`;
  }
}

/**
 * Reads one procfs table and parses it: undefined when it is absent, null when it cannot be read or parsed (which
 * makes the part unknown). A `required` table — one every Linux host has — that is absent makes it unknown too.
 */
function readTable<T>(fs: HostFiles, file: string, parse: (text: string) => T, gaps: Gaps, required: boolean): T | null | undefined {
  let text: string | null;
  try {
    text = fs.readOptional(file);
  } catch (err) {
    gaps.add(`${file} cannot be read (${describeError(err)})`);
    return null;
  }
  if (text === null) {
    if (required) gaps.add(`${file} is missing`);
    return undefined;
  }
  try {
    return parse(text);
  } catch (err) {
    gaps.add(`${file} is garbled: ${(err as Error).message}`);
    return null;
  }
}

/**
 * For each PCI address that the host depends on, why (`eth0 carries the default route`, `eth0 has address
 * 10.0.0.5`, `/dev/nvme0n1p2 is mounted on /`, `/dev/sda2 is swap`), and which part (network, storage) could not be
 * observed and why. `boot_vga` is not included: it is a device attribute, read by `readPciDevices`. A use that leads
 * to no PCI function (a VPN, tmpfs, zram) is virtual; one that cannot be followed at all makes its part unknown.
 */
export function observeHostUse(tree: HostTree | HostFiles, devices: readonly PciDevice[], options: ObserveOptions = {}): HostUseObservation {
  const warn = options.warn ?? (() => {});
  const fs = typeof tree === 'string' ? new HostFs(tree) : tree;
  const known = new Set(devices.map((d) => d.address));
  const uses = new Map<string, HostUse[]>();
  const add = (address: string, use: HostUse) => {
    const list = uses.get(address) ?? [];
    if (!list.some((u) => u.kind === use.kind && u.detail === use.detail)) list.push(use);
    uses.set(address, list);
  };
  const network = new Gaps('network', warn);
  const storage = new Gaps('storage', warn);
  observeNetworkUse(fs, known, add, network);
  observeStorageUse(fs, known, add, storage);
  for (const list of uses.values()) list.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const unknown: HostUseUnknown = {};
  const networkGaps = network.summary();
  const storageGaps = storage.summary();
  if (networkGaps !== undefined) unknown.network = networkGaps;
  if (storageGaps !== undefined) unknown.storage = storageGaps;
  return { uses, unknown };
}

type AddUse = (address: string, use: HostUse) => void;

/** Default routes and addresses, traced down through bridges, bonds and VLANs to the NICs. */
function observeNetworkUse(fs: HostFiles, known: ReadonlySet<string>, add: AddUse, gaps: Gaps): void {
  const routes = readTable(fs, '/proc/net/route', parseRouteTable, gaps, true) ?? [];
  const local = readTable(fs, '/proc/net/fib_trie', parseFibTrieLocal, gaps, true) ?? [];
  // Without IPv6 (ipv6.disable=1) both files are absent; one without the other is a broken tree.
  const routes6 = readTable(fs, '/proc/net/ipv6_route', parseIpv6Routes, gaps, false);
  const inet6 = readTable(fs, '/proc/net/if_inet6', parseIfInet6, gaps, false);
  if ((routes6 === undefined) !== (inet6 === undefined)) {
    gaps.add(`${routes6 === undefined ? '/proc/net/ipv6_route' : '/proc/net/if_inet6'} is missing although the other IPv6 table is there`);
  }

  const netUses: { iface: string; kind: HostUse['kind']; what: string }[] = [];
  for (const iface of defaultRouteInterfaces(routes, routes6 ?? [])) {
    netUses.push({ iface, kind: 'default-route', what: 'carries the default route' });
  }
  const { byInterface, unattributed } = attributeIpv4(local, routes);
  for (const a of unattributed) gaps.add(`local address ${a} has no connected route, so which interface has it cannot be told`);
  const addresses = new Map<string, string[]>(byInterface);
  for (const a of configuredIpv6(inet6 ?? [])) {
    addresses.set(a.iface, [...(addresses.get(a.iface) ?? []), a.address]);
  }
  for (const [iface, list] of addresses) {
    if (iface === 'lo') continue;
    netUses.push({ iface, kind: 'address', what: `has address${list.length > 1 ? 'es' : ''} ${list.join(', ')}` });
  }
  if (netUses.length === 0) return;
  let stack: NetStack;
  try {
    stack = readNetStack(fs);
  } catch (err) {
    gaps.add(`/sys/class/net cannot be listed (${describeError(err)})`);
    return;
  }
  for (const u of netUses) {
    for (const nic of closure(u.iface, stack.lowers)) {
      const unreadable = stack.unreadable.get(nic);
      if (unreadable !== undefined) gaps.add(`${unreadable} (${u.iface} ${u.what})`);
      try {
        const address = classEntryPci(fs, `/sys/class/net/${nic}`, known);
        if (address !== null) add(address, { kind: u.kind, detail: `${u.iface} ${u.what}${via(u.iface, nic)}` });
      } catch (err) {
        gaps.add(`interface ${nic} (${u.iface} ${u.what}) cannot be traced to a PCI device (${describeError(err)})`);
      }
    }
  }
}

/** Block-device mounts and swap areas, traced down through dm/md, partitions and NVMe multipath. */
function observeStorageUse(fs: HostFiles, known: ReadonlySet<string>, add: AddUse, gaps: Gaps): void {
  const mounts = readTable(fs, '/proc/mounts', parseMounts, gaps, true) ?? [];
  const swaps = readTable(fs, '/proc/swaps', parseSwaps, gaps, true) ?? [];
  // Only needed for aliases like /dev/root; a source it would have resolved is reported below when unresolved.
  let mountinfo = new Map<string, string>();
  try {
    mountinfo = parseMountinfo(fs.readOptional('/proc/self/mountinfo') ?? '');
  } catch {
    // unreadable: aliases stay unresolved
  }
  const names = new BlockNames(fs, mountinfo);
  const targetsBySource = new Map<string, string[]>();
  for (const m of blockMounts(mounts)) {
    const t = targetsBySource.get(m.source) ?? [];
    if (!t.includes(m.target)) t.push(m.target);
    targetsBySource.set(m.source, t);
  }
  const uses: { source: string; kind: HostUse['kind']; what: string; mountPoint?: string }[] = [];
  for (const [source, targets] of targetsBySource) {
    uses.push({ source, kind: 'mount', what: `is mounted on ${someTargets(targets)}`, mountPoint: targets[0] });
  }
  for (const s of swaps) {
    // A swap file lives on a filesystem whose mount is already counted.
    if (s.type === 'partition' || s.filename.startsWith('/dev/')) uses.push({ source: s.filename, kind: 'swap', what: 'is swap' });
  }
  for (const s of uses) {
    try {
      const name = names.resolve(s.source, s.mountPoint);
      if (name === null) {
        gaps.add(`block device ${s.source} (which ${s.what}) is not in /sys/class/block, so its controller cannot be told`);
        continue;
      }
      for (const b of blockPci(fs, name, known)) {
        const chain = b.leaf === posix.basename(s.source) ? '' : ` (on ${b.leaf})`;
        add(b.address, { kind: s.kind, detail: `${s.source} ${s.what}${chain}` });
      }
    } catch (err) {
      gaps.add(`${s.source} (which ${s.what}) cannot be traced to a PCI device (${describeError(err)})`);
    }
  }
}
