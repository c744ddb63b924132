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
 * Stacking is followed downwards from what the host uses to the hardware: a bridge/bond/VLAN to its ports (`lower_*`,
 * `brif/`, `bonding/slaves`, and each port's `master`/`upper_*`), a device-mapper/md device to its `slaves/`, a
 * partition to its disk, a multipath NVMe namespace to its controllers.
 */
import path from 'node:path';
import type { HostUse, PciDevice } from '../model/snapshot.js';
import type { ObserveOptions, WarnFn } from './sysfs.js';
import { HostFs, errorCode, isMissing, pciAncestor } from './sysfs.js';

const posix = path.posix;

// ---------------------------------------------------------------------------------------------------------------
// Pure parsers
// ---------------------------------------------------------------------------------------------------------------

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

/** Parses `/proc/net/route`; malformed lines are skipped. */
export function parseRouteTable(text: string): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    if (![dest, gw, flags, mask].every((x) => /^[0-9A-Fa-f]{1,8}$/.test(x))) continue;
    out.push({
      iface,
      destination: routeWord(dest),
      gateway: routeWord(gw),
      mask: routeWord(mask),
      flags: parseInt(flags, 16),
      metric: Number(metric) || 0,
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

/** Parses `/proc/net/ipv6_route`; malformed lines are skipped. */
export function parseIpv6Routes(text: string): Ipv6Route[] {
  const out: Ipv6Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-f]{32}$/i.test(f[0] as string)) continue;
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
 * (127/8) excluded, deduplicated (the trie prints the Main and Local tables), in order of appearance.
 */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let leaf: string | null = null;
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

/** Parses `/proc/net/if_inet6` (`address ifindex prefixlen scope flags name`). */
export function parseIfInet6(text: string): Inet6Address[] {
  const out: Inet6Address[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0] as string)) continue;
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

/** Parses `/proc/mounts` (fstab format). */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    out.push({ source: unescapeOctal(f[0] as string), target: unescapeOctal(f[1] as string), fstype: f[2] as string });
  }
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

/** Parses `/proc/swaps` (a header, then `Filename Type Size Used Priority`). */
export function parseSwaps(text: string): SwapEntry[] {
  const out: SwapEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    out.push({ filename: unescapeOctal(f[0] as string), type: f[1] as string });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution through sysfs
// ---------------------------------------------------------------------------------------------------------------

/** The interfaces stacked below each interface (bridge/bond/VLAN → ports), from every link the kernel offers. */
async function lowerInterfaces(fs: HostFs, warn: WarnFn): Promise<Map<string, Set<string>>> {
  const lowers = new Map<string, Set<string>>();
  const add = (upper: string, lower: string) => {
    if (upper === lower) return;
    if (!lowers.has(upper)) lowers.set(upper, new Set());
    lowers.get(upper)?.add(lower);
  };
  const names = await fs.list('/sys/class/net').catch((err: unknown) => {
    warn(`cannot list /sys/class/net: ${errorCode(err) ?? String(err)}; bridge and bond ports are not followed`);
    return [] as string[];
  });
  for (const name of names) {
    const dir = `/sys/class/net/${name}`;
    try {
      const entries = await fs.list(dir);
      for (const e of entries) {
        if (e.startsWith('lower_')) add(name, e.slice('lower_'.length));
        if (e.startsWith('upper_')) add(e.slice('upper_'.length), name);
      }
      const master = await fs.readlink(`${dir}/master`);
      if (master !== null) add(posix.basename(master), name);
      if (entries.includes('brif')) for (const port of await fs.list(`${dir}/brif`)) add(name, port);
      const slaves = await fs.readOptional(`${dir}/bonding/slaves`);
      for (const s of slaves?.trim().split(/\s+/).filter(Boolean) ?? []) add(name, s);
    } catch (err) {
      if (!isMissing(err)) warn(`cannot read ${dir}: ${errorCode(err) ?? String(err)}`);
    }
  }
  return lowers;
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

/** PCI function that owns a network interface, or null (virtual interface, or vanished). */
async function interfacePci(fs: HostFs, iface: string, known: ReadonlySet<string>): Promise<string | null> {
  try {
    return pciAncestor(await fs.realpath(`/sys/class/net/${iface}`), known);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/** A PCI function reached from a block device, and the block device that sits directly on it. */
interface BlockBacking {
  address: string;
  leaf: string;
}

/** Finds the PCI functions under block device `name` (`nvme0n1p2`, `dm-0`, `md127`), following the stack down. */
async function blockPci(fs: HostFs, name: string, known: ReadonlySet<string>, seen = new Set<string>()): Promise<BlockBacking[]> {
  if (seen.has(name)) return [];
  seen.add(name);
  let resolved: string;
  try {
    resolved = await fs.realpath(`/sys/class/block/${name}`);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const direct = pciAncestor(resolved, known);
  if (direct !== null) return [{ address: direct, leaf: name }];

  const out: BlockBacking[] = [];
  const below = async (n: string) => out.push(...(await blockPci(fs, n, known, seen)));
  // device-mapper (LVM, LUKS, multipath) and md list their components in slaves/.
  for (const slave of await fs.list(`${resolved}/slaves`)) await below(slave);
  // A partition of a virtual disk (dm-0p1, md127p2) has no slaves of its own: its disk does.
  if (out.length === 0 && (await fs.exists(`${resolved}/partition`))) await below(posix.basename(posix.dirname(resolved)));
  // Native NVMe multipath: the namespace head lives under /sys/devices/virtual/nvme-subsystem/nvme-subsysN/, which
  // links to each controller (nvme0 → .../0000:01:00.0/nvme/nvme0).
  const subsys = /^(.*\/nvme-subsystem\/nvme-subsys\d+)\//.exec(resolved);
  if (out.length === 0 && subsys) {
    for (const e of await fs.list(subsys[1] as string)) {
      if (!/^nvme\d+$/.test(e)) continue;
      const ctrl = pciAncestor(await fs.realpath(`${subsys[1]}/${e}`).catch(() => ''), known);
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
    private readonly fs: HostFs,
    private readonly mountinfo: Map<string, string>,
  ) {}

  /** `dm/name` → `dm-N`, so that `/dev/mapper/vg-root` resolves without a `/dev` in the tree. */
  private async dm(): Promise<Map<string, string>> {
    if (this.dmNames === null) {
      this.dmNames = new Map();
      for (const b of await this.fs.list('/sys/class/block')) {
        if (!b.startsWith('dm-')) continue;
        const n = await this.fs.readOptional(`/sys/class/block/${b}/dm/name`).catch(() => null);
        if (n) this.dmNames.set(n.trim(), b);
      }
    }
    return this.dmNames;
  }

  /** `major:minor` → block name, from each block device's `dev` attribute. */
  private async numbers(): Promise<Map<string, string>> {
    if (this.devNumbers === null) {
      this.devNumbers = new Map();
      for (const b of await this.fs.list('/sys/class/block')) {
        const n = await this.fs.readOptional(`/sys/class/block/${b}/dev`).catch(() => null);
        if (n) this.devNumbers.set(n.trim(), b);
      }
    }
    return this.devNumbers;
  }

  private async isBlock(name: string): Promise<boolean> {
    return name !== '' && !name.includes('/') && (await this.fs.exists(`/sys/class/block/${name}`));
  }

  async resolve(source: string, mountPoint?: string): Promise<string | null> {
    const rest = source.slice('/dev/'.length);
    if (rest.startsWith('mapper/')) {
      const dm = (await this.dm()).get(rest.slice('mapper/'.length));
      if (dm !== undefined) return dm;
    }
    const base = posix.basename(source);
    if (!rest.includes('/') && (await this.isBlock(base))) return base;
    // /dev/disk/by-uuid/..., /dev/vg/lv: symlinks in the tree's /dev, when it has one (the real host does).
    try {
      const target = posix.basename(await this.fs.realpath(source));
      if (await this.isBlock(target)) return target;
    } catch {
      // no /dev in a captured tree: try the other ways
    }
    // /dev/VG/LV names dm device "VG-LV", with '-' inside either name doubled.
    const lv = /^([^/]+)\/([^/]+)$/.exec(rest);
    if (lv) {
      const dm = (await this.dm()).get(`${lv[1]?.replace(/-/g, '--')}-${lv[2]?.replace(/-/g, '--')}`);
      if (dm !== undefined) return dm;
    }
    // /dev/root and other aliases: the mount's device number.
    const devno = mountPoint === undefined ? undefined : this.mountinfo.get(mountPoint);
    if (devno !== undefined) return (await this.numbers()).get(devno) ?? null;
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

/**
 * For each PCI address that the host depends on, why (`eth0 carries the default route`, `eth0 has address
 * 10.0.0.5`, `/dev/nvme0n1p2 is mounted on /`, `/dev/sda2 is swap`). `boot_vga` is not included: it is a device
 * attribute, read by `readPciDevices`. A use that cannot be traced to hardware (an address with no route, a mount
 * source not found in sysfs) is reported through `warn` — it may be virtual (tmpfs, zram, a VPN), or may not.
 */
export async function observeHostUse(
  root: string,
  devices: readonly PciDevice[],
  options: ObserveOptions = {},
): Promise<Map<string, HostUse[]>> {
  const warn = options.warn ?? (() => {});
  const fs = new HostFs(root);
  const known = new Set(devices.map((d) => d.address));
  const uses = new Map<string, HostUse[]>();
  const add = (address: string, use: HostUse) => {
    const list = uses.get(address) ?? [];
    if (!list.some((u) => u.kind === use.kind && u.detail === use.detail)) list.push(use);
    uses.set(address, list);
  };
  const read = async (file: string) => {
    try {
      return await fs.readOptional(file);
    } catch (err) {
      warn(`cannot read ${file}: ${errorCode(err) ?? String(err)}; host use from it is unknown`);
      return null;
    }
  };

  // --- network: default routes and addresses, traced down through bridges, bonds and VLANs.
  const [routeText, route6Text, fibText, inet6Text] = await Promise.all(
    ['/proc/net/route', '/proc/net/ipv6_route', '/proc/net/fib_trie', '/proc/net/if_inet6'].map(read),
  );
  const routes = parseRouteTable(routeText ?? '');
  const netUses: { iface: string; kind: HostUse['kind']; what: string }[] = [];
  for (const iface of defaultRouteInterfaces(routes, parseIpv6Routes(route6Text ?? ''))) {
    netUses.push({ iface, kind: 'default-route', what: 'carries the default route' });
  }
  const { byInterface, unattributed } = attributeIpv4(parseFibTrieLocal(fibText ?? ''), routes);
  for (const a of unattributed) warn(`local address ${a} has no connected route; cannot tell which interface has it`);
  const addresses = new Map<string, string[]>(byInterface);
  for (const a of configuredIpv6(parseIfInet6(inet6Text ?? ''))) {
    addresses.set(a.iface, [...(addresses.get(a.iface) ?? []), a.address]);
  }
  for (const [iface, list] of addresses) {
    if (iface === 'lo') continue;
    netUses.push({ iface, kind: 'address', what: `has address${list.length > 1 ? 'es' : ''} ${list.join(', ')}` });
  }
  if (netUses.length > 0) {
    const lowers = await lowerInterfaces(fs, warn);
    for (const u of netUses) {
      for (const nic of closure(u.iface, lowers)) {
        try {
          const address = await interfacePci(fs, nic, known);
          if (address !== null) add(address, { kind: u.kind, detail: `${u.iface} ${u.what}${via(u.iface, nic)}` });
        } catch (err) {
          warn(`cannot trace interface ${nic} (${u.iface} ${u.what}) to a PCI device: ${errorCode(err) ?? String(err)}`);
        }
      }
    }
  }

  // --- storage: block-device mounts and swap areas, traced down through dm/md, partitions and NVMe multipath.
  const [mountsText, mountinfoText, swapsText] = await Promise.all(
    ['/proc/mounts', '/proc/self/mountinfo', '/proc/swaps'].map(read),
  );
  const names = new BlockNames(fs, parseMountinfo(mountinfoText ?? ''));
  const targetsBySource = new Map<string, string[]>();
  for (const m of blockMounts(parseMounts(mountsText ?? ''))) {
    const t = targetsBySource.get(m.source) ?? [];
    if (!t.includes(m.target)) t.push(m.target);
    targetsBySource.set(m.source, t);
  }
  const storage: { source: string; kind: HostUse['kind']; what: string; mountPoint?: string }[] = [];
  for (const [source, targets] of targetsBySource) {
    storage.push({ source, kind: 'mount', what: `is mounted on ${someTargets(targets)}`, mountPoint: targets[0] });
  }
  for (const s of parseSwaps(swapsText ?? '')) {
    // A swap file lives on a filesystem whose mount is already counted.
    if (s.type === 'partition' || s.filename.startsWith('/dev/')) storage.push({ source: s.filename, kind: 'swap', what: 'is swap' });
  }
  for (const s of storage) {
    try {
      const name = await names.resolve(s.source, s.mountPoint);
      if (name === null) {
        warn(`cannot find block device ${s.source} (which ${s.what}) in /sys/class/block; its controller is not known`);
        continue;
      }
      for (const b of await blockPci(fs, name, known)) {
        const chain = b.leaf === posix.basename(s.source) ? '' : ` (on ${b.leaf})`;
        add(b.address, { kind: s.kind, detail: `${s.source} ${s.what}${chain}` });
      }
    } catch (err) {
      warn(`cannot trace ${s.source} (which ${s.what}) to a PCI device: ${errorCode(err) ?? String(err)}`);
    }
  }

  for (const list of uses.values()) list.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  return uses;
}
