/**
 * The offline checks between entries (SPEC 1): a device can be passed through to one VM only, and cannot at the
 * same time be claimed and released, or claimed and protected. They run on the normalised state, so they compare
 * addresses numerically and see whole-slot claims overlap their functions, and so that `-c URI`, which puts several
 * hosts' entries on one host, can run them again.
 */
import type { InputDiagnostic } from '../errors.js';
import type { AddressClaim, DesiredState, HostAddress, SourcePos } from '../model/desired.js';
import { canonicalOverlaps, slotOf } from '../model/pci-address.js';
import { describePath } from './source.js';
import { findSriovConflicts } from './sriov-conflicts.js';

interface PlacedClaim {
  claim: AddressClaim;
  vm: string;
  /** `vms.<name>.devices[i]`, to name it in messages. */
  where: string;
}

const at = (pos: SourcePos) => `${pos.line}:${pos.col}`;
const comesBefore = (a: SourcePos, b: SourcePos) => a.line - b.line || a.col - b.col;

// A whole-slot address stands for several functions; say so, or "0000:01:00 overlaps 0000:01:00.1" reads as a typo.
function describeAddress(address: string): string {
  return address.includes('.') ? address : `${address} (every function of slot ${address.slice(5)})`;
}

// Normalised addresses are canonical; comparing them needs no parsing.
const overlaps = canonicalOverlaps;

/**
 * Every conflict between entries of `state`, in file order: one diagnostic per offending entry, positioned at the
 * later of two conflicting claims and at the `release`/`protect` entry otherwise. Entries on a host that
 * `state.hosts` does not declare are skipped: the unresolved host has been reported already.
 */
export function findConflicts(state: DesiredState): InputDiagnostic[] {
  const diagnostics: InputDiagnostic[] = [];
  for (const host of state.hosts) {
    const claims: PlacedClaim[] = state.vms
      .filter((vm) => vm.host === host.name)
      .flatMap((vm) =>
        vm.devices.flatMap((claim, i) =>
          claim.kind === 'address' ? [{ claim, vm: vm.name, where: describePath(['vms', vm.name, 'devices', i]) }] : [],
        ),
      )
      .sort((a, b) => comesBefore(a.claim.pos, b.claim.pos));
    // Only claims in the same slot can overlap: index earlier claims by slot instead of comparing all pairs.
    const earlierInSlot = new Map<string, PlacedClaim[]>();
    for (const later of claims) {
      const slot = slotOf(later.claim.address);
      const seen = earlierInSlot.get(slot) ?? [];
      const earlier = seen.find((c) => overlaps(c.claim.address, later.claim.address));
      if (earlier) diagnostics.push(claimedTwice(earlier, later, host.name));
      earlierInSlot.set(slot, [...seen, later]);
    }

    const onHost = (list: HostAddress[]) => list.filter((entry) => entry.host === host.name);
    const protect = onHost(state.protect);
    for (const entry of onHost(state.release)) {
      const claimed = claims.find((c) => overlaps(c.claim.address, entry.address));
      if (claimed) {
        diagnostics.push({
          ...entry.pos,
          message:
            `${describeAddress(entry.address)} is listed in release but ${claimed.where} (${at(claimed.claim.pos)}) ` +
            `claims ${describeAddress(claimed.claim.address)}`,
          hint: 'a released device is assigned to no VM: remove the release entry or the claim',
        });
      }
      const guarded = protect.find((p) => overlaps(p.address, entry.address));
      if (guarded) {
        diagnostics.push({
          ...entry.pos,
          message: `${describeAddress(entry.address)} is listed in release and in protect (${at(guarded.pos)})`,
          hint: 'protect wins (passthru never touches it), so the release entry has no effect: remove one of them',
        });
      }
    }
    for (const entry of protect) {
      const claimed = claims.find((c) => overlaps(c.claim.address, entry.address));
      if (claimed) {
        diagnostics.push({
          ...entry.pos,
          message:
            `${describeAddress(entry.address)} is listed in protect but ${claimed.where} (${at(claimed.claim.pos)}) ` +
            `claims ${describeAddress(claimed.claim.address)}`,
          hint:
            'protect wins (passthru never detaches it): remove the claim, ' +
            'or the protect entry if the device may be passed through',
        });
      }
    }
  }
  return diagnostics.concat(findSriovConflicts(state)).sort((a, b) => comesBefore(a, b));
}

function claimedTwice(earlier: PlacedClaim, later: PlacedClaim, host: string): InputDiagnostic {
  const same = earlier.claim.address === later.claim.address;
  const what = same
    ? `${describeAddress(later.claim.address)} is`
    : `${describeAddress(later.claim.address)} overlaps ${describeAddress(earlier.claim.address)}, which is`;
  if (earlier.vm === later.vm) {
    return {
      ...later.claim.pos,
      message: `${later.where}: ${what} already claimed by ${earlier.where} (${at(earlier.claim.pos)}) in the same VM`,
      hint: same
        ? `remove ${later.where}`
        : 'claim the whole slot once, or its functions one by one, not both',
    };
  }
  return {
    ...later.claim.pos,
    message: `${later.where}: ${what} already claimed by ${earlier.where} (${at(earlier.claim.pos)}) on host ${host}`,
    hint: 'a device can be passed through to one VM only: remove it from one of them',
  };
}
