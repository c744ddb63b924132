/**
 * Boot-time bindings of the local host (SPEC 10), read through the in-root {@link HostFs} so that a `--root` tree
 * (a capture, a test's fake host) is read instead of this machine's `/etc`.
 *
 * driverctl 0.111 (Debian 12, RHEL 9) persists `driverctl set-override 0000:01:00.0 vfio-pci` as the file
 * `/etc/driverctl.d/pci-0000:01:00.0` holding `vfio-pci` and a newline; its udev rule (`89-driverctl.rules`) runs
 * `driverctl load-override` for each device as it appears at boot. Other buses (`usb-…`) are not passthru's and are
 * not read.
 *
 * Whether driverctl is installed is judged by its executable (`/usr/sbin/driverctl`, where both Debian and RHEL put
 * it, or `/sbin/driverctl` on a host without merged /usr): that is what `apply` runs. The udev rule alone is no use
 * without the executable it calls, and the executable without the rule still persists (doctor notes a missing rule).
 *
 * Reading is bounded: an override file holds a driver name, so one over {@link OVERRIDE_MAX_BYTES}, one that is not
 * a regular file (a FIFO would block a plain read forever), or one that holds no driver name is listed as
 * `unreadable` with why, and the planner refuses to touch that device's override; at most
 * {@link MAX_OVERRIDE_FILES} files are read, beyond that the bindings are unknown.
 */
import { describeError } from '../io/error-code.js';
import type { HostFs } from '../io/host-fs.js';
import type { PersistedBindings, PersistedOverride } from '../model/snapshot.js';

/** Where driverctl 0.111 keeps its overrides. */
export const DRIVERCTL_DIR = '/etc/driverctl.d';

/** Where the driverctl executable is looked for, in order. */
export const DRIVERCTL_PATHS = ['/usr/sbin/driverctl', '/sbin/driverctl', '/usr/bin/driverctl'] as const;

/** Where driverctl's udev rule is looked for (the rule that applies the overrides at boot). */
export const DRIVERCTL_UDEV_RULES = ['/usr/lib/udev/rules.d/89-driverctl.rules', '/lib/udev/rules.d/89-driverctl.rules'] as const;

/** An override file holds one driver name and a newline; anything longer is not driverctl's. */
export const OVERRIDE_MAX_BYTES = 256;

/** More `pci-*` overrides than a host has PCI functions is not a driverctl directory. */
export const MAX_OVERRIDE_FILES = 4096;

/** A `pci-*` override file name: driverctl names it after the kernel's device name. */
const OVERRIDE_FILE = /^pci-([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/;

/** A kernel driver name as driverctl writes it (module names: letters, digits, `_`, `-`). */
const DRIVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The host path of the override file of a canonical address. */
export function overrideFile(address: string): string {
  return `${DRIVERCTL_DIR}/pci-${address}`;
}

/** What {@link readPersistedBindings} found: the bindings, or why they are unknown. */
export type BindingsObservation = { bindings: PersistedBindings } | { bindingsUnknown: string };

/** Reads one override file: its driver, or why it has none that can be trusted. Never throws. */
export function readOverride(fs: HostFs, address: string): PersistedOverride | null {
  const file = overrideFile(address);
  let text: string | null;
  try {
    text = fs.readOptional(file, { maxBytes: OVERRIDE_MAX_BYTES });
  } catch (err) {
    return { address, driver: null, unreadable: `${file} cannot be read: ${describeError(err)}` };
  }
  if (text === null) return null;
  const driver = text.trim();
  if (!DRIVER_NAME.test(driver)) {
    return { address, driver: null, unreadable: `${file} holds no driver name (${driver === '' ? 'it is empty' : 'not a module name'})` };
  }
  return { address, driver };
}

/** The driverctl executable under the root, or null. */
function findDriverctl(fs: HostFs): string | null {
  for (const candidate of DRIVERCTL_PATHS) {
    try {
      if (fs.exists(candidate)) return candidate;
    } catch {
      // EACCES on the way: not found there.
    }
  }
  return null;
}

/** Whether driverctl's udev rule is under the root (doctor: overrides are not applied at boot without it). */
export function hasDriverctlUdevRule(fs: HostFs): boolean {
  return DRIVERCTL_UDEV_RULES.some((rule) => {
    try {
      return fs.exists(rule);
    } catch {
      return false;
    }
  });
}

/** The persisted bindings of the tree at `fs`, or why they are unknown. Read-only; never throws. */
export function readPersistedBindings(fs: HostFs): BindingsObservation {
  let names: string[];
  try {
    names = fs.list(DRIVERCTL_DIR);
  } catch (err) {
    return { bindingsUnknown: `${DRIVERCTL_DIR} cannot be listed: ${describeError(err)}` };
  }
  const addresses = names.flatMap((n) => OVERRIDE_FILE.exec(n)?.[1] ?? []);
  if (addresses.length > MAX_OVERRIDE_FILES) {
    return { bindingsUnknown: `${DRIVERCTL_DIR} holds ${addresses.length} pci-* files, more than the ${MAX_OVERRIDE_FILES} read` };
  }
  const overrides = addresses.flatMap((a) => readOverride(fs, a) ?? []);
  return { bindings: { driverctl: findDriverctl(fs), overrides } };
}
