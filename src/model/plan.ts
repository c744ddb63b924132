/**
 * A plan: the ordered actions that take one or more hosts from observed to desired state, and the problems that
 * block it or deserve a warning. Its JSON form (`plan --format json`) is a public, versioned contract (SPEC 4):
 * fields may be added; none may change meaning without bumping `PLAN_FORMAT_VERSION`.
 */

import type { VfInterface } from './desired.js';
import type { HostErrorReport } from './observation.js';

export const PLAN_FORMAT_VERSION = '1';

export type ActionKind =
  | 'set-numvfs'
  | 'persist-numvfs'
  | 'nodedev-detach'
  | 'nodedev-reattach'
  | 'attach-hostdev'
  | 'detach-hostdev'
  | 'remove-interface'
  | 'persist-binding'
  | 'unpersist-binding';

/** What one step of an apply does: a plan action kind, or `restore-interface` (re-adding a removed guest NIC on rollback). */
export type StepKind = ActionKind | 'restore-interface';

/** Execution order of action kinds within a host (SPEC 2). */
export const ACTION_ORDER: readonly ActionKind[] = [
  'set-numvfs',
  'persist-numvfs',
  'detach-hostdev',
  'nodedev-reattach',
  'unpersist-binding',
  'nodedev-detach',
  'persist-binding',
  'attach-hostdev',
  'remove-interface',
];

interface ActionBase {
  kind: ActionKind;
  /** Why this action is needed, for humans. */
  reason: string;
}

/** Set an SR-IOV PF's VF count (`sriov_numvfs`): every VF of the PF is destroyed and `to` new ones are created. */
export interface SetNumVfs extends ActionBase {
  kind: 'set-numvfs';
  /** The PF. */
  address: string;
  from: number;
  to: number;
}

/** Persist a PF's VF count for the next boot (passthru's udev rule file; `to: 0` removes the PF's line). */
export interface PersistNumVfs extends ActionBase {
  kind: 'persist-numvfs';
  address: string;
  /** What the file persists now (0: no line). */
  from: number;
  to: number;
}

/** Bind a host device to vfio-pci (`virsh nodedev-detach`). */
export interface NodedevDetach extends ActionBase {
  kind: 'nodedev-detach';
  address: string;
  /** The driver it is on now (null = unbound). */
  fromDriver: string | null;
  /**
   * Set when the device is a VF that this plan's `set-numvfs` of this PF creates: rolling back, the VF goes when
   * that count is undone, so the detach itself has nothing to undo (a real VF would come back on its VF driver,
   * not on "no driver").
   */
  createdWith?: string;
}

/** Give a device back to its host driver (`virsh nodedev-reattach`). */
export interface NodedevReattach extends ActionBase {
  kind: 'nodedev-reattach';
  address: string;
  fromDriver: string | null;
}

/** Add a `<hostdev>` to a VM's persistent config and, when `live`, to the running domain. */
export interface HostdevAttach extends ActionBase {
  kind: 'attach-hostdev';
  vm: string;
  vmUuid: string;
  address: string;
  managed: boolean;
  /**
   * The element `attach-device` is given, and that verification finds whole in the domain afterwards. A device new
   * to the VM gets a minimal `<hostdev>`; one the VM already declares (a `managed` change, a hot-plug of a device in
   * its config) is re-added from the element observed in the domain, every child kept (SPEC 13).
   */
  hostdevXml: string;
  /** Set when the element is an `<interface type='hostdev'>` (an SR-IOV VF as a NIC): what it declares. */
  interface?: VfInterface;
  /** Changes the persistent config (`--config`). */
  config: boolean;
  /** Also hot-plugs into the running domain (`--live`). */
  live: boolean;
}

/** Remove a `<hostdev>` (or `<interface type='hostdev'>`) from a VM. */
export interface HostdevDetach extends ActionBase {
  kind: 'detach-hostdev';
  vm: string;
  vmUuid: string;
  address: string;
  managed: boolean;
  source: 'hostdev' | 'interface';
  /** For `source: 'interface'`: libvirt matches those by MAC. */
  mac?: string;
  /** The element as libvirt printed it in the domain: `detach-device` is given it, and a rollback re-adds it whole. */
  hostdevXml: string;
  /** For `source: 'interface'`: what the element declares. */
  interface?: VfInterface;
  config: boolean;
  live: boolean;
}

/** Remove a guest NIC that a passed-through NIC replaces. */
export interface InterfaceRemove extends ActionBase {
  kind: 'remove-interface';
  vm: string;
  vmUuid: string;
  /** The `<interface>` element as libvirt printed it (used by detach-device, and by rollback to re-add it). */
  interfaceXml: string;
  type: string;
  source: string | null;
  mac: string | null;
  config: boolean;
  live: boolean;
}

/**
 * Persist a `managed: false` device's binding to vfio-pci across reboots (SPEC 10): `driverctl set-override ADDR
 * vfio-pci`, which writes `/etc/driverctl.d/pci-ADDR`.
 */
export interface BindingPersist extends ActionBase {
  kind: 'persist-binding';
  address: string;
  /** The driver persisted before (a foreign override, replaced), or null when there was none. */
  fromDriver: string | null;
}

/** Remove the vfio-pci override passthru persisted for a device that left it (`driverctl unset-override ADDR`). */
export interface BindingUnpersist extends ActionBase {
  kind: 'unpersist-binding';
  address: string;
  /** The driver persisted before (always `vfio-pci`: passthru removes only its own overrides). */
  fromDriver: string;
}

export type Action =
  | SetNumVfs
  | PersistNumVfs
  | NodedevDetach
  | NodedevReattach
  | HostdevAttach
  | HostdevDetach
  | InterfaceRemove
  | BindingPersist
  | BindingUnpersist;

/** Stable problem codes; scripts match on these. */
export type ProblemCode =
  | 'iommu-disabled'
  | 'iommu-group-not-viable'
  | 'iommu-group-split'
  | 'host-critical'
  | 'protected'
  | 'unknown-vm'
  | 'transient-vm'
  | 'device-not-found'
  | 'identity-mismatch'
  | 'not-an-endpoint'
  | 'pf-and-vf-assigned'
  | 'device-in-use'
  | 'selector-shortfall'
  | 'release-in-use'
  | 'selinux-virt-use-sysfs'
  | 'takes-effect-at-next-start'
  | 'host-use-unknown'
  | 'no-iommu-group'
  | 'interface-without-mac'
  | 'boot-order-lost'
  | 'vfs-in-use'
  | 'numvfs-too-many'
  | 'numvfs-remote'
  | 'not-sriov-capable'
  | 'pf-has-vfs'
  | 'interface-not-a-vf'
  | 'vf-claimed-twice'
  | 'vf-not-yet-created'
  | 'pf-link-down'
  | 'device-not-back'
  | 'device-busy'
  | 'device-holders-unknown'
  | 'driverctl-missing'
  | 'binding-unreadable'
  | 'bindings-unknown';

export interface Problem {
  severity: 'block' | 'warn';
  code: ProblemCode;
  message: string;
  /** What to do about it. */
  hint?: string;
  address?: string;
  vm?: string;
}

/** The plan for one host. */
export interface HostPlan {
  name: string;
  uri: string;
  /** Fingerprint of the snapshot this plan was computed from; null when the host could not be observed. */
  fingerprint: string | null;
  actions: Action[];
  problems: Problem[];
  /** Set when the host could not be observed: there is then no plan for it (no actions, no problems). */
  error?: HostErrorReport;
}

/** The whole plan (`plan --format json`, `plan -o FILE`). */
export interface Plan {
  format_version: typeof PLAN_FORMAT_VERSION;
  /** False when any host has a blocking problem or could not be observed. */
  applyable: boolean;
  /** True when any host has actions. */
  changes: boolean;
  hosts: HostPlan[];
}
