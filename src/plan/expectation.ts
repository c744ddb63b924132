/**
 * Judging an expectation of the action table against what was observed of its target: a driver, or one scope of
 * one domain. Pure: the apply stage observes, this decides, so every verdict is testable from plain data.
 */
import type { DomainHostdev, DomainInterface, ParsedDomain } from '../model/snapshot.js';
import type { Expectation, Scope } from './action-steps.js';
import { canonicalElement, elementDifferences } from '../libvirt/element-match.js';

/** The verdict of one verification. `observed`/`expected` read as "0000:07:00.0 is on igb" / "vfio-pci". */
export type Verdict = { holds: true; note: string | null } | { holds: false; observed: string; expected: string };

/** The expectation holds, with nothing to remark. */
export const HOLDS: Verdict = { holds: true, note: null };

type DriverExpectation = Extract<Expectation, { what: 'driver' | 'released' }>;
type DomainExpectation = Extract<Expectation, { what: 'hostdev' | 'interface' }>;

const driverText = (d: string | null) => (d === null ? 'no driver' : d);
const onDriver = (address: string, d: string | null) => (d === null ? `${address} has no driver` : `${address} is on ${d}`);

/** Judges a driver expectation given the driver now bound to its device (null: none). */
export function judgeDriver(e: DriverExpectation, driver: string | null): Verdict {
  if (e.what === 'driver') return driver === e.is ? HOLDS : { holds: false, observed: onDriver(e.address, driver), expected: driverText(e.is) };
  // Released means back on a host driver (SPEC 2 `release`, SPEC 13): a device left unbound did not come back
  // (a reset bug, or its driver not loaded), and saying "released" then would hide it until the host needs it.
  return driver === null || driver === 'vfio-pci' ? { holds: false, observed: onDriver(e.address, driver), expected: 'a host driver' } : HOLDS;
}

/** Judges a VF count: the PF's state now (`sriov_numvfs` and its `virtfnN` links), or the count persisted. */
export function judgeNumVfs(e: Extract<Expectation, { what: 'numvfs' | 'numvfs-persisted' }>, seen: { numVfs: number; links: number } | number): Verdict {
  if (typeof seen === 'number') {
    return seen === e.is ? HOLDS : { holds: false, observed: `the udev rule file persists ${seen} VFs for ${e.address}`, expected: `${e.is}` };
  }
  if (seen.numVfs === e.is && seen.links === e.is) return HOLDS;
  return { holds: false, observed: `${e.address} has sriov_numvfs ${seen.numVfs} and ${seen.links} virtfn links`, expected: `${e.is} VFs` };
}

const scopeText = (scope: Scope) => (scope === 'persistent' ? 'persistent config' : 'running domain');

/** How messages name the device of an expectation: `interface 52:54:00:aa:bb:01`, `VF interface … of 0000:…`. */
function subject(e: DomainExpectation, seen: DomainHostdev | DomainInterface | undefined): string {
  if (e.what === 'interface') return `interface ${e.mac}`;
  const h = seen as DomainHostdev | undefined;
  return h?.source === 'interface' ? `VF interface ${h.mac ?? '(no MAC)'} of ${e.address}` : `hostdev ${e.address}`;
}

/**
 * Judges a domain expectation against one scope of the domain: `dom` is its parsed XML there, null when the domain
 * does not exist or, for `live`, is not running (it then has no devices: absence holds, presence not). A present
 * device must hold the expected element whole (see libvirt/element-match.ts).
 */
export function judgeDomain(e: DomainExpectation, dom: ParsedDomain | null, scope: Scope): Verdict {
  const where = `in the ${scopeText(scope)} of VM "${e.vm}"`;
  const found: (DomainHostdev | DomainInterface)[] =
    e.what === 'hostdev'
      ? (dom?.hostdevs ?? []).filter((h) => h.address === e.address)
      : (dom?.interfaces ?? []).filter((i) => i.mac?.toLowerCase() === e.mac.toLowerCase());
  if (e.element === null) return found.length === 0 ? HOLDS : { holds: false, observed: `${subject(e, found[0])} is ${where}`, expected: 'absent' };
  const expected = canonicalElement(e.element);
  if (dom === null) return { holds: false, observed: `VM "${e.vm}" ${scope === 'live' ? 'is not running' : 'does not exist'}`, expected };
  if (found.length === 0) return { holds: false, observed: `${subject(e, undefined)} is not ${where}`, expected };
  const differences = found.map((seen) => elementDifferences(e.element as string, seen.xml));
  if (differences.some((d) => d.length === 0)) return HOLDS;
  return { holds: false, observed: `${subject(e, found[0])} ${where} ${(differences[0] as string[]).join(', ')}`, expected };
}

type PersistedExpectation = Extract<Expectation, { what: 'persisted' }>;

/** Judges a persisted-override expectation given the driver the override file now names (null: no file). */
export function judgePersisted(e: PersistedExpectation, driver: string | null): Verdict {
  if (driver === e.is) return HOLDS;
  const observed = driver === null ? `no driverctl override is persisted for ${e.address}` : `the driverctl override of ${e.address} persists ${driver}`;
  return { holds: false, observed, expected: e.is === null ? 'no override' : `an override to ${e.is}` };
}
