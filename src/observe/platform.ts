/**
 * Platform facts of the local host under a root directory: is the IOMMU on (SPEC 3 blocks everything when it is
 * not), SELinux's `virt_use_sysfs` (SPEC 3 warning), and what `passthru doctor` checks on top (CPU virtualisation,
 * vfio-pci, interrupt remapping, `/dev/vfio`, `/dev/kvm`). Also `observeLocalHost`, which puts together everything
 * the snapshot takes from the tree.
 *
 * Each fact says where it came from (`source`) because doctor's output is read by someone who will go and look:
 * "no IR- interrupt chips in /proc/interrupts" is checkable, "interrupt remapping: off" is not.
 */
import type { HostFs } from '../io/host-fs.js';
import type { HostUseUnknown, IommuFacts, PciDevice, SelinuxFacts } from '../model/snapshot.js';
import { readPersistedBindings, type BindingsObservation } from './driverctl.js';
import { observeHostUse } from './host-use.js';
import { loadPciIds, nameDevices } from './pci-ids.js';
import type { HostTree, ObserveOptions } from './sysfs.js';
import { hostFsOf, readPciDevices } from './sysfs.js';

/** Reads a file, or null when it is absent or unreadable (a fact we cannot see is unknown, not an error). */
function text(fs: HostFs, file: string): string | null {
  try {
    return fs.readOptional(file);
  } catch {
    return null;
  }
}

/** Entries of a directory, or [] when it is absent or unreadable. */
function listOrEmpty(fs: HostFs, dir: string): string[] {
  try {
    return fs.list(dir);
  } catch {
    return [];
  }
}

/** Whether a path exists; false when that cannot be told (EACCES on the way). */
function existsOrFalse(fs: HostFs, file: string): boolean {
  try {
    return fs.exists(file);
  } catch {
    return false;
  }
}

/** Names of the IOMMU groups (`/sys/kernel/iommu_groups/N`). */
function iommuGroups(fs: HostFs): string[] {
  try {
    return fs.list('/sys/kernel/iommu_groups').filter((g) => /^\d+$/.test(g));
  } catch {
    return [];
  }
}

/**
 * IOMMU facts: groups present, the ACPI DMAR (Intel VT-d) / IVRS (AMD-Vi) tables, the kernel command line. A table
 * is null (unknown) when the tree has no `/sys/firmware/acpi/tables` at all (a device-tree host, or a capture
 * without it), false when the directory is there without it.
 */
export function readIommuFacts(tree: HostTree): IommuFacts {
  const fs = hostFsOf(tree);
  const tables = fs.exists('/sys/firmware/acpi/tables') ? new Set(listOrEmpty(fs, '/sys/firmware/acpi/tables')) : null;
  const cmdline = text(fs, '/proc/cmdline');
  return {
    groupsPresent: iommuGroups(fs).length > 0,
    dmarTable: tables === null ? null : tables.has('DMAR'),
    ivrsTable: tables === null ? null : tables.has('IVRS'),
    cmdline: cmdline === null ? null : cmdline.replace(/\0/g, ' ').trim(),
  };
}

/**
 * SELinux: enabled when selinuxfs is mounted (`/sys/fs/selinux/enforce` exists — permissive counts, denials are
 * still logged and policy can be switched to enforcing); `virtUseSysfs` from the first number of
 * `/sys/fs/selinux/booleans/virt_use_sysfs` (current value; the second is the pending one), null when absent.
 */
export function readSelinuxFacts(tree: HostTree): SelinuxFacts {
  const fs = hostFsOf(tree);
  const enabled = existsOrFalse(fs, '/sys/fs/selinux/enforce');
  const bool = enabled ? text(fs, '/sys/fs/selinux/booleans/virt_use_sysfs') : null;
  const first = bool?.trim().split(/\s+/)[0];
  return { enabled, virtUseSysfs: first === '1' ? true : first === '0' ? false : null };
}

/** Where vfio-pci comes from, or that it is not there. */
export type VfioPciState = 'loaded' | 'builtin' | 'module' | 'absent';

/** Whether MSI/IO-APIC interrupts are remapped: vfio_iommu_type1 refuses assignment without it. */
export type InterruptRemappingState = 'enabled' | 'disabled' | 'unsupported';

/** A fact and where it was read, for doctor's detail line. `state` null = could not be determined. */
export interface SourcedFact<S> {
  state: S | null;
  source: string;
}

/** Everything `passthru doctor` checks, as plain data. Null anywhere = not observable (remote host, partial capture). */
export interface DoctorFacts {
  iommu: IommuFacts;
  /** Number of IOMMU groups; null when not observable. */
  iommuGroupCount: number | null;
  selinux: SelinuxFacts | null;
  /** `vendor_id` of /proc/cpuinfo mapped to intel/amd, `other` for anything else; null when unreadable. */
  cpuVendor: 'intel' | 'amd' | 'other' | null;
  /**
   * The hardware virtualisation flag in /proc/cpuinfo `flags` (`vmx` Intel VT-x, `svm` AMD-V), `none` when x86 flags
   * are listed without either, null when unknown (unreadable, or a CPU without x86 flags, e.g. arm64).
   */
  cpuVirtualization: 'vmx' | 'svm' | 'none' | null;
  /** `/proc/sys/kernel/osrelease`. */
  kernelRelease: string | null;
  vfioPci: SourcedFact<VfioPciState>;
  interruptRemapping: SourcedFact<InterruptRemappingState>;
  /** vfio_iommu_type1's `allow_unsafe_interrupts` is Y: assignment works without remapping, unprotected. */
  allowUnsafeInterrupts: boolean;
  /** `/dev/vfio/vfio` exists; null when the tree has no `/dev`. */
  devVfio: boolean | null;
  /** `/dev/kvm` exists; null when the tree has no `/dev`. */
  devKvm: boolean | null;
}

/** Parses /proc/cpuinfo into vendor and virtualisation flag (pure). */
export function parseCpuinfo(cpuinfo: string | null): Pick<DoctorFacts, 'cpuVendor' | 'cpuVirtualization'> {
  if (cpuinfo === null) return { cpuVendor: null, cpuVirtualization: null };
  const vendorId = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  const cpuVendor = vendorId === 'GenuineIntel' ? 'intel' : vendorId === 'AuthenticAMD' || vendorId === 'HygonGenuine' ? 'amd' : 'other';
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1];
  if (flags === undefined) return { cpuVendor, cpuVirtualization: null };
  const set = new Set(flags.trim().split(/\s+/));
  return { cpuVendor, cpuVirtualization: set.has('vmx') ? 'vmx' : set.has('svm') ? 'svm' : 'none' };
}

/**
 * vfio-pci: loaded (`/sys/module/vfio_pci/initstate` — only loadable modules have it), built in (`/sys/module/vfio_pci`
 * without initstate — builtins with parameters appear there too — or listed in `modules.builtin`), available as a
 * module (`modules.dep` lists `vfio-pci.ko*`; libvirt loads it on the first `nodedev-detach`), or absent. Unknown
 * when the kernel's module directory is not in the tree.
 */
function readVfioPci(fs: HostFs, release: string | null): SourcedFact<VfioPciState> {
  if (existsOrFalse(fs, '/sys/module/vfio_pci')) {
    return existsOrFalse(fs, '/sys/module/vfio_pci/initstate')
      ? { state: 'loaded', source: '/sys/module/vfio_pci (module loaded)' }
      : { state: 'builtin', source: '/sys/module/vfio_pci (built into the kernel)' };
  }
  if (release === null) return { state: null, source: 'vfio_pci is not loaded and /proc/sys/kernel/osrelease is unreadable' };
  for (const dir of [`/lib/modules/${release}`, `/usr/lib/modules/${release}`]) {
    const [builtin, dep] = [text(fs, `${dir}/modules.builtin`), text(fs, `${dir}/modules.dep`)];
    if (builtin === null && dep === null) continue;
    if (builtin !== null && /(^|\/)vfio[-_]pci\.ko$/m.test(builtin)) return { state: 'builtin', source: `${dir}/modules.builtin` };
    if (dep !== null && /(^|\/)vfio[-_]pci\.ko(\.[a-z0-9]+)?:/m.test(dep)) {
      return { state: 'module', source: `${dir}/modules.dep (not loaded yet)` };
    }
    return { state: 'absent', source: `neither ${dir}/modules.builtin nor modules.dep lists vfio-pci` };
  }
  return { state: null, source: `vfio_pci is not loaded and there is no /lib/modules/${release}` };
}

/**
 * Interrupt remapping, most direct evidence first:
 * 1. `/proc/interrupts`: with remapping on, the interrupt chips are the IR domains (`IR-IO-APIC`, `IR-PCI-MSI...`);
 *    this is what the kernel actually does, whatever the hardware could.
 * 2. `intremap=off` on the command line.
 * 3. The hardware: Intel `/sys/class/iommu/dmarN/intel-iommu/ecap` bit 3 (IR); AMD-Vi (`ivhd*`) always has it.
 * When /proc/interrupts is readable and shows no IR chip, remapping is not in effect (`disabled`) if the hardware
 * has it, `unsupported` if it does not.
 */
function readInterruptRemapping(fs: HostFs, cmdline: string | null): SourcedFact<InterruptRemappingState> {
  const interrupts = text(fs, '/proc/interrupts');
  if (interrupts !== null && /\bIR-[A-Z]/.test(interrupts)) {
    return { state: 'enabled', source: '/proc/interrupts lists IR- (remapped) interrupt chips' };
  }
  if (cmdline !== null && /(^|\s)intremap=off(\s|$)/.test(cmdline)) {
    return { state: 'disabled', source: 'intremap=off on the kernel command line' };
  }
  let hardware: boolean | null = null;
  let hardwareSource = '';
  for (const unit of listOrEmpty(fs, '/sys/class/iommu')) {
    const ecap = text(fs, `/sys/class/iommu/${unit}/intel-iommu/ecap`);
    if (ecap !== null && /^[0-9a-f]+$/i.test(ecap.trim())) {
      const ir = (BigInt(`0x${ecap.trim()}`) & 0x8n) !== 0n;
      hardware = hardware === true || ir;
      hardwareSource = `/sys/class/iommu/${unit}/intel-iommu/ecap`;
    } else if (unit.startsWith('ivhd') || existsOrFalse(fs, `/sys/class/iommu/${unit}/amd-iommu`)) {
      hardware = true;
      hardwareSource = `/sys/class/iommu/${unit} (AMD-Vi)`;
    }
  }
  if (interrupts === null) {
    return hardware === null
      ? { state: null, source: '/proc/interrupts is unreadable and no IOMMU unit is listed in /sys/class/iommu' }
      : { state: hardware ? null : 'unsupported', source: `${hardwareSource}; /proc/interrupts is unreadable` };
  }
  if (hardware === false) return { state: 'unsupported', source: `${hardwareSource} has no IR capability bit` };
  return {
    state: 'disabled',
    source: `no IR- interrupt chips in /proc/interrupts${hardware ? ` although ${hardwareSource} supports remapping` : ''}`,
  };
}

/**
 * Everything doctor needs, read from the tree at `root`. Never throws for a missing or unreadable file: the fact is
 * null. (Asynchronous for its callers' sake; the reading itself is synchronous, like all of observation's.)
 */
export async function readDoctorFacts(root: string): Promise<DoctorFacts> {
  const fs = hostFsOf(root);
  const iommu = readIommuFacts(fs);
  const selinux = readSelinuxFacts(fs);
  const cpuinfo = text(fs, '/proc/cpuinfo');
  const groups = iommuGroups(fs);
  const unsafe = text(fs, '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts');
  const hasDev = existsOrFalse(fs, '/dev');
  const kernelRelease = text(fs, '/proc/sys/kernel/osrelease')?.trim() || null;
  return {
    iommu,
    iommuGroupCount: groups.length,
    selinux,
    ...parseCpuinfo(cpuinfo),
    kernelRelease,
    vfioPci: readVfioPci(fs, kernelRelease),
    interruptRemapping: readInterruptRemapping(fs, iommu.cmdline),
    allowUnsafeInterrupts: /^[Y1]/.test(unsafe?.trim() ?? ''),
    devVfio: hasDev ? existsOrFalse(fs, '/dev/vfio/vfio') : null,
    devKvm: hasDev ? existsOrFalse(fs, '/dev/kvm') : null,
  };
}

/** What a snapshot of the local host takes from its file tree (domains come from virsh); bindings as SPEC 10. */
export type LocalHostObservation = LocalHostFacts & BindingsObservation;

/** The devices and platform facts of a {@link LocalHostObservation}. */
export interface LocalHostFacts {
  devices: PciDevice[];
  iommu: IommuFacts;
  selinux: SelinuxFacts;
  /** True when routes, addresses, mounts and swaps were all read (SPEC 5). */
  hostUseKnown: boolean;
  /** Present when `hostUseKnown` is false: which part could not be read, and why. */
  hostUseUnknown?: HostUseUnknown;
}

/**
 * Observes the local host under `root`: PCI devices with names and host use, IOMMU and SELinux facts, persisted
 * driverctl overrides. Read-only.
 * One {@link HostFs} serves the whole observation, so that each path component is looked at once.
 */
export async function observeLocalHost(root: string, options: ObserveOptions = {}): Promise<LocalHostObservation> {
  const fs = hostFsOf(root);
  const devices = await readPciDevices(fs, options);
  nameDevices(devices, loadPciIds(fs));
  const { uses, unknown } = observeHostUse(fs, devices, options);
  for (const d of devices) d.hostUse = [...(uses.get(d.address) ?? []), ...d.hostUse];
  const known = unknown.network === undefined && unknown.storage === undefined;
  return {
    devices,
    iommu: readIommuFacts(fs),
    selinux: readSelinuxFacts(fs),
    hostUseKnown: known,
    ...(known ? {} : { hostUseUnknown: unknown }),
    ...readPersistedBindings(fs),
  };
}
