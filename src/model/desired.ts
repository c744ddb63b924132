/**
 * Desired state after loading and normalising `passthrough.yaml`: every default filled in, every address canonical,
 * every host named. The planner reads only this shape; what the user wrote (all optional) is the schema's business.
 */

/** Where in the source file a value came from, for messages that point at it. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** `passthrough.yaml:12:7`: the form editors and terminals turn into a link. */
export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

export interface DesiredHost {
  name: string;
  uri: string;
  /** Observed through local /sys under `--root` (no remote host part in the URI). */
  local: boolean;
}

/** Identity guard on a claimed device: vendor/product as 4 lowercase hex digits. */
export interface DeviceIdentity {
  vendor: string;
  product: string;
}

/**
 * How an SR-IOV VF is given to a guest as a NIC (SPEC 11): `<interface type='hostdev' managed='yes'>` with this MAC
 * (null: libvirt picks one, which is then kept), VLAN tag (null: untagged) and `trustGuestRxFilters`.
 */
export interface VfInterface {
  mac: string | null;
  vlan: number | null;
  trust: boolean;
}

interface ClaimBase {
  /** `<hostdev managed='yes'>` (default true). */
  managed: boolean;
  /** Allow a host-critical device (SPEC 3). */
  force: boolean;
  /** Given to the guest as `<interface type='hostdev'>` rather than a plain `<hostdev>`; absent: a plain hostdev. */
  interface?: VfInterface;
  pos: SourcePos;
}

/** A device claimed by address: one function, or every function of a slot when the address has no function. */
export interface AddressClaim extends ClaimBase {
  kind: 'address';
  /** Canonical: `0000:07:00.0`, or `0000:01:00` for a whole slot. */
  address: string;
  expect: DeviceIdentity | null;
}

/** A selector: `count` devices of this identity, chosen deterministically and stickily by the planner. */
export interface MatchClaim extends ClaimBase {
  kind: 'match';
  match: DeviceIdentity;
  count: number;
}

/** An SR-IOV VF by its PF and index (`virtfnN`): its address moves when the PF's VF count changes, this does not. */
export interface VfClaim extends ClaimBase {
  kind: 'vf';
  /** Canonical PF function address. */
  pf: string;
  index: number;
  expect: null;
}

/** A selector over the VFs of one PF (`match: { pf }`): `count` free VFs, lowest index first, sticky. */
export interface VfMatchClaim extends ClaimBase {
  kind: 'vf-match';
  pf: string;
  count: number;
}

export type DeviceClaim = AddressClaim | MatchClaim | VfClaim | VfMatchClaim;

/** A PF whose VF count passthru owns (SPEC 11 `sriov:`). */
export interface SriovPf {
  host: string;
  /** Canonical PF function address. */
  pf: string;
  numVfs: number;
  pos: SourcePos;
}

/** A guest NIC to remove because a passed-through NIC replaces it. Null fields match anything. */
export interface InterfaceSelector {
  type: string;
  source: string | null;
  mac: string | null;
  pos: SourcePos;
}

export interface DesiredVm {
  /** libvirt domain name. */
  name: string;
  host: string;
  /** Also hot-plug/unplug on the running domain. */
  live: boolean;
  devices: DeviceClaim[];
  removeInterfaces: InterfaceSelector[];
  pos: SourcePos;
}

/** A host+address pair from `release` or `protect`. */
export interface HostAddress {
  host: string;
  /** Canonical function or whole-slot address. */
  address: string;
  pos: SourcePos;
}

export interface DesiredState {
  /** The file it was read from (for messages). */
  file: string;
  hosts: DesiredHost[];
  vms: DesiredVm[];
  release: HostAddress[];
  protect: HostAddress[];
  /** Absent in states saved before SR-IOV: none. */
  sriov?: SriovPf[];
}

/** The part of the desired state that concerns one host: what `planHost` takes. */
export interface DesiredHostState {
  host: DesiredHost;
  vms: DesiredVm[];
  release: HostAddress[];
  protect: HostAddress[];
  sriov?: SriovPf[];
}
