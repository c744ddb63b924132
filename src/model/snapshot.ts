/**
 * The observed state of one host, as plain JSON: what `passthru observe` prints, what `plan --snapshot` reads and
 * what the planner takes. Its shape is published as `schemas/snapshot.schema.json`; bump `SNAPSHOT_FORMAT_VERSION`
 * on any incompatible change.
 */

export const SNAPSHOT_FORMAT_VERSION = '1';

/** Why the host itself depends on a PCI device (SPEC 3 "host-critical"). */
export interface HostUse {
  kind: 'default-route' | 'address' | 'mount' | 'swap' | 'boot-vga';
  /** Human detail, e.g. `eth0 carries the default route`, `/dev/nvme0n1p2 mounted on /`. */
  detail: string;
}

/**
 * The two parts of host use, each with the reason it is unknown: `network` (default routes and addresses: the
 * host's NICs) and `storage` (mounts and swap: its disk controllers). A part that is known is absent.
 */
export interface HostUseUnknown {
  network?: string;
  storage?: string;
}

/**
 * What an SR-IOV physical function says about its VFs: sysfs's `sriov_*` attributes, or a node device's
 * `virt_functions` capability (which shows neither offset nor stride: null then).
 */
export interface SriovFacts {
  /** `sriov_numvfs`: VFs enabled now. */
  numVfs: number;
  /** `sriov_totalvfs`: the most it can have. */
  totalVfs: number;
  /** `sriov_offset` and `sriov_stride`: routing-ID distance of VF 0 from the PF, and between VFs (PCIe SR-IOV). */
  offset: number | null;
  stride: number | null;
  /** `sriov_vf_device`: the product ID its VFs will have (4 hex digits), or null. */
  vfDevice: string | null;
  /**
   * The PF's network interfaces that are administratively down (IFF_UP clear in `net/IF/flags`): libvirt refuses to
   * start a guest with a VF `<interface>` of such a PF ("the PF is not online"). Absent when none is, or not observed.
   */
  linksDown?: string[];
}

/** One PCI function on the host. Addresses are canonical (`0000:07:00.0`). */
export interface PciDevice {
  address: string;
  /** 4 lowercase hex digits, no `0x`: `8086`. */
  vendor: string;
  product: string;
  /** 6 lowercase hex digits, no `0x`: `020000`. */
  class: string;
  /** Names from pci.ids when the host has it. */
  vendorName?: string;
  productName?: string;
  /** Bound driver (`igb`, `vfio-pci`), or null when unbound. */
  driver: string | null;
  driverOverride: string | null;
  /** IOMMU group number, or null when the kernel put it in none (IOMMU off). */
  iommuGroup: number | null;
  /** A PCI-to-PCI / PCIe bridge or root port: never assignable, exempt from group viability. */
  isBridge: boolean;
  /** SR-IOV: the PF of this VF, or null. */
  physFunction: string | null;
  /** SR-IOV: the VFs of this PF, VF 0 first (`virtfn0`, `virtfn1`, ...). */
  virtualFunctions: string[];
  /** SR-IOV: present on a physical function (it has `sriov_totalvfs`). */
  sriov?: SriovFacts;
  /** Kernel network interfaces of this function (`/sys/.../net/*`). */
  netInterfaces: string[];
  /** Why the host needs this device; empty when it does not (as far as could be observed). */
  hostUse: HostUse[];
  /** Processes holding the device open (local host only; absent when none was found). */
  holders?: DeviceHolder[];
  /**
   * Set when something safety depends on could not be read — the function's sysfs entry (a broken or looping link),
   * its driver link, its IOMMU group: why. Such a function is still listed, with what could be read (identity
   * `ffff` when nothing), so that its IOMMU group is not taken for viable; the planner never assigns it.
   */
  unreadable?: string;
}

/** A process that holds one of a device's files open: unbinding the device under it hangs its driver (SPEC 13). */
export interface DeviceHolder {
  pid: number;
  /** `/proc/<pid>/comm`: `Xorg`, `nvidia-persistenced`, `?` when it could not be read. */
  comm: string;
  /** The file as its descriptor's link names it: `/dev/dri/card0`, `/sys/bus/pci/devices/0000:07:00.0/resource0`. */
  path: string;
}

/** A PCI passthrough device as a domain's XML declares it. */
export interface DomainHostdev {
  /** Canonical source address on the host. */
  address: string;
  /** As libvirt reads it: attribute absent means false. */
  managed: boolean;
  /** `<driver name='vfio'/>` or null. */
  driver: string | null;
  /** `<hostdev>` or `<interface type='hostdev'>` (SR-IOV VF NIC). */
  source: 'hostdev' | 'interface';
  /** MAC of an `<interface type='hostdev'>` (libvirt detaches those by MAC). */
  mac?: string;
  /** For an `<interface type='hostdev'>`: its `<vlan><tag id>`s; absent when untagged. */
  vlan?: number[];
  /** For an `<interface type='hostdev'>`: `trustGuestRxFilters='yes'`; absent when not. */
  trust?: boolean;
  /**
   * The element exactly as libvirt printed it, every child included (`<rom>`, `<boot>`, guest `<address>`,
   * `<vlan>`): what a removed device is re-added from, so that nothing it had is lost (SPEC 13).
   */
  xml: string;
}

/** A non-hostdev guest NIC (`<interface>`), for `removeInterfaces`. */
export interface DomainInterface {
  /** `bridge`, `network`, `direct`, `user`, ... */
  type: string;
  /** The source bridge / network / dev name, or null. */
  source: string | null;
  mac: string | null;
  model: string | null;
  /** The element exactly as libvirt printed it, so it can be removed by `detach-device` and re-added on rollback. */
  xml: string;
}

/**
 * Result of parsing a domain's XML (SPEC 7 `parseDomainXml`, plus interfaces). For a bare `<hostdev>` or
 * `<interface>` element (what `attach-device` takes) `name` and `uuid` are empty and it holds just that device.
 */
export interface ParsedDomain {
  name: string;
  uuid: string;
  hostdevs: DomainHostdev[];
  interfaces: DomainInterface[];
}

export type DomainState = 'running' | 'paused' | 'shut off' | 'crashed' | 'pmsuspended' | 'other';

/** One libvirt domain on the host. */
export interface DomainSnapshot {
  name: string;
  uuid: string;
  state: DomainState;
  /** True when the domain has a running (or paused) instance whose live XML was read. */
  active: boolean;
  /** Started with `virsh create`, no persistent config: `--config` changes are impossible. */
  transient: boolean;
  /** From `dumpxml --inactive`: what the next start uses. */
  persistent: ParsedDomain;
  /** From `dumpxml` of the running instance; null when the domain is not active. */
  live: ParsedDomain | null;
  /** The raw `dumpxml --inactive` text (for `plan --format diff`). */
  persistentXml: string;
}

/** IOMMU and platform facts for the safety rules and `doctor`. */
export interface IommuFacts {
  /** `/sys/kernel/iommu_groups` has at least one group. */
  groupsPresent: boolean;
  /** ACPI DMAR (Intel VT-d) table present, null when not observable (remote host). */
  dmarTable: boolean | null;
  /** ACPI IVRS (AMD-Vi) table present, null when not observable. */
  ivrsTable: boolean | null;
  /** The kernel command line, null when not observable. */
  cmdline: string | null;
}

/** SELinux facts: `virtUseSysfs` is null when the boolean does not exist (no SELinux / not observable). */
export interface SelinuxFacts {
  enabled: boolean;
  virtUseSysfs: boolean | null;
}

/** One persisted driver override: the file `/etc/driverctl.d/pci-ADDRESS` (driverctl 0.111), which udev applies at boot. */
export interface PersistedOverride {
  /** Canonical address of the function the file names. */
  address: string;
  /** The driver the file holds (`vfio-pci`), or null when it could not be read (see `unreadable`). */
  driver: string | null;
  /** Why the file could not be read or holds no driver name (a FIFO, over the size cap, empty): the planner refuses to touch it. */
  unreadable?: string;
}

/** Boot-time bindings of the local host (SPEC 10): whether driverctl is installed and what it persisted. */
export interface PersistedBindings {
  /** The driverctl executable found under the root (`/usr/sbin/driverctl`), or null when it is not installed. */
  driverctl: string | null;
  /** Every `pci-*` override under `/etc/driverctl.d`, lowest address first. */
  overrides: PersistedOverride[];
}

/** Everything observed on one host at one moment. */
export interface HostSnapshot {
  format_version: typeof SNAPSHOT_FORMAT_VERSION;
  host: string;
  uri: string;
  /** Where devices came from: the local sysfs tree or libvirt node devices (remote host). */
  deviceSource: 'sysfs' | 'nodedev';
  /** ISO time of the observation; not part of the fingerprint. */
  observedAt: string;
  iommu: IommuFacts;
  selinux: SelinuxFacts;
  /** False when host use (routes, mounts) could not be observed, e.g. on a remote host. */
  hostUseKnown: boolean;
  /**
   * What part of host use could not be observed, and why (`/proc/net/route is missing`). Absent while
   * `hostUseKnown` is false means neither part is known (older snapshots of a remote host).
   */
  hostUseUnknown?: HostUseUnknown;
  /**
   * Why the processes holding devices open are not known on this local host (no processes under the root, a scan
   * bound reached). Absent when the scan completed; a remote host's are never known (`deviceSource: nodedev`).
   */
  holdersUnknown?: string;
  devices: PciDevice[];
  domains: DomainSnapshot[];
  /**
   * The VF counts persisted for the next boot in passthru's udev rule file (a PF without a line: 0). Absent on a
   * local host (`deviceSource: 'sysfs'`) when nothing is persisted; on a remote host it is not observed.
   */
  sriovPersisted?: SriovPersisted[];
  /**
   * Persisted boot-time bindings (SPEC 10). Absent when they could not be observed (a remote host, a tree whose
   * `/etc/driverctl.d` is unreadable, a snapshot older than this field); `bindingsUnknown` then says why.
   */
  bindings?: PersistedBindings;
  /** Why `bindings` is absent. */
  bindingsUnknown?: string;
}

/** One PF's line in passthru's udev rule file. */
export interface SriovPersisted {
  pf: string;
  numVfs: number;
}
