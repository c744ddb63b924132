/**
 * Turns each VM's claims (addresses, whole slots, selectors) into concrete PCI functions on one host.
 *
 * Selectors are sticky (SPEC 1): a matching device already attached to that VM stays chosen, and only the
 * shortfall is picked anew, lowest address first. Address claims are resolved before any selector so that a
 * selector never takes a device another entry names explicitly.
 */
import {
  formatPos,
  type DesiredHostState,
  type DesiredVm,
  type DeviceClaim,
  type MatchClaim,
  type SourcePos,
  type VfInterface,
  type VfMatchClaim,
} from '../model/desired.js';
import type { Problem } from '../model/plan.js';
import type { PciDevice } from '../model/snapshot.js';
import type { HostView } from './host-view.js';

/** One PCI function that the desired state gives to one VM. */
export interface Assignment {
  vm: DesiredVm;
  device: PciDevice;
  managed: boolean;
  force: boolean;
  /** Given as `<interface type='hostdev'>` with these settings; absent: a plain `<hostdev>`. */
  interface?: VfInterface;
  /** Where the claim was written, for messages. */
  pos: SourcePos;
}

const identity = (d: { vendor: string; product: string }) => `${d.vendor}:${d.product}`;

/** What a selector picks: an identity, or the VFs of one PF. */
type Selector = MatchClaim | VfMatchClaim;
const describeSelector = (claim: Selector) => (claim.kind === 'match' ? identity(claim.match) : `VF of ${claim.pf}`);

/**
 * The address a claim names: its own, or VF `index` of its PF (the PF's `virtfnN`, as the plan's VF counts leave
 * them); null for a VF that does not exist, with why.
 */
function claimedAddress(claim: DeviceClaim, view: HostView): { address: string } | { missing: string } | null {
  if (claim.kind === 'address') return { address: claim.address };
  if (claim.kind !== 'vf') return null;
  const pf = view.device(claim.pf);
  const address = pf?.virtualFunctions[claim.index];
  if (address !== undefined) return { address };
  if (!pf) return { missing: `its PF ${claim.pf} does not exist` };
  return { missing: `${claim.pf} has ${pf.virtualFunctions.length} VFs${pf.sriov ? '' : ' (it is not an SR-IOV PF)'}` };
}

export function resolveClaims(desired: DesiredHostState, view: HostView): { assignments: Assignment[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const assignments: Assignment[] = [];
  const taken = new Set<string>();
  const protectedAddresses = desired.protect.map((p) => p.address);
  const released = desired.release.map((r) => r.address);

  const assign = (vm: DesiredVm, claim: DeviceClaim, device: PciDevice) => {
    taken.add(device.address);
    assignments.push({ vm, device, managed: claim.managed, force: claim.force, ...(claim.interface ? { interface: claim.interface } : {}), pos: claim.pos });
  };

  for (const vm of desired.vms) {
    for (const claim of vm.devices) {
      const named = claimedAddress(claim, view);
      if (named === null) continue;
      if ('missing' in named && claim.kind === 'vf') {
        problems.push({
          severity: 'block',
          code: 'device-not-found',
          message: `VF ${claim.index} of ${claim.pf} (claimed for ${vm.name} at ${formatPos(claim.pos)}) does not exist on host ${desired.host.name}: ${named.missing}`,
          hint: `list the PF's VFs with \`ls -l /sys/bus/pci/devices/${claim.pf}/virtfn*\`, or give the PF enough VFs under sriov`,
          address: claim.pf,
          vm: vm.name,
        });
        continue;
      }
      const address = 'address' in named ? named.address : '';
      const found = view.devicesAt(address);
      if (found.length === 0) {
        problems.push({
          severity: 'block',
          code: 'device-not-found',
          message: `${address} (claimed for ${vm.name} at ${formatPos(claim.pos)}) does not exist on host ${desired.host.name}`,
          hint: 'list the host\'s PCI devices with `lspci -Dnn` or `virsh nodedev-list --cap pci` and correct the address',
          address,
          vm: vm.name,
        });
        continue;
      }
      for (const device of found) {
        // Two spellings of one VF (its address and PF + index) are one claim too many; the loader catches the rest.
        if (taken.has(device.address)) {
          const other = assignments.find((a) => a.device.address === device.address);
          problems.push({
            severity: 'block',
            code: 'vf-claimed-twice',
            message: `${device.address} (claimed for ${vm.name} at ${formatPos(claim.pos)}) is already claimed${other ? ` for ${other.vm.name} at ${formatPos(other.pos)}` : ''}: the same device named two ways`,
            hint: 'a device can be passed through once: remove one of the two entries',
            address: device.address,
            vm: vm.name,
          });
          continue;
        }
        if (device.unreadable !== undefined) {
          problems.push({
            severity: 'block',
            code: 'device-not-found',
            message: `${device.address} (claimed for ${vm.name} at ${formatPos(claim.pos)}) cannot be read on host ${desired.host.name}: ${device.unreadable}`,
            hint: 'passthru cannot tell what this device is or which driver holds it; look at its sysfs entry (`ls -l /sys/bus/pci/devices/ADDRESS/`) and `dmesg`, then plan again',
            address: device.address,
            vm: vm.name,
          });
          continue;
        }
        if (claim.kind === 'address' && claim.expect && (claim.expect.vendor !== device.vendor || claim.expect.product !== device.product)) {
          problems.push({
            severity: 'block',
            code: 'identity-mismatch',
            message: `${device.address} is ${identity(device)}, but ${formatPos(claim.pos)} expects ${identity(claim.expect)}`,
            hint: 'the hardware differs from what the file was written for (a moved or replaced card?): fix the address or the `expect` guard',
            address: device.address,
            vm: vm.name,
          });
          continue;
        }
        assign(vm, claim, device);
      }
    }
  }

  // Selectors: first keep what each VM already has (sticky), then fill shortfalls in file order.
  const selectors = desired.vms.flatMap((vm) =>
    vm.devices.filter((c): c is Selector => c.kind === 'match' || c.kind === 'vf-match').map((claim) => ({ vm, claim, chosen: [] as PciDevice[] })),
  );
  // The VFs of a PF, lowest index first: VF addresses grow with the index (offset + index × stride).
  const matches = (device: PciDevice, claim: Selector) =>
    claim.kind === 'match' ? device.vendor === claim.match.vendor && device.product === claim.match.product : device.physFunction === claim.pf;
  /** Why a matching device cannot be picked for `vm`, for the shortfall message; null when it can. */
  const unavailable = (device: PciDevice, claim: Selector, vm: DesiredVm): string | null => {
    const holder = view.usersOf(device.address).find((d) => d.name !== vm.name && !desired.vms.some((v) => v.name === d.name));
    if (holder) return `${device.address} is in VM "${holder.name}" (not in the file)`;
    if (device.isBridge) return `${device.address} is a bridge`;
    if (device.unreadable !== undefined) return `${device.address} cannot be read (${device.unreadable})`;
    if (taken.has(device.address)) return `${device.address} is claimed by another entry`;
    if (view.covers(protectedAddresses, device.address)) return `${device.address} is protected`;
    if (view.covers(released, device.address)) return `${device.address} is listed under release`;
    if (claim.force) return null;
    if (device.hostUse.length > 0) return `${device.address} is used by the host (${device.hostUse.map((u) => u.detail).join('; ')})`;
    // A NIC or disk controller of a host whose use of those is unknown may be the one it hangs on.
    const unknown = view.unknownHostUse(device);
    return unknown === null ? null : `${device.address} may be used by the host (${unknown})`;
  };
  const eligible = (device: PciDevice, claim: Selector, vm: DesiredVm) => matches(device, claim) && unavailable(device, claim, vm) === null;
  // An attached device stays first with a selector whose `managed` it already has, so that two selectors of one
  // identity that differ only in `managed` keep what they chose instead of swapping it on every plan.
  for (const sameManaged of [true, false]) {
    for (const s of selectors) {
      const attached = new Map(view.domain(s.vm.name)?.persistent.hostdevs.map((h) => [h.address, h.managed]) ?? []);
      for (const device of view.devices) {
        if (s.chosen.length >= s.claim.count) break;
        const managed = attached.get(device.address);
        if (managed !== undefined && (!sameManaged || managed === s.claim.managed) && eligible(device, s.claim, s.vm)) {
          s.chosen.push(device);
          taken.add(device.address);
        }
      }
    }
  }
  for (const s of selectors) {
    for (const device of view.devices) {
      if (s.chosen.length >= s.claim.count) break;
      if (eligible(device, s.claim, s.vm)) {
        s.chosen.push(device);
        taken.add(device.address);
      }
    }
    for (const device of s.chosen) assign(s.vm, s.claim, device);
    if (s.chosen.length < s.claim.count) {
      const chosen = new Set(s.chosen.map((d) => d.address));
      const why = view.devices.flatMap((d) => (matches(d, s.claim) && !chosen.has(d.address) ? [unavailable(d, s.claim, s.vm) ?? `${d.address} is taken`] : []));
      problems.push({
        severity: 'block',
        code: 'selector-shortfall',
        message:
          `${formatPos(s.claim.pos)} wants ${s.claim.count} × ${describeSelector(s.claim)} for ${s.vm.name}, ` +
          `but only ${s.chosen.length} free device(s) match on host ${desired.host.name}${why.length > 0 ? `: ${why.join('; ')}` : ''}`,
        hint:
          'lower `count`, or free a matching device (one used by another VM, protected, released, host-critical or unreadable is ' +
          'never picked, nor a NIC or disk controller while the host\'s use of those is unknown, unless the entry says `force: true`)',
        vm: s.vm.name,
      });
    }
  }
  return { assignments, problems };
}
