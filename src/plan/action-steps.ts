/**
 * The action table: for each kind of plan action, the virsh step that carries it out, the state that step must
 * leave behind (its expectation, which verification observes) and the step that undoes it. Pure data: `apply/`
 * runs these steps, verifies and journals them and rolls back with the undos; `plan --format sh` prints the same
 * argv and XML. So what a user is shown is what runs, and what a rollback would run.
 *
 * Verification is by the expectation, never by trusting virsh's exit code.
 *
 * Boot-time bindings (SPEC 10) are driverctl steps, not virsh ones (`tool: 'driverctl'`): `driverctl set-override
 * ADDR vfio-pci` and `driverctl unset-override ADDR`, both without `--noprobe`. driverctl 0.111 unbinds the device
 * in either case; with `--noprobe` it would leave it unbound, so the probe is what puts it back on the driver the
 * override names (vfio-pci, where nodedev-detach already put it) or, once the override is gone, on its host driver
 * (where nodedev-reattach already put it). Neither `--nosave`: persisting is the point. Each is verified by reading
 * the override file back; each one's undo puts back the override that was there before (none, or its driver).
 */
import { InternalError } from '../errors.js';
import type { Action, ActionKind, HostdevAttach, HostdevDetach, InterfaceRemove, StepKind } from '../model/plan.js';
import { nodedevName, pciFunction } from '../model/pci-address.js';
import { SRIOV_RULES_FILE } from '../model/sriov-udev-rules.js';

/** Which XML of a domain a change is made to and verified against. */
export type Scope = 'persistent' | 'live';

/** The observable state a step must leave behind. */
export type Expectation =
  /** The device is bound to exactly this driver (null: to none). */
  | { what: 'driver'; address: string; is: string | null }
  /** The device is back on a host driver (any but vfio-pci): one left unbound did not come back. */
  | { what: 'released'; address: string }
  /** In every scope, the domain holds `element` whole as its hostdev of `address`; null: it has no hostdev of it. */
  | { what: 'hostdev'; uuid: string; vm: string; address: string; scopes: Scope[]; element: string | null }
  /** In every scope, the domain holds `element` whole as its guest NIC with this MAC; null: it has no NIC with it. */
  | { what: 'interface'; uuid: string; vm: string; mac: string; scopes: Scope[]; element: string | null }
  /** The PF has exactly `is` VFs: `sriov_numvfs` reads it and there are as many `virtfnN` links. */
  | { what: 'numvfs'; address: string; is: number }
  /** passthru's udev rule file persists `is` VFs for the PF (0: no line). */
  | { what: 'numvfs-persisted'; address: string; is: number }
  /** The driverctl override persisted for the device names exactly this driver (null: none is persisted). */
  | { what: 'persisted'; address: string; is: string | null };

/** A step carried out on the local host's files (io/sriov-sysfs.ts), not by virsh. */
export type LocalChange = { what: 'set-numvfs' | 'persist-numvfs'; pf: string; to: number };

/** The program a step runs: virsh (connected to the host's URI), or driverctl (local hosts only). */
export type StepTool = 'virsh' | 'driverctl';

/** One step: a virsh command and how to tell that it took effect. */
export interface Op {
  kind: StepKind;
  /** For humans: `nodedev-detach 0000:07:00.0`, `attach-hostdev 0000:07:00.0 to "rhel7.3"`. */
  label: string;
  address?: string;
  vm?: string;
  /** Default `virsh`. */
  tool?: StepTool;
  /**
   * The tool's argv (virsh's without the connection); `XML_FILE` stands for the file holding `xml`. For a `local`
   * step, what it does in words for the journal (`write /sys/bus/pci/devices/PF/sriov_numvfs 8`).
   */
  args: string[];
  /** Set for a step on the local host's files rather than a virsh command. */
  local?: LocalChange;
  xml?: string;
  expect: Expectation;
  /** Extra tries when virsh succeeded but the expectation does not hold (the seed's step 13: detach again). */
  retries: number;
  /** A virsh error meaning "already so" (attach of a present device): success when the expectation holds. */
  alreadyDone?: RegExp;
}

/** Placeholder in `Op.args` for the path of the step's XML file. */
export const XML_FILE = '\0xml-file';

/** The journal fields that say what an op acts on. */
export function opSubject(op: Op): { kind: StepKind; address?: string; vm?: string } {
  return { kind: op.kind, ...(op.address ? { address: op.address } : {}), ...(op.vm ? { vm: op.vm } : {}) };
}

const ALREADY_ATTACHED = /already in the domain configuration/;
const ALREADY_DETACHED = /device not found|not present in (the )?domain configuration/;

/** `virsh nodedev-detach|nodedev-reattach` of one device, and the driver state it must leave. */
function nodedevOp(verb: 'nodedev-detach' | 'nodedev-reattach', address: string, expect: Extract<Expectation, { what: 'driver' | 'released' }>): Op {
  return {
    kind: verb,
    label: `${verb} ${address}`,
    address,
    args: [verb, nodedevName(pciFunction(address))],
    expect,
    // The seed's step 13: a detach that did not land on vfio-pci is tried once more.
    retries: verb === 'nodedev-detach' ? 1 : 0,
  };
}

type DomainChange = { vm: string; vmUuid: string; config: boolean; live: boolean };

/** `attach-device` or `detach-device` of the step's XML on a domain, and the scopes its flags change. */
function deviceCommand(verb: 'attach-device' | 'detach-device', a: DomainChange): { args: string[]; scopes: Scope[] } {
  const scopes: Scope[] = [...(a.config ? (['persistent'] as const) : []), ...(a.live ? (['live'] as const) : [])];
  if (scopes.length === 0) throw new InternalError(`a change to VM "${a.vm}" that is neither --config nor --live`);
  const flags = scopes.map((s) => (s === 'persistent' ? '--config' : '--live'));
  return { args: [verb, '--domain', a.vmUuid, '--file', XML_FILE, ...flags], scopes };
}

/** Adds (`add`) or removes the action's element; both directions hand virsh the same, whole element. */
function hostdevOp(a: HostdevAttach | HostdevDetach, add: boolean): Op {
  const { args, scopes } = deviceCommand(add ? 'attach-device' : 'detach-device', a);
  return {
    kind: add ? 'attach-hostdev' : 'detach-hostdev',
    label: add ? `attach-hostdev ${a.address} to "${a.vm}"` : `detach-hostdev ${a.address} from "${a.vm}"`,
    address: a.address,
    vm: a.vm,
    args,
    xml: a.hostdevXml,
    expect: { what: 'hostdev', uuid: a.vmUuid, vm: a.vm, address: a.address, scopes, element: add ? a.hostdevXml : null },
    retries: 0,
    alreadyDone: add ? ALREADY_ATTACHED : ALREADY_DETACHED,
  };
}

/** Removes (`add: false`) or re-adds a guest NIC, given as the element libvirt printed. */
function interfaceOp(a: InterfaceRemove, add: boolean): Op {
  const { args, scopes } = deviceCommand(add ? 'attach-device' : 'detach-device', a);
  const kind = add ? 'restore-interface' : 'remove-interface';
  return {
    kind,
    label: `${kind} ${a.mac ?? '(no MAC)'} (${a.type}${a.source ? ` ${a.source}` : ''}) ${add ? 'to' : 'from'} "${a.vm}"`,
    vm: a.vm,
    args,
    xml: a.interfaceXml,
    expect: { what: 'interface', uuid: a.vmUuid, vm: a.vm, mac: requireMac(a), scopes, element: add ? a.interfaceXml : null },
    retries: 0,
    ...(add ? {} : { alreadyDone: ALREADY_DETACHED }),
  };
}

/** The MAC that identifies a guest NIC: libvirt matches `detach-device` by it (the planner blocks NICs without). */
function requireMac(a: { mac: string | null; vm: string }): string {
  if (a.mac === null) throw new InternalError(`an interface of VM "${a.vm}" without a MAC cannot be removed safely`);
  return a.mac;
}

/** Sets a PF's VF count (undone by setting it back), verified by `sriov_numvfs` and the `virtfnN` links. */
function numVfsOp(pf: string, to: number): Op {
  return {
    kind: 'set-numvfs',
    label: `set-numvfs ${pf} to ${to}`,
    address: pf,
    args: ['write', `/sys/bus/pci/devices/${pf}/sriov_numvfs`, String(to)],
    local: { what: 'set-numvfs', pf, to },
    expect: { what: 'numvfs', address: pf, is: to },
    retries: 0,
  };
}

/** Persists a PF's VF count in passthru's udev rule file. */
function persistOp(pf: string, to: number): Op {
  return {
    kind: 'persist-numvfs',
    label: `persist-numvfs ${pf} as ${to}`,
    address: pf,
    args: ['persist', SRIOV_RULES_FILE, `${pf}=${to}`],
    local: { what: 'persist-numvfs', pf, to },
    expect: { what: 'numvfs-persisted', address: pf, is: to },
    retries: 0,
  };
}

/**
 * `driverctl set-override` of `driver`, or `unset-override` (null), and the override it must leave persisted. `kind`
 * names the step in the journal by what it does: the undo of a persist that replaced nothing is an unpersist.
 */
function driverctlOp(kind: 'persist-binding' | 'unpersist-binding', address: string, driver: string | null): Op {
  return {
    kind,
    label: driver === null ? `${kind} ${address} (driverctl unset-override)` : `${kind} ${address} (driverctl set-override ${driver})`,
    address,
    tool: 'driverctl',
    args: driver === null ? ['unset-override', address] : ['set-override', address, driver],
    expect: { what: 'persisted', address, is: driver },
    retries: 0,
  };
}

/** The forward step of an action kind and the step that undoes it. */
interface ActionSteps<A extends Action> {
  forward(action: A): Op;
  /** Puts back what `forward` changed, and expects the state from before it (a re-added device whole). */
  undo(action: A): Op;
}

/** One row per action kind. */
export const ACTION_STEPS: { readonly [K in ActionKind]: ActionSteps<Extract<Action, { kind: K }>> } = {
  'set-numvfs': { forward: (a) => numVfsOp(a.address, a.to), undo: (a) => numVfsOp(a.address, a.from) },
  'persist-numvfs': { forward: (a) => persistOp(a.address, a.to), undo: (a) => persistOp(a.address, a.from) },
  'nodedev-detach': {
    forward: (a) => nodedevOp('nodedev-detach', a.address, { what: 'driver', address: a.address, is: 'vfio-pci' }),
    // Undoing a binding change must restore exactly the driver the device had, not just "a host driver".
    undo: (a) => nodedevOp('nodedev-reattach', a.address, { what: 'driver', address: a.address, is: a.fromDriver }),
  },
  'nodedev-reattach': {
    forward: (a) => nodedevOp('nodedev-reattach', a.address, { what: 'released', address: a.address }),
    undo: (a) => nodedevOp('nodedev-detach', a.address, { what: 'driver', address: a.address, is: a.fromDriver }),
  },
  'attach-hostdev': { forward: (a) => hostdevOp(a, true), undo: (a) => hostdevOp(a, false) },
  'detach-hostdev': { forward: (a) => hostdevOp(a, false), undo: (a) => hostdevOp(a, true) },
  'remove-interface': { forward: (a) => interfaceOp(a, false), undo: (a) => interfaceOp(a, true) },
  'persist-binding': {
    forward: (a) => driverctlOp('persist-binding', a.address, 'vfio-pci'),
    undo: (a) => driverctlOp(a.fromDriver === null ? 'unpersist-binding' : 'persist-binding', a.address, a.fromDriver),
  },
  'unpersist-binding': {
    forward: (a) => driverctlOp('unpersist-binding', a.address, null),
    undo: (a) => driverctlOp('persist-binding', a.address, a.fromDriver),
  },
};

/** The row of `action`'s kind, typed for any action. */
const stepsOf = (action: Action) => ACTION_STEPS[action.kind] as ActionSteps<Action>;

/** The step that carries out a plan action. */
export function forwardOp(action: Action): Op {
  return stepsOf(action).forward(action);
}

/** The step that undoes a plan action. */
export function undoOp(action: Action): Op {
  return stepsOf(action).undo(action);
}
