/**
 * What both device sources (sysfs, libvirt node devices) do alike when building a {@link PciDevice}: normalise the
 * ids they read, and stand in for a function that is known to exist — it is listed in an IOMMU group — but cannot
 * be read. Such a function is never left out: an absent group member would make its group look viable.
 */
import { UNKNOWN_CLASS } from './pci-class.js';
import type { PciDevice } from './snapshot.js';

/** Vendor/product when the identity cannot be read: what config space reads as for no device. */
export const UNKNOWN_ID = 'ffff';

/**
 * An id as sysfs or libvirt prints it (`0x8086\n`, `0x00008086`, `8086`) in exactly `width` lowercase hex digits:
 * surplus leading zeros dropped, short ones padded. Null when it is not a hex number or needs more digits.
 */
export function normalisePciId(text: string, width: number): string | null {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)\s*$/.exec(text);
  if (!m) return null;
  const digits = (m[1] as string).toLowerCase().replace(/^0+/, '');
  return digits.length > width ? null : digits.padStart(width, '0');
}

/**
 * A function that is a member of IOMMU group `group` but whose identity and driver cannot be read, and `why`. It
 * has no identity (ffff), no driver it can be trusted to be free of, and is no bridge: it blocks its group.
 */
export function unreadableFunction(address: string, group: number | null, why: string): PciDevice {
  return {
    address,
    vendor: UNKNOWN_ID,
    product: UNKNOWN_ID,
    class: UNKNOWN_CLASS,
    driver: null,
    driverOverride: null,
    iommuGroup: group,
    isBridge: false,
    physFunction: null,
    virtualFunctions: [],
    netInterfaces: [],
    hostUse: [],
    unreadable: why,
  };
}

/** Adds a reason to a device's `unreadable` (in place). */
export function markUnreadable(d: PciDevice, why: string): void {
  d.unreadable = d.unreadable === undefined ? why : `${d.unreadable}; ${why}`;
}
