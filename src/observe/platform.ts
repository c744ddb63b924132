/**
 * Platform facts of the local host under a root directory: is the IOMMU on (SPEC 3 blocks everything when it is
 * not), SELinux's `virt_use_sysfs` (SPEC 3 warning), and what `passthru doctor` checks on top (CPU virtualisation,
 * vfio-pci, interrupt remapping, `/dev/vfio`, `/dev/kvm`). Also `observeLocalHost`, which puts together everything
 * the snapshot takes from the tree.
 *
 * Each fact says where it came from (`source`) because doctor's output is read by someone who will go and look:
 * "no IR- interrupt chips in /proc/interrupts" is checkable, "interrupt remapping: off" is not.
 */
import type { IommuFacts, PciDevice, SelinuxFacts } from '../model/snapshot.js';
import { observeHostUse } from './host-use.js';
import { loadPciIds, nameDevices } from './pci-ids.js';
import type { ObserveOptions } from './sysfs.js';
import { HostFs, readPciDevices } from './sysfs.js';

/** Reads a file, or null when it is absent or unreadable (a fact we cannot see is unknown, not an error). */
async function text(fs: HostFs, file: string): Promise<string | null> {
  try {
    return await fs.readOptional(file);
  } catch {
    return null;
  }
}

/** Names of the IOMMU groups (`/sys/kernel/iommu_groups/N`). */
async function iommuGroups(fs: HostFs): Promise<string[]> {
  return (await fs.list('/sys/kernel/iommu_groups').catch(() => [])).filter((g) => /^\d+$/.test(g));
}

/**
 * IOMMU facts: groups present, the ACPI DMAR (Intel VT-d) / IVRS (AMD-Vi) tables, the kernel command line. A table
 * is null (unknown) when the tree has no `/sys/firmware/acpi/tables` at all (a device-tree host, or a capture
 * without it), false when the directory is there without it.
 */
export async function readIommuFacts(root: string): Promise<IommuFacts> {
  const fs = new HostFs(root);
  const tables = (await fs.exists('/sys/firmware/acpi/tables')) ? new Set(await fs.list('/sys/firmware/acpi/tables')) : null;
  const cmdline = await text(fs, '/proc/cmdline');
  return {
    groupsPresent: (await iommuGroups(fs)).length > 0,
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
export async function readSelinuxFacts(root: string): Promise<SelinuxFacts> {
  const fs = new HostFs(root);
  const enabled = await fs.exists('/sys/fs/selinux/enforce');
  const bool = enabled ? await text(fs, '/sys/fs/selinux/booleans/virt_use_sysfs') : null;
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
async function readVfioPci(fs: HostFs, release: string | null): Promise<SourcedFact<VfioPciState>> {
  if (await fs.exists('/sys/module/vfio_pci')) {
    return (await fs.exists('/sys/module/vfio_pci/initstate'))
      ? { state: 'loaded', source: '/sys/module/vfio_pci (module loaded)' }
      : { state: 'builtin', source: '/sys/module/vfio_pci (built into the kernel)' };
  }
  if (release === null) return { state: null, source: 'vfio_pci is not loaded and /proc/sys/kernel/osrelease is unreadable' };
  for (const dir of [`/lib/modules/${release}`, `/usr/lib/modules/${release}`]) {
    const [builtin, dep] = await Promise.all([text(fs, `${dir}/modules.builtin`), text(fs, `${dir}/modules.dep`)]);
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
async function readInterruptRemapping(fs: HostFs, cmdline: string | null): Promise<SourcedFact<InterruptRemappingState>> {
  const interrupts = await text(fs, '/proc/interrupts');
  if (interrupts !== null && /\bIR-[A-Z]/.test(interrupts)) {
    return { state: 'enabled', source: '/proc/interrupts lists IR- (remapped) interrupt chips' };
  }
  if (cmdline !== null && /(^|\s)intremap=off(\s|$)/.test(cmdline)) {
    return { state: 'disabled', source: 'intremap=off on the kernel command line' };
  }
  let hardware: boolean | null = null;
  let hardwareSource = '';
  for (const unit of await fs.list('/sys/class/iommu')) {
    const ecap = await text(fs, `/sys/class/iommu/${unit}/intel-iommu/ecap`);
    if (ecap !== null && /^[0-9a-f]+$/i.test(ecap.trim())) {
      const ir = (BigInt(`0x${ecap.trim()}`) & 0x8n) !== 0n;
      hardware = hardware === true || ir;
      hardwareSource = `/sys/class/iommu/${unit}/intel-iommu/ecap`;
    } else if (unit.startsWith('ivhd') || (await fs.exists(`/sys/class/iommu/${unit}/amd-iommu`))) {
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

/** Everything doctor needs, read from the tree at `root`. Never throws for a missing file: the fact is null. */
export async function readDoctorFacts(root: string): Promise<DoctorFacts> {
  const fs = new HostFs(root);
  const [iommu, selinux, cpuinfo, releaseText, groups, unsafe, hasDev] = await Promise.all([
    readIommuFacts(root),
    readSelinuxFacts(root),
    text(fs, '/proc/cpuinfo'),
    text(fs, '/proc/sys/kernel/osrelease'),
    iommuGroups(fs),
    text(fs, '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts'),
    fs.exists('/dev'),
  ]);
  const kernelRelease = releaseText?.trim() || null;
  return {
    iommu,
    iommuGroupCount: groups.length,
    selinux,
    ...parseCpuinfo(cpuinfo),
    kernelRelease,
    vfioPci: await readVfioPci(fs, kernelRelease),
    interruptRemapping: await readInterruptRemapping(fs, iommu.cmdline),
    allowUnsafeInterrupts: /^[Y1]/.test(unsafe?.trim() ?? ''),
    devVfio: hasDev ? await fs.exists('/dev/vfio/vfio') : null,
    devKvm: hasDev ? await fs.exists('/dev/kvm') : null,
  };
}

/** What a snapshot of the local host takes from its file tree (domains come from virsh). */
export interface LocalHostObservation {
  devices: PciDevice[];
  iommu: IommuFacts;
  selinux: SelinuxFacts;
  /** Always true here: routes, addresses, mounts and swaps were read (SPEC 5). */
  hostUseKnown: true;
}

/**
 * Observes the local host under `root`: PCI devices with names and host use, IOMMU and SELinux facts. Read-only.
 */
export async function observeLocalHost(root: string, options: ObserveOptions = {}): Promise<LocalHostObservation> {
  const [devices, iommu, selinux, ids] = await Promise.all([
    readPciDevices(root, options),
    readIommuFacts(root),
    readSelinuxFacts(root),
    loadPciIds(root),
  ]);
  nameDevices(devices, ids);
  const uses = await observeHostUse(root, devices, options);
  for (const d of devices) d.hostUse = [...(uses.get(d.address) ?? []), ...d.hostUse];
  return { devices, iommu, selinux, hostUseKnown: true };
}
