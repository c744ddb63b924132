/**
 * The local host's PCI functions, read from sysfs under a root directory (`--root`, default `/`).
 *
 * Everything is read through a {@link HostFs}: a root-relative view of a file tree whose symlinks are resolved
 * *inside* the root. sysfs is mostly relative links, but a captured tree (or a hostile one) may hold absolute links,
 * and following those with the real `realpath` would read this machine's `/sys` instead of the captured host's —
 * silently planning against the wrong hardware. Reading the real `/` with root `/` behaves exactly like realpath.
 *
 * Reading is tolerant because sysfs is live: a device can vanish between `readdir` and `read` (hot-unplug, a VF
 * being removed), old kernels lack `driver_override`, the IOMMU may be off (no `iommu_group`). Those are normal;
 * anything surprising is reported through `warn` and the rest of the host is still observed.
 */
import { isBridgeClass, UNKNOWN_CLASS } from '../model/pci-class.js';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { HostError } from '../errors.js';
import { canonicalAddress, compareAddressText, parsePciAddress } from '../model/pci-address.js';
import type { PciDevice } from '../model/snapshot.js';

const posix = path.posix;

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/** Receives one human message per oddity met while observing (unreadable file, vanished device...). */
export type WarnFn = (message: string) => void;

/** Options shared by the observers. */
export interface ObserveOptions {
  /** Called for each oddity; observation continues. Default: ignore. */
  warn?: WarnFn;
}

/** The node error code of a failed fs call, or undefined. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Errors that mean "this path is not there (any more)": expected on a live sysfs. */
export function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A host's file tree mounted at `root` on this machine. Paths given to its methods are the host's own absolute
 * paths (`/sys/bus/pci/devices`); paths it returns are host paths too. Symlinks are followed within the root: an
 * absolute target is re-rooted and `..` never climbs above the root. Link targets are cached for the instance's
 * lifetime, so use one instance per observation.
 */
export class HostFs {
  /** Absolute path of the root on this machine. */
  readonly root: string;
  private readonly linkCache = new Map<string, string | null>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** This machine's path for a host path. */
  local(hostPath: string): string {
    return path.join(this.root, hostPath);
  }

  /** The link target of `hostPath` itself, or null when it is not a symlink. Throws the lstat error. */
  private async linkTarget(hostPath: string): Promise<string | null> {
    const cached = this.linkCache.get(hostPath);
    if (cached !== undefined) return cached;
    const st = await lstat(this.local(hostPath));
    const target = st.isSymbolicLink() ? await readlink(this.local(hostPath)) : null;
    this.linkCache.set(hostPath, target);
    return target;
  }

  /**
   * Resolves every symlink in `hostPath` within the root, like realpath(3). Throws ENOENT (or ELOOP) like it.
   */
  async realpath(hostPath: string): Promise<string> {
    const resolved: string[] = [];
    const pending = hostPath.split('/').filter((p) => p !== '');
    let followed = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = `/${[...resolved, part].join('/')}`;
      const target = await this.linkTarget(candidate);
      if (target === null) {
        resolved.push(part);
        continue;
      }
      if (++followed > MAX_SYMLINKS) {
        throw Object.assign(new Error(`too many levels of symbolic links: ${hostPath}`), { code: 'ELOOP' });
      }
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== ''));
    }
    return `/${resolved.join('/')}`;
  }

  /** Reads a text file, following links within the root. Throws the fs error. */
  async readText(hostPath: string): Promise<string> {
    return readFile(this.local(await this.realpath(hostPath)), 'utf8');
  }

  /** Reads a text file, or null when it does not exist. Other errors (EACCES, EIO) are thrown. */
  async readOptional(hostPath: string): Promise<string | null> {
    try {
      return await this.readText(hostPath);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** The raw target of the symlink `hostPath` (its directory resolved within the root), or null when absent. */
  async readlink(hostPath: string): Promise<string | null> {
    try {
      const dir = await this.realpath(posix.dirname(hostPath));
      return await readlink(this.local(posix.join(dir, posix.basename(hostPath))));
    } catch (err) {
      if (isMissing(err) || errorCode(err) === 'EINVAL') return null;
      throw err;
    }
  }

  /** Entry names of a directory (following links within the root), sorted; [] when it does not exist. */
  async list(hostPath: string): Promise<string[]> {
    try {
      return (await readdir(this.local(await this.realpath(hostPath)))).sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  /** True when `hostPath` exists (following links within the root). */
  async exists(hostPath: string): Promise<boolean> {
    try {
      await lstat(this.local(await this.realpath(hostPath)));
      return true;
    } catch (err) {
      if (isMissing(err) || errorCode(err) === 'ELOOP') return false;
      throw err;
    }
  }
}

/** A kernel PCI function directory name: `0000:07:00.0`. Domains above ffff (Intel VMD) have more digits. */
const PCI_DIR = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/**
 * The nearest PCI function on the sysfs path `resolved` (`/sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/net/eth0`
 * → `0000:07:00.0`) that is one of `known`. Searching from the leaf up finds the function that owns a netdev or a
 * disk: a USB NIC resolves to its xHCI controller, a disk behind a VMD domain to the VMD endpoint.
 */
export function pciAncestor(resolved: string, known: ReadonlySet<string>): string | null {
  if (!resolved.startsWith('/sys/devices/')) return null;
  const parts = resolved.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as string;
    if (known.has(part)) return part;
  }
  return null;
}

/** `0x8086\n` → `8086`, zero-padded to `width` lowercase hex digits; null when it is not a hex number. */
export function normaliseHex(text: string, width: number): string | null {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)\s*$/.exec(text);
  if (!m) return null;
  return (m[1] as string).toLowerCase().padStart(width, '0');
}

/** Vendor/product when the identity files could not be read: what config space reads as for no device. */
const UNKNOWN_ID = 'ffff';

/** Reads one optional attribute; EACCES/EIO are warned about and treated as absent. */
async function attr(fs: HostFs, file: string, warn: WarnFn): Promise<string | null> {
  try {
    return await fs.readOptional(file);
  } catch (err) {
    warn(`cannot read ${file}: ${errorCode(err) ?? String(err)}`);
    return null;
  }
}

/** Basename of the link `file`, or null when absent (or unreadable, with a warning). */
async function linkBase(fs: HostFs, file: string, warn: WarnFn): Promise<string | null> {
  try {
    const target = await fs.readlink(file);
    return target === null ? null : posix.basename(target);
  } catch (err) {
    warn(`cannot read link ${file}: ${errorCode(err) ?? String(err)}`);
    return null;
  }
}

/** Canonical form of a PCI address taken from a link basename, or null (with a warning) when it is not one. */
function addressOf(text: string, what: string, warn: WarnFn): string | null {
  const parsed = parsePciAddress(text);
  if (parsed.ok && parsed.address.fn !== null) return canonicalAddress(text);
  warn(`${what}: "${text}" is not a PCI function address passthru can handle; ignored`);
  return null;
}

/** Network interfaces of every PCI function, via `/sys/class/net` (covers virtio's `virtioN/net/` nesting). */
async function netInterfacesByDevice(fs: HostFs, known: ReadonlySet<string>, warn: WarnFn): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let names: string[] = [];
  try {
    names = await fs.list('/sys/class/net');
  } catch (err) {
    warn(`cannot list /sys/class/net: ${errorCode(err) ?? String(err)}; network interfaces only from each device's net/`);
  }
  for (const name of names) {
    let resolved: string;
    try {
      resolved = await fs.realpath(`/sys/class/net/${name}`);
    } catch (err) {
      if (!isMissing(err)) warn(`cannot resolve /sys/class/net/${name}: ${errorCode(err) ?? String(err)}`);
      continue;
    }
    // Only the interface's own device counts: a VLAN or bridge on top lives under /sys/devices/virtual.
    const owner = pciAncestor(resolved, known);
    if (owner === null) continue;
    out.set(owner, [...(out.get(owner) ?? []), name]);
  }
  return out;
}

/** Reads one function; null when it vanished while being read. */
async function readDevice(fs: HostFs, name: string, warn: WarnFn): Promise<PciDevice | null> {
  const link = `/sys/bus/pci/devices/${name}`;
  let dir: string;
  try {
    dir = await fs.realpath(link);
  } catch (err) {
    if (isMissing(err)) return null; // hot-unplugged between readdir and now
    throw err;
  }
  const address = addressOf(name, link, warn);
  if (address === null) return null;

  const [vendorText, productText, classText, overrideText, bootVga] = await Promise.all(
    ['vendor', 'device', 'class', 'driver_override', 'boot_vga'].map((f) => attr(fs, `${dir}/${f}`, warn)),
  );
  // A function whose identity cannot be read is still listed (as ffff, what config space reads for "no device"):
  // leaving it out could make its IOMMU group look viable when it is not.
  const id = (text: string | null | undefined, width: number, file: string, fallback: string) => {
    const v = text == null ? null : normaliseHex(text, width);
    if (v === null) warn(`${address}: ${file} is unreadable or malformed (${JSON.stringify(text ?? null)}); using ${fallback}`);
    return v ?? fallback;
  };
  const vendor = id(vendorText, 4, 'vendor', UNKNOWN_ID);
  const product = id(productText, 4, 'device', UNKNOWN_ID);
  const cls = id(classText, 6, 'class', UNKNOWN_CLASS);

  const [driver, groupName, physfn, entries] = await Promise.all([
    linkBase(fs, `${dir}/driver`, warn),
    linkBase(fs, `${dir}/iommu_group`, warn),
    linkBase(fs, `${dir}/physfn`, warn),
    fs.list(dir).catch((err: unknown) => {
      warn(`cannot list ${dir}: ${errorCode(err) ?? String(err)}`);
      return [] as string[];
    }),
  ]);

  const override = overrideText?.trim() ?? '';
  const group = groupName !== null && /^\d+$/.test(groupName) ? Number(groupName) : null;
  if (groupName !== null && group === null) warn(`${address}: iommu_group link "${groupName}" is not a group number`);

  const vfEntries = entries
    .map((e) => /^virtfn(\d+)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  const virtualFunctions: string[] = [];
  for (const m of vfEntries) {
    const base = await linkBase(fs, `${dir}/${m[0]}`, warn);
    const vf = base === null ? null : addressOf(base, `${address}/${m[0]}`, warn);
    if (vf !== null) virtualFunctions.push(vf);
  }

  return {
    address,
    vendor,
    product,
    class: cls,
    driver,
    driverOverride: override === '' || override === '(null)' ? null : override,
    iommuGroup: group,
    isBridge: isBridgeClass(cls) || entries.includes('pci_bus'),
    physFunction: physfn === null ? null : addressOf(physfn, `${address}/physfn`, warn),
    virtualFunctions,
    netInterfaces: entries.includes('net') ? await fs.list(`${dir}/net`) : [],
    hostUse: bootVga?.trim() === '1' ? [{ kind: 'boot-vga', detail: BOOT_VGA_DETAIL }] : [],
  };
}

/** The `boot_vga` host-use detail: the GPU the firmware and the console came up on. */
const BOOT_VGA_DETAIL = 'boot_vga: the GPU the firmware and the host console use';

/**
 * Every PCI function under `<root>/sys/bus/pci/devices`, sorted by address: identity (lowercase hex, class 6 digits),
 * bound driver, `driver_override`, IOMMU group, bridge-ness, SR-IOV links and network interfaces. `hostUse` holds
 * only `boot-vga` (a sysfs attribute); routes, addresses, mounts and swap are added by `observeHostUse`. No names:
 * those come from `pci-ids.ts`. Never writes.
 */
export async function readPciDevices(root: string, options: ObserveOptions = {}): Promise<PciDevice[]> {
  const warn = options.warn ?? (() => {});
  const fs = new HostFs(root);
  let listed: string[];
  try {
    listed = await fs.list('/sys/bus/pci/devices');
  } catch (err) {
    throw new HostError(`cannot list ${fs.local('/sys/bus/pci/devices')}: ${errorCode(err) ?? String(err)}`, {
      hint: 'passthru reads sysfs; run it as a user who can read /sys (root on hardened hosts)',
      cause: err,
    });
  }
  if (listed.length === 0 && !(await fs.exists('/sys/bus/pci'))) {
    warn(`${fs.local('/sys/bus/pci')} does not exist: no PCI devices can be seen (is --root right?)`);
  }
  const names = listed.filter((n) => {
    if (PCI_DIR.test(n)) return true;
    warn(`/sys/bus/pci/devices/${n} is not a PCI address; ignored`);
    return false;
  });
  const read = await Promise.all(
    names.map((n) =>
      readDevice(fs, n, warn).catch((err: unknown) => {
        warn(`cannot read PCI device ${n}: ${err instanceof Error ? err.message : String(err)}; left out`);
        return null;
      }),
    ),
  );
  const devices = read.filter((d): d is PciDevice => d !== null);
  const known = new Set(devices.map((d) => d.address));
  const nets = await netInterfacesByDevice(fs, known, warn);
  for (const d of devices) {
    d.netInterfaces = [...new Set([...d.netInterfaces, ...(nets.get(d.address) ?? [])])].sort();
  }
  return devices.sort((a, b) => compareAddressText(a.address, b.address));
}
