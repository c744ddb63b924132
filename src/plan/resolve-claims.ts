/**
 * Turns each VM's claims (addresses, whole slots, selectors) into concrete PCI functions on one host.
 *
 * Selectors are sticky (SPEC 1): a matching device already attached to that VM stays chosen, and only the
 * shortfall is picked anew, lowest address first. Address claims are resolved before any selector so that a
 * selector never takes a device another entry names explicitly.
 */
import { formatPos, type DesiredHostState, type DesiredVm, type DeviceClaim, type MatchClaim, type SourcePos } from '../model/desired.js';
import type { Problem } from '../model/plan.js';
import type { PciDevice } from '../model/snapshot.js';
import type { HostView } from './host-view.js';

/** One PCI function that the desired state gives to one VM. */
export interface Assignment {
  vm: DesiredVm;
  device: PciDevice;
  managed: boolean;
  force: boolean;
  /** Where the claim was written, for messages. */
  pos: SourcePos;
}

const identity = (d: { vendor: string; product: string }) => `${d.vendor}:${d.product}`;

export function resolveClaims(desired: DesiredHostState, view: HostView): { assignments: Assignment[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const assignments: Assignment[] = [];
  const taken = new Set<string>();
  const protectedAddresses = desired.protect.map((p) => p.address);
  const released = desired.release.map((r) => r.address);

  const assign = (vm: DesiredVm, claim: DeviceClaim, device: PciDevice) => {
    taken.add(device.address);
    assignments.push({ vm, device, managed: claim.managed, force: claim.force, pos: claim.pos });
  };

  for (const vm of desired.vms) {
    for (const claim of vm.devices) {
      if (claim.kind !== 'address') continue;
      const found = view.devicesAt(claim.address);
      if (found.length === 0) {
        problems.push({
          severity: 'block',
          code: 'device-not-found',
          message: `${claim.address} (claimed for ${vm.name} at ${formatPos(claim.pos)}) does not exist on host ${desired.host.name}`,
          hint: 'list the host\'s PCI devices with `lspci -Dnn` or `virsh nodedev-list --cap pci` and correct the address',
          address: claim.address,
          vm: vm.name,
        });
        continue;
      }
      for (const device of found) {
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
        if (claim.expect && (claim.expect.vendor !== device.vendor || claim.expect.product !== device.product)) {
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
    vm.devices.filter((c): c is MatchClaim => c.kind === 'match').map((claim) => ({ vm, claim, chosen: [] as PciDevice[] })),
  );
  const matches = (device: PciDevice, claim: MatchClaim) => device.vendor === claim.match.vendor && device.product === claim.match.product;
  /** Why a matching device cannot be picked for `vm`, for the shortfall message; null when it can. */
  const unavailable = (device: PciDevice, claim: MatchClaim, vm: DesiredVm): string | null => {
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
  const eligible = (device: PciDevice, claim: MatchClaim, vm: DesiredVm) => matches(device, claim) && unavailable(device, claim, vm) === null;
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
          `${formatPos(s.claim.pos)} wants ${s.claim.count} × ${identity(s.claim.match)} for ${s.vm.name}, ` +
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
