/**
 * Which processes hold a PCI device open (SPEC 13 `device-busy`): unbinding a device in use hangs or crashes its
 * host driver ("attempting to remove device with non-zero usage count"), so the planner must know before a detach.
 *
 * A device's files: its DRM nodes (`/dev/dri/card*`, `renderD*`, named by its sysfs `drm/` children), its
 * `/dev/nvidia<minor>` (minor from `/proc/driver/nvidia/gpus/ADDR/information`), its `resource*` files (under
 * /sys/bus/pci/devices/ADDR and the real /sys/devices path the kernel shows in fd links), its NVMe controllers and
 * namespaces (`/dev/nvme*`, `/dev/nvme*n*` and their partitions, from `nvme/`). Holders are found by one scan of
 * `/proc/<pid>/fd` links under the root: readlink only, nothing opened, bounded in processes and descriptors. A
 * process or descriptor that vanishes mid-scan is normal and skipped.
 */
import { HostFs } from '../io/host-fs.js';
import type { DeviceHolder } from '../model/snapshot.js';

/** Bounds of one scan: a host with more is reported as "holders unknown", never as "no holders". */
export interface HolderScanLimits {
  maxProcesses: number;
  /** Descriptors read over all processes. */
  maxFds: number;
}

export const DEFAULT_HOLDER_SCAN_LIMITS: HolderScanLimits = { maxProcesses: 32_768, maxFds: 262_144 };

/** The result of a scan: holders per device address, or why they are unknown. */
export type HolderScan = { known: true; holders: Map<string, DeviceHolder[]> } | { known: false; reason: string };

const DRM_NODE = /^(card\d+|renderD\d+)$/;
const NVME_NODE = /^nvme\d+(n\d+(p\d+)?)?$/;

/** The paths through which `address` can be held open, as they appear as `/proc/<pid>/fd` link targets. */
export function deviceFiles(fs: HostFs, address: string): string[] {
  const dev = `/sys/bus/pci/devices/${address}`;
  const files: string[] = [];
  for (const name of fs.list(`${dev}/drm`)) if (DRM_NODE.test(name)) files.push(`/dev/dri/${name}`);
  const info = fs.readOptional(`/proc/driver/nvidia/gpus/${address}/information`, { maxBytes: 65_536 });
  const minor = info === null ? null : /^Device Minor:\s*(\d+)\s*$/m.exec(info)?.[1];
  if (minor) files.push(`/dev/nvidia${minor}`);
  const resources = fs.list(dev).filter((n) => /^resource\d+(_wc)?$/.test(n));
  let real: string | null = null;
  try {
    real = fs.realpath(dev);
  } catch {
    // A device whose sysfs entry does not resolve is reported unreadable by the sysfs observation.
  }
  for (const r of resources) files.push(`${dev}/${r}`, ...(real !== null && real !== dev ? [`${real}/${r}`] : []));
  for (const ctrl of fs.list(`${dev}/nvme`)) {
    if (!NVME_NODE.test(ctrl)) continue;
    files.push(`/dev/${ctrl}`);
    for (const ns of fs.list(`${dev}/nvme/${ctrl}`)) {
      if (!NVME_NODE.test(ns) || !ns.startsWith(`${ctrl}n`)) continue;
      files.push(`/dev/${ns}`);
      for (const part of fs.list(`${dev}/nvme/${ctrl}/${ns}`)) if (NVME_NODE.test(part) && part.startsWith(`${ns}p`)) files.push(`/dev/${part}`);
    }
  }
  return files;
}

/**
 * Scans `<root>/proc/<pid>/fd` once for every device in `addresses`. Each holder is listed once per device and
 * file (a process with two descriptors on one file is one holder), ordered by PID.
 */
export function scanDeviceHolders(root: string, addresses: readonly string[], limits: HolderScanLimits = DEFAULT_HOLDER_SCAN_LIMITS): HolderScan {
  const fs = new HostFs(root);
  const owner = new Map<string, string>();
  for (const a of addresses) {
    let files: string[];
    try {
      files = deviceFiles(fs, a);
    } catch {
      // An entry that cannot be read (a loop, EACCES) is marked unreadable by the sysfs observation, and the
      // planner never detaches such a device: there is nothing to protect.
      continue;
    }
    for (const f of files) owner.set(f, a);
  }
  const holders = new Map<string, DeviceHolder[]>(addresses.map((a) => [a, []]));
  if (owner.size === 0) return { known: true, holders };
  const pids = fs.list('/proc').filter((p) => /^\d+$/.test(p));
  // A captured tree has no processes: that is not "nobody holds it".
  if (pids.length === 0) return { known: false, reason: `${fs.local('/proc')} holds no processes` };
  if (pids.length > limits.maxProcesses) return { known: false, reason: `more than ${limits.maxProcesses} processes to scan` };
  let fds = 0;
  for (const pid of pids) {
    // Another user's descriptors are not readable without root: unknown, not "not held".
    let entries: string[];
    try {
      entries = fs.list(`/proc/${pid}/fd`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') return { known: false, reason: `the open files of PID ${pid} are not readable (run as root)` };
      continue;
    }
    fds += entries.length;
    if (fds > limits.maxFds) return { known: false, reason: `more than ${limits.maxFds} open files to scan` };
    const seen = new Set<string>();
    for (const fd of entries) {
      const target = readlinkQuietly(fs, `/proc/${pid}/fd/${fd}`);
      const address = target === null ? undefined : owner.get(target);
      if (address === undefined || target === null || seen.has(target)) continue;
      seen.add(target);
      const comm = (readQuietly(fs, `/proc/${pid}/comm`) ?? '?').trim();
      holders.get(address)?.push({ pid: Number(pid), comm, path: target });
    }
  }
  for (const list of holders.values()) list.sort((x, y) => x.pid - y.pid || (x.path < y.path ? -1 : 1));
  return { known: true, holders };
}

/** A link of a process that may exit at any moment: gone (or unreadable) is null. */
function readlinkQuietly(fs: HostFs, hostPath: string): string | null {
  try {
    return fs.readlink(hostPath);
  } catch {
    return null;
  }
}

function readQuietly(fs: HostFs, hostPath: string): string | null {
  try {
    return fs.readOptional(hostPath, { maxBytes: 4096, attribute: true });
  } catch {
    return null;
  }
}
