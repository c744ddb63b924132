/**
 * PCI class codes that both device sources (sysfs, libvirt node devices) must read the same way, or a snapshot
 * would mean different things depending on where it came from.
 */

/**
 * Header-type-1/2 functions by class code: PCI-to-PCI bridge (0604), CardBus bridge (0607) and semi-transparent
 * PCI-to-PCI bridge (0609). That is what vfio exempts from group viability (it tests the header type, not the
 * class): a host bridge (0600) has a normal header, so it is deliberately NOT a bridge here — it counts as an
 * endpoint in its group, as it does for vfio.
 */
const BRIDGE_CLASSES = new Set(['0604', '0607', '0609']);

/** Whether a 6-hex-digit class code (`060400`) is a bridge in vfio's sense. */
export function isBridgeClass(cls: string): boolean {
  return BRIDGE_CLASSES.has(cls.slice(0, 4));
}

/** Class of a device whose identity could not be read: all ones, as config space reads for no device. */
export const UNKNOWN_CLASS = 'ffffff';

/**
 * Whether a function of class `cls` may be what the host's network hangs on: a network controller (02xxxx), or a
 * function whose class is unknown. (A function with network interfaces counts too; see the planner's host view.)
 */
export function mayBeNetworkClass(cls: string): boolean {
  return cls.startsWith('02') || cls === UNKNOWN_CLASS;
}

/**
 * Whether a function of class `cls` may be what the host's disks hang on: a mass storage controller (01xxxx), a
 * Fibre Channel HBA (0c04: SAN boot), or a function whose class is unknown.
 */
export function mayBeStorageClass(cls: string): boolean {
  return cls.startsWith('01') || cls.startsWith('0c04') || cls === UNKNOWN_CLASS;
}
