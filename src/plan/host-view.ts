/**
 * Indexes over one host snapshot that every planning rule asks for: devices by address, IOMMU group members,
 * which domain uses which device. Built once per plan so that rules stay simple lookups.
 */
import { canonicalOverlaps, slotOf } from '../model/pci-address.js';
import { mayBeNetworkClass, mayBeStorageClass } from '../model/pci-class.js';
import type { DomainSnapshot, PciDevice, HostSnapshot } from '../model/snapshot.js';

/** Read-only lookups over a snapshot. */
export interface HostView {
  snapshot: HostSnapshot;
  /** Every device, lowest address first (selectors pick in this order). */
  devices: readonly PciDevice[];
  device(address: string): PciDevice | undefined;
  /** Functions matching a canonical function or whole-slot address, lowest first. */
  devicesAt(address: string): PciDevice[];
  groupMembers(group: number): PciDevice[];
  domain(name: string): DomainSnapshot | undefined;
  /** Domains whose persistent or live config holds this device. */
  usersOf(address: string): DomainSnapshot[];
  /** True when the address (function or slot pattern) is covered by one of `patterns`. */
  covers(patterns: readonly string[], address: string): boolean;
  /**
   * Why the host's use of this device cannot be known — a NIC while the host's network use is unknown, a disk
   * controller while its storage use is — or null when it can (its `hostUse` is then the whole truth).
   */
  unknownHostUse(device: PciDevice): string | null;
}

export function hostView(snapshot: HostSnapshot): HostView {
  const byAddress = new Map(snapshot.devices.map((d) => [d.address, d]));
  const sorted = [...snapshot.devices].sort((a, b) => (a.address < b.address ? -1 : 1));
  const byGroup = new Map<number, PciDevice[]>();
  for (const d of sorted) {
    if (d.iommuGroup === null) continue;
    byGroup.set(d.iommuGroup, [...(byGroup.get(d.iommuGroup) ?? []), d]);
  }
  const domains = new Map(snapshot.domains.map((d) => [d.name, d]));
  const users = new Map<string, DomainSnapshot[]>();
  for (const dom of snapshot.domains) {
    const addresses = new Set([...dom.persistent.hostdevs, ...(dom.live?.hostdevs ?? [])].map((h) => h.address));
    for (const a of addresses) users.set(a, [...(users.get(a) ?? []), dom]);
  }
  const bySlot = new Map<string, PciDevice[]>();
  for (const d of sorted) bySlot.set(slotOf(d.address), [...(bySlot.get(slotOf(d.address)) ?? []), d]);
  return {
    snapshot,
    devices: sorted,
    device: (address) => byAddress.get(address),
    devicesAt: (address) => (bySlot.get(slotOf(address)) ?? []).filter((d) => canonicalOverlaps(address, d.address)),
    groupMembers: (group) => byGroup.get(group) ?? [],
    domain: (name) => domains.get(name),
    usersOf: (address) => users.get(address) ?? [],
    covers: (patterns, address) => patterns.some((p) => canonicalOverlaps(p, address)),
    unknownHostUse: (device) => unknownHostUse(snapshot, device),
  };
}

function unknownHostUse(snapshot: HostSnapshot, device: PciDevice): string | null {
  if (snapshot.hostUseKnown) return null;
  // An older snapshot that only says "unknown" knows neither part.
  const unknown = snapshot.hostUseUnknown ?? { network: 'host use was not observed', storage: 'host use was not observed' };
  if (unknown.network !== undefined && (mayBeNetworkClass(device.class) || device.netInterfaces.length > 0)) {
    return `the host's network use is unknown: ${unknown.network}`;
  }
  if (unknown.storage !== undefined && mayBeStorageClass(device.class)) return `the host's storage use is unknown: ${unknown.storage}`;
  return null;
}

/** `0000:07:00.0 (Intel Corporation I350 Gigabit Network Connection, igb)` — how messages name a device. */
export function describeDevice(d: PciDevice): string {
  const name = d.productName ? `${d.vendorName ? `${d.vendorName} ` : ''}${d.productName}` : `${d.vendor}:${d.product}`;
  return `${d.address} (${name}, ${d.driver ? `driver ${d.driver}` : 'no driver'})`;
}
