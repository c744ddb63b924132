/**
 * The local host's PCI functions, read from sysfs under a root directory (`--root`, default `/`) through a
 * {@link HostFs}, which resolves links inside the root and reads synchronously (sysfs is in memory).
 *
 * IOMMU group membership is read from each group's own `/sys/kernel/iommu_groups/N/devices/`, not only from the
 * functions' `iommu_group` links: a function whose entry is broken must not drop out of its group and make the group
 * look viable. A member that cannot be read at all is listed anyway, as an {@link unreadableFunction}.
 *
 * Reading is tolerant because sysfs is live: a device can vanish between `readdir` and `read` (hot-unplug, a VF
 * being removed), old kernels lack `driver_override`, the IOMMU may be off (no `iommu_group`). Those are normal;
 * anything surprising is reported through `warn` and the rest of the host is still observed.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import path from 'node:path';
import { HostError } from '../errors.js';
import { describeError, isMissing } from '../io/error-code.js';
import { HostFs } from '../io/host-fs.js';
import { canonicalAddress, compareAddressText, parsePciAddress } from '../model/pci-address.js';
import { isBridgeClass, UNKNOWN_CLASS } from '../model/pci-class.js';
import type { HostUse, PciDevice, SriovFacts } from '../model/snapshot.js';
import { markUnreadable, normalisePciId, UNKNOWN_ID, unreadableFunction } from '../model/pci-function.js';

const posix = path.posix;

/** Receives one human message per oddity met while observing (unreadable file, vanished device...). */
export type WarnFn = (message: string) => void;

/** Options shared by the observers. */
export interface ObserveOptions {
  /** Called for each oddity; observation continues. Default: ignore. */
  warn?: WarnFn;
}

/** What the observers read from: a root directory (a fresh {@link HostFs}), or the HostFs of this observation. */
export type HostTree = string | HostFs;

/** The HostFs of a {@link HostTree}. */
export function hostFsOf(tree: HostTree): HostFs {
  return typeof tree === 'string' ? new HostFs(tree) : tree;
}

/** A kernel PCI function directory name: `0000:07:00.0`. Domains above ffff (Intel VMD) have more digits. */
const PCI_DIR = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The most a device attribute may hold: a sysfs attribute is one page (64 KiB on arm64). */
const ATTRIBUTE_MAX_BYTES = 64 * 1024;

/**
 * Functions read between two turns of the event loop: observation is synchronous, and a virsh started meanwhile
 * (the domains of the same host) needs its exit handled to start the next batch.
 */
const FUNCTIONS_PER_TURN = 128;

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

/** Reads one optional attribute; EACCES/EIO/a FIFO are warned about and treated as absent. */
function attr(fs: HostFs, file: string, warn: WarnFn): string | null {
  try {
    return fs.readOptional(file, { maxBytes: ATTRIBUTE_MAX_BYTES, attribute: true });
  } catch (err) {
    warn(`cannot read ${file}: ${describeError(err)}`);
    return null;
  }
}

/** Basename of the link `file`, or null when absent (or unreadable, with a warning). */
function linkBase(fs: HostFs, file: string, warn: WarnFn): string | null {
  try {
    const target = fs.readlink(file);
    return target === null ? null : posix.basename(target);
  } catch (err) {
    warn(`cannot read link ${file}: ${describeError(err)}`);
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

/** Where a function is listed in `/sys/kernel/iommu_groups`: its group, and the group's link to its directory. */
interface GroupMembership {
  group: number;
  link: string;
}

/** What `/sys/kernel/iommu_groups` says: each listed function's group, and the groups whose members are unknown. */
interface IommuGroups {
  members: Map<string, GroupMembership>;
  /** Group number → why its `devices/` could not be listed. */
  unlisted: Map<number, string>;
}

/** Reads every group's `devices/` directory. */
function readIommuGroups(fs: HostFs, warn: WarnFn): IommuGroups {
  const members = new Map<string, GroupMembership>();
  const unlisted = new Map<number, string>();
  let groups: string[];
  try {
    groups = fs.list('/sys/kernel/iommu_groups').filter((g) => /^\d+$/.test(g));
  } catch (err) {
    warn(`cannot list /sys/kernel/iommu_groups: ${describeError(err)}; IOMMU groups only from each device's iommu_group link`);
    return { members, unlisted };
  }
  for (const name of groups) {
    const group = Number(name);
    const dir = `/sys/kernel/iommu_groups/${name}/devices`;
    let entries: string[];
    try {
      entries = fs.list(dir);
      if (entries.length === 0 && !fs.exists(dir)) throw Object.assign(new Error(`no ${dir}`), { code: 'ENOENT' });
    } catch (err) {
      const why = `${dir} cannot be listed (${describeError(err)})`;
      warn(`IOMMU group ${group}: ${why}; its members are unknown`);
      unlisted.set(group, why);
      continue;
    }
    for (const entry of entries) {
      if (!PCI_DIR.test(entry)) {
        warn(`${dir}/${entry} is not a PCI address; ignored`);
        continue;
      }
      const address = addressOf(entry, `${dir}/${entry}`, warn);
      if (address === null) continue;
      const other = members.get(address);
      if (other !== undefined) {
        warn(`${address} is listed in both IOMMU group ${other.group} and ${group}; counted in group ${other.group}`);
        continue;
      }
      members.set(address, { group, link: `${dir}/${entry}` });
    }
  }
  return { members, unlisted };
}

/**
 * Reads one function from its directory `dir`. `membership` is where `/sys/kernel/iommu_groups` lists it; it wins
 * over the function's own `iommu_group` link.
 */
function readFunction(fs: HostFs, address: string, dir: string, membership: GroupMembership | undefined, warn: WarnFn): PciDevice {
  const attribute = (f: string) => attr(fs, `${dir}/${f}`, warn);
  const [vendorText, productText, classText, overrideText] = ['vendor', 'device', 'class', 'driver_override'].map(attribute);
  const unreadable: string[] = [];
  if (vendorText == null && productText == null && classText == null) {
    // Every PCI function has these: a directory without any is not one that can be trusted (not even its driver link).
    unreadable.push(`none of vendor, device, class can be read in ${dir}`);
  }
  // A function whose identity cannot be read is still listed (as ffff, what config space reads for "no device").
  const id = (text: string | null | undefined, width: number, file: string, fallback: string) => {
    const v = text == null ? null : normalisePciId(text, width);
    if (v === null) warn(`${address}: ${file} is unreadable or malformed (${JSON.stringify(text ?? null)}); using ${fallback}`);
    return v ?? fallback;
  };
  const vendor = id(vendorText, 4, 'vendor', UNKNOWN_ID);
  const product = id(productText, 4, 'device', UNKNOWN_ID);
  const cls = id(classText, 6, 'class', UNKNOWN_CLASS);

  // The driver decides whether the group is viable: a link that is there but cannot be read is not "unbound".
  let driver: string | null = null;
  try {
    const target = fs.readlink(`${dir}/driver`);
    driver = target === null ? null : posix.basename(target);
  } catch (err) {
    const why = `its driver link cannot be read (${describeError(err)})`;
    warn(`${address}: ${why}`);
    unreadable.push(why);
  }

  const groupName = linkBase(fs, `${dir}/iommu_group`, warn);
  const linked = groupName !== null && /^\d+$/.test(groupName) ? Number(groupName) : null;
  if (groupName !== null && linked === null) warn(`${address}: iommu_group link "${groupName}" is not a group number`);
  if (membership !== undefined && linked !== null && linked !== membership.group) {
    const why = `its iommu_group link names group ${linked} but ${membership.link} lists it in group ${membership.group}`;
    warn(`${address}: ${why}`);
    unreadable.push(why);
  }
  const group = membership?.group ?? linked;

  // Probing the few entries that matter takes fewer syscalls than listing a directory of ~40 attributes.
  const has = (entry: string): boolean => {
    try {
      return fs.exists(`${dir}/${entry}`);
    } catch (err) {
      warn(`cannot look at ${dir}/${entry}: ${describeError(err)}`);
      return false;
    }
  };
  let netInterfaces: string[] = [];
  try {
    netInterfaces = fs.list(`${dir}/net`);
  } catch (err) {
    warn(`cannot list ${dir}/net: ${describeError(err)}`);
  }
  const physfn = linkBase(fs, `${dir}/physfn`, warn);
  const override = overrideText?.trim() ?? '';

  return {
    address,
    vendor,
    product,
    class: cls,
    driver,
    driverOverride: override === '' || override === '(null)' ? null : override,
    iommuGroup: group,
    // A bridge by class, or by the secondary bus the kernel gave it.
    isBridge: isBridgeClass(cls) || has('pci_bus'),
    physFunction: physfn === null ? null : addressOf(physfn, `${address}/physfn`, warn),
    // Only an SR-IOV physical function has sriov_totalvfs, and only it has virtfnN links.
    ...(has('sriov_totalvfs')
      ? { virtualFunctions: virtualFunctionsOf(fs, dir, address, warn), sriov: withLinksDown(sriovFacts(attribute, address, warn), netInterfaces, attribute) }
      : { virtualFunctions: [] }),
    netInterfaces,
    hostUse: bootVgaUse(cls, () => attribute('boot_vga')),
    ...(unreadable.length > 0 ? { unreadable: unreadable.join('; ') } : {}),
  };
}

/** A PF's `sriov_*` attributes; a count that cannot be read is 0, an offset or stride null. */
function sriovFacts(attribute: (file: string) => string | null, address: string, warn: WarnFn): SriovFacts {
  const number = (file: string): number | null => {
    const text = attribute(file)?.trim() ?? null;
    if (text !== null && /^\d{1,9}$/.test(text)) return Number(text);
    // Kernels before 4.x have no sriov_offset/sriov_stride: absent is not an oddity, garbage is.
    if (text !== null) warn(`${address}: ${file} is not a number (${JSON.stringify(text)})`);
    return null;
  };
  const vfDevice = attribute('sriov_vf_device');
  return {
    numVfs: number('sriov_numvfs') ?? 0,
    totalVfs: number('sriov_totalvfs') ?? 0,
    offset: number('sriov_offset'),
    stride: number('sriov_stride'),
    vfDevice: vfDevice === null ? null : normalisePciId(vfDevice, 4),
  };
}

/** Adds the PF's interfaces whose `flags` lack IFF_UP (0x1); an unreadable `flags` is not taken for down. */
function withLinksDown(facts: SriovFacts, netInterfaces: readonly string[], attribute: (file: string) => string | null): SriovFacts {
  const down = netInterfaces.filter((name) => {
    const flags = attribute(`net/${name}/flags`)?.trim() ?? '';
    return /^0x[0-9a-f]{1,8}$/i.test(flags) && (Number.parseInt(flags, 16) & 1) === 0;
  });
  return down.length > 0 ? { ...facts, linksDown: down } : facts;
}

/** The VFs of the PF in `dir`, from its `virtfnN` links, in N order. */
function virtualFunctionsOf(fs: HostFs, dir: string, address: string, warn: WarnFn): string[] {
  let entries: string[] = [];
  try {
    entries = fs.list(dir);
  } catch (err) {
    warn(`cannot list ${dir}: ${describeError(err)}`);
  }
  const links = entries
    .map((e) => /^virtfn(\d+)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  const out: string[] = [];
  for (const m of links) {
    const base = linkBase(fs, `${dir}/${m[0]}`, warn);
    const vf = base === null ? null : addressOf(base, `${address}/${m[0]}`, warn);
    if (vf !== null) out.push(vf);
  }
  return out;
}

/**
 * Finds and reads one function: through its `/sys/bus/pci/devices` entry, else through its IOMMU group's link.
 * Null when it is in no group and its entry is gone (hot-unplugged) or broken (with a warning). A group member that
 * cannot be read either way is an {@link unreadableFunction}.
 */
function observeFunction(fs: HostFs, address: string, membership: GroupMembership | undefined, warn: WarnFn): PciDevice | null {
  const failures: string[] = [];
  let missingOnly = true;
  for (const link of [`/sys/bus/pci/devices/${address}`, membership?.link]) {
    if (link === undefined) continue;
    try {
      return readFunction(fs, address, fs.realpath(link), membership, warn);
    } catch (err) {
      if (!isMissing(err)) missingOnly = false;
      failures.push(`${link}: ${describeError(err)}`);
    }
  }
  if (membership === undefined) {
    if (!missingOnly) warn(`cannot read PCI device ${address} (${failures.join('; ')}); left out`);
    return null;
  }
  const why = `listed in IOMMU group ${membership.group} but cannot be read (${failures.join('; ')})`;
  warn(`${address}: ${why}`);
  return unreadableFunction(address, membership.group, why);
}

/** Network interfaces of every PCI function, via `/sys/class/net` (covers virtio's `virtioN/net/` nesting). */
function netInterfacesByDevice(fs: HostFs, known: ReadonlySet<string>, warn: WarnFn): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let names: string[] = [];
  try {
    names = fs.list('/sys/class/net');
  } catch (err) {
    warn(`cannot list /sys/class/net: ${describeError(err)}; network interfaces only from each device's net/`);
  }
  for (const name of names) {
    let resolved: string;
    try {
      resolved = fs.realpath(`/sys/class/net/${name}`);
    } catch (err) {
      if (!isMissing(err)) warn(`cannot resolve /sys/class/net/${name}: ${describeError(err)}`);
      continue;
    }
    // Only the interface's own device counts: a VLAN or bridge on top lives under /sys/devices/virtual.
    const owner = pciAncestor(resolved, known);
    if (owner === null) continue;
    out.set(owner, [...(out.get(owner) ?? []), name]);
  }
  return out;
}

/** The `boot_vga` host-use detail: the GPU the firmware and the console came up on. */
const BOOT_VGA_DETAIL = 'boot_vga: the GPU the firmware and the host console use';

/**
 * The boot-vga host use of a function of class `cls`, from its `boot_vga` attribute (read only when the class can
 * have one: the kernel gives it to VGA controllers, class 0300, only). Shared by the local and the ssh observation.
 */
export function bootVgaUse(cls: string, readBootVga: () => string | null): HostUse[] {
  if (!cls.startsWith('0300') && cls !== UNKNOWN_CLASS) return [];
  return readBootVga()?.trim() === '1' ? [{ kind: 'boot-vga', detail: BOOT_VGA_DETAIL }] : [];
}

/**
 * Every PCI function under `<root>/sys/bus/pci/devices` or in an IOMMU group, sorted by address: identity
 * (lowercase hex: 4 digits, class 6), bound driver, `driver_override`, IOMMU group, bridge-ness, SR-IOV links and
 * network interfaces. `hostUse` holds only `boot-vga` (a sysfs attribute); routes, addresses, mounts and swap are
 * added by `observeHostUse`. No names: those come from `pci-ids.ts`. Never writes.
 */
export async function readPciDevices(tree: HostTree, options: ObserveOptions = {}): Promise<PciDevice[]> {
  const warn = options.warn ?? (() => {});
  const fs = hostFsOf(tree);
  let listed: string[];
  try {
    listed = fs.list('/sys/bus/pci/devices');
  } catch (err) {
    throw new HostError(`cannot list ${fs.local('/sys/bus/pci/devices')}: ${describeError(err)}`, {
      hint: 'passthru reads sysfs; run it as a user who can read /sys (root on hardened hosts)',
      cause: err,
    });
  }
  if (listed.length === 0 && !fs.exists('/sys/bus/pci')) {
    warn(`${fs.local('/sys/bus/pci')} does not exist: no PCI devices can be seen (is --root right?)`);
  }
  const groups = readIommuGroups(fs, warn);
  const names = new Set<string>();
  for (const n of listed) {
    if (!PCI_DIR.test(n)) {
      warn(`/sys/bus/pci/devices/${n} is not a PCI address; ignored`);
      continue;
    }
    const address = addressOf(n, `/sys/bus/pci/devices/${n}`, warn);
    if (address !== null) names.add(address);
  }
  for (const address of groups.members.keys()) names.add(address);

  const devices: PciDevice[] = [];
  let read = 0;
  for (const address of [...names].sort(compareAddressText)) {
    if (++read % FUNCTIONS_PER_TURN === 0) await nextTurn();
    const membership = groups.members.get(address);
    let device: PciDevice | null;
    try {
      device = observeFunction(fs, address, membership, warn);
    } catch (err) {
      // Anything else that went wrong reading it (a net/ that cannot be listed...).
      const why = `cannot be read: ${describeError(err)}`;
      if (membership === undefined) {
        warn(`PCI device ${address} ${why}; left out`);
        continue;
      }
      warn(`${address}: ${why}`);
      device = unreadableFunction(address, membership.group, why);
    }
    if (device === null) continue;
    const unlisted = device.iommuGroup === null ? undefined : groups.unlisted.get(device.iommuGroup);
    if (unlisted !== undefined) {
      markUnreadable(device, `the members of its IOMMU group ${device.iommuGroup} are unknown: ${unlisted}`);
    }
    devices.push(device);
  }
  const known = new Set(devices.map((d) => d.address));
  const nets = netInterfacesByDevice(fs, known, warn);
  for (const d of devices) {
    d.netInterfaces = [...new Set([...d.netInterfaces, ...(nets.get(d.address) ?? [])])].sort();
  }
  return devices;
}
