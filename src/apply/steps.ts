/**
 * What a step is, independent of whether it moves the host forward or undoes an earlier step: one virsh command
 * plus the state that must be observed afterwards. Forward steps come from plan actions (here); undo steps from
 * `rollback.ts`. Verification is by that expectation, never by trusting virsh's exit code.
 */
import { InternalError } from '../errors.js';
import type { Action, InterfaceRemove } from '../model/plan.js';
import { nodedevName, pciFunction } from '../model/pci-address.js';
import type { DomainHostdev, ParsedDomain } from '../model/snapshot.js';
import { domainHostdevXml, hostdevXml } from '../render/hostdev-xml.js';
import type { JournalEntry } from './journal.js';
import type { TargetObserver } from './target.js';

/** Which XML of a domain a change is made to and verified against. */
export type Scope = 'persistent' | 'live';

/** A hostdev as it must appear in a domain (the fields `detach-device` / `attach-device` preserve). */
export type HostdevShape = Pick<DomainHostdev, 'managed' | 'source' | 'mac'>;

/** The observable state a step must leave behind. */
export type Expectation =
  /** The device is bound to exactly this driver (null: to none). */
  | { what: 'driver'; address: string; is: string | null }
  /** The device is off vfio-pci (any host driver, or none: see `verify`). */
  | { what: 'released'; address: string }
  /** The domain has (`shape`) or lacks (null) a hostdev of `address`, in every scope. */
  | { what: 'hostdev'; uuid: string; vm: string; address: string; scopes: Scope[]; shape: HostdevShape | null }
  /** The domain has (or lacks) a guest NIC with this MAC, in every scope. */
  | { what: 'interface'; uuid: string; vm: string; mac: string; scopes: Scope[]; present: boolean };

/** One step: a virsh command and how to tell that it took effect. */
export interface Op {
  kind: JournalEntry['kind'];
  /** For humans: `nodedev-detach 0000:07:00.0`, `attach-hostdev 0000:07:00.0 to "rhel7.3"`. */
  label: string;
  address?: string;
  vm?: string;
  /** virsh argv; `XML_FILE` stands for the temp file holding `xml`. */
  args: string[];
  xml?: string;
  expect: Expectation;
  /** Extra tries when virsh succeeded but the expectation does not hold (the seed's step 13: detach again). */
  retries: number;
  /** A virsh error meaning "already so" (attach of a present device): success when the expectation holds. */
  alreadyDone?: RegExp;
}

/** The journal fields that say what an op acts on. */
export function opSubject(op: Op): { kind: Op['kind']; address?: string; vm?: string } {
  return { kind: op.kind, ...(op.address ? { address: op.address } : {}), ...(op.vm ? { vm: op.vm } : {}) };
}

/** Placeholder in `Op.args` for the path of the step's XML file. */
export const XML_FILE = '\0xml-file';

/** The verdict of one verification. `observed`/`expected` read as "0000:07:00.0 is on igb" / "vfio-pci". */
export type Verdict = { holds: true; note: string | null } | { holds: false; observed: string; expected: string };

const holds: Verdict = { holds: true, note: null };

/** `--config` / `--live` from an action's flags, and the scopes they change. */
function scopesOf(a: { config: boolean; live: boolean; vm: string }): { flags: string[]; scopes: Scope[] } {
  const scopes: Scope[] = [...(a.config ? (['persistent'] as const) : []), ...(a.live ? (['live'] as const) : [])];
  if (scopes.length === 0) throw new InternalError(`a change to VM "${a.vm}" that is neither --config nor --live`);
  return { flags: scopes.map((s) => (s === 'persistent' ? '--config' : '--live')), scopes };
}

/** `attach-device` or `detach-device` of `xml` on a domain, with the action's scope flags. */
function deviceCommand(verb: 'attach-device' | 'detach-device', a: { vmUuid: string; config: boolean; live: boolean; vm: string }): {
  args: string[];
  scopes: Scope[];
} {
  const { flags, scopes } = scopesOf(a);
  return { args: [verb, '--domain', a.vmUuid, '--file', XML_FILE, ...flags], scopes };
}

const ALREADY_ATTACHED = /already in the domain configuration/;
const ALREADY_DETACHED = /device not found|not present in (the )?domain configuration/;

/** `virsh nodedev-detach|nodedev-reattach` of one device, and the driver state it must leave. */
export function nodedevOp(
  verb: 'nodedev-detach' | 'nodedev-reattach',
  address: string,
  expect: Extract<Expectation, { what: 'driver' | 'released' }>,
): Op {
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

type DomainChange = { vm: string; vmUuid: string; address: string; config: boolean; live: boolean };

/** Adds (`shape`) or removes (null) the hostdev of `a.address` in a VM. */
export function hostdevOp(a: DomainChange, shape: HostdevShape | null, xml: string): Op {
  const verb = shape ? 'attach-device' : 'detach-device';
  const { args, scopes } = deviceCommand(verb, a);
  return {
    kind: shape ? 'attach-hostdev' : 'detach-hostdev',
    label: shape ? `attach-hostdev ${a.address} to "${a.vm}"` : `detach-hostdev ${a.address} from "${a.vm}"`,
    address: a.address,
    vm: a.vm,
    args,
    xml,
    expect: { what: 'hostdev', uuid: a.vmUuid, vm: a.vm, address: a.address, scopes, shape },
    retries: 0,
    alreadyDone: shape ? ALREADY_ATTACHED : ALREADY_DETACHED,
  };
}

/** Removes (`present: false`) or re-adds a guest NIC, given as the element libvirt printed. */
export function interfaceOp(a: InterfaceRemove, present: boolean): Op {
  const { args, scopes } = deviceCommand(present ? 'attach-device' : 'detach-device', a);
  const kind = present ? 'restore-interface' : 'remove-interface';
  return {
    kind,
    label: `${kind} ${interfaceLabel(a)} ${present ? 'to' : 'from'} "${a.vm}"`,
    vm: a.vm,
    args,
    xml: a.interfaceXml,
    expect: { what: 'interface', uuid: a.vmUuid, vm: a.vm, mac: requireMac(a), scopes, present },
    retries: 0,
    ...(present ? {} : { alreadyDone: ALREADY_DETACHED }),
  };
}

/** The step that carries out a plan action. */
export function forwardOp(action: Action): Op {
  switch (action.kind) {
    case 'nodedev-detach':
      return nodedevOp('nodedev-detach', action.address, { what: 'driver', address: action.address, is: 'vfio-pci' });
    case 'nodedev-reattach':
      return nodedevOp('nodedev-reattach', action.address, { what: 'released', address: action.address });
    case 'attach-hostdev':
      return hostdevOp(action, { managed: action.managed, source: 'hostdev' }, hostdevXml(action.address, action.managed));
    case 'detach-hostdev':
      return hostdevOp(action, null, domainHostdevXml(action));
    case 'remove-interface':
      return interfaceOp(action, false);
  }
}

/** `52:54:00:aa:bb:01 (bridge br0)`. */
function interfaceLabel(a: { mac: string | null; type: string; source: string | null }): string {
  return `${a.mac ?? '(no MAC)'} (${a.type}${a.source ? ` ${a.source}` : ''})`;
}

/** The MAC that identifies a guest NIC: libvirt matches `detach-device` by it and always prints one. */
function requireMac(a: { mac: string | null; vm: string }): string {
  if (a.mac === null) throw new InternalError(`an interface of VM "${a.vm}" without a MAC cannot be removed safely`);
  return a.mac;
}

const driverText = (d: string | null) => (d === null ? 'no driver' : d);
const onDriver = (address: string, d: string | null) => (d === null ? `${address} has no driver` : `${address} is on ${d}`);
const hostdevText = (address: string, s: HostdevShape) =>
  `${s.source === 'interface' ? `VF interface ${s.mac ?? ''} of ` : 'hostdev '}${address} (managed=${s.managed ? 'yes' : 'no'})`;
const sameShape = (h: DomainHostdev, s: HostdevShape) =>
  h.managed === s.managed && h.source === s.source && (s.mac === undefined || h.mac?.toLowerCase() === s.mac.toLowerCase());
const scopeText = (scope: Scope) => (scope === 'persistent' ? 'persistent config' : 'running domain');

/** Observes the target of `e` and says whether it holds. Observation errors propagate (the step fails with them). */
export async function verify(e: Expectation, target: TargetObserver): Promise<Verdict> {
  switch (e.what) {
    case 'driver': {
      const d = await target.deviceDriver(e.address);
      return d === e.is ? holds : { holds: false, observed: onDriver(e.address, d), expected: driverText(e.is) };
    }
    case 'released': {
      const d = await target.deviceDriver(e.address);
      if (d === 'vfio-pci') return { holds: false, observed: onDriver(e.address, d), expected: 'a host driver' };
      // Off vfio-pci is what matters; a device no host driver claims (module blacklisted or not loaded, common
      // for passthrough-only GPUs) is released all the same, and rolling the whole apply back would not help.
      return d === null ? { holds: true, note: `no host driver claimed ${e.address}; it is unbound` } : holds;
    }
    case 'hostdev':
    case 'interface':
      for (const scope of e.scopes) {
        const dom = await target.domain(e.uuid, scope);
        // A domain that is not there (or not running, for `live`) has no devices: absence holds, presence not.
        const wantsAbsent = e.what === 'hostdev' ? e.shape === null : !e.present;
        const v = dom !== null ? domainVerdict(e, dom, scope) : wantsAbsent ? holds : missingDomain(e.vm, scope);
        if (!v.holds) return v;
      }
      return holds;
  }
}

function missingDomain(vm: string, scope: Scope): Verdict {
  return { holds: false, observed: `VM "${vm}" ${scope === 'live' ? 'is not running' : 'does not exist'}`, expected: `VM "${vm}" ${scope === 'live' ? 'running' : 'defined'}` };
}

function domainVerdict(e: Extract<Expectation, { what: 'hostdev' | 'interface' }>, dom: ParsedDomain, scope: Scope): Verdict {
  const where = `in the ${scopeText(scope)} of VM "${e.vm}"`;
  if (e.what === 'interface') {
    const present = dom.interfaces.some((i) => i.mac?.toLowerCase() === e.mac.toLowerCase());
    if (present === e.present) return holds;
    return { holds: false, observed: `interface ${e.mac} is ${present ? '' : 'not '}${where}`, expected: present ? 'removed' : 'present' };
  }
  const found = dom.hostdevs.filter((h) => h.address === e.address);
  if (e.shape === null) {
    return found.length === 0 ? holds : { holds: false, observed: `${hostdevText(e.address, found[0] as DomainHostdev)} is ${where}`, expected: 'absent' };
  }
  const shape = e.shape;
  if (found.some((h) => sameShape(h, shape))) return holds;
  const seen = found[0];
  return {
    holds: false,
    observed: seen ? `${hostdevText(e.address, seen)} is ${where}` : `${e.address} is not ${where}`,
    expected: hostdevText(e.address, shape),
  };
}
