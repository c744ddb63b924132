/**
 * Reads a libvirt node device XML (`virsh nodedev-dumpxml`, SPEC 7 `parseNodeDeviceXml`): how a remote host's PCI
 * functions are seen, where sysfs cannot be read. Only PCI devices matter; other capabilities (net, usb, storage,
 * the `computer` root) parse to null. Fields absent from older libvirt (`<class>` before 1.2.x, `<iommuGroup>` when
 * the IOMMU is off) come back as null rather than guessed.
 *
 * One odd device must not cost the whole host: a value passthru cannot read is reported on the device (`unreadable`
 * for what safety depends on — its address, its IOMMU group —, `warnings` for ids read as `ffff`) instead of thrown.
 * Only text that is not a node device XML at all (malformed, another root element, a DOCTYPE) throws.
 */
import { checkRange, formatPciAddress, type PciAddress } from '../model/pci-address.js';
import { isBridgeClass } from '../model/pci-class.js';
import { attr, child, children, parseRoot, readPciAddress, text, type XmlNode } from './domain-xml.js';
import { normalisePciId, UNKNOWN_ID } from '../model/pci-function.js';

/** One PCI function as libvirt describes it. Addresses are canonical (`0000:07:00.0`). */
export interface NodeDevice {
  /** libvirt's name, `pci_0000_07_00_0`. */
  name: string;
  /**
   * Canonical address, or null when libvirt printed one passthru cannot read (libvirt's own test data has a PCI
   * device with `<bus>4294967295</bus>`); `unreadable` says why. Such a device cannot be claimed or checked.
   */
  address: string | null;
  /** The parent node device (`pci_0000_00_1c_0`, `computer`), or null. */
  parent: string | null;
  /** Bound driver (`igb`, `vfio-pci`), or null when unbound. */
  driver: string | null;
  /** 4 lowercase hex digits, no `0x`: `8086`; `ffff` when absent or not a 4-digit id (see `warnings`). */
  vendor: string;
  /** 4 lowercase hex digits, no `0x`: `1521`; `ffff` like `vendor`. */
  product: string;
  /** 6 lowercase hex digits, or null when libvirt does not print `<class>` (before 1.2.x) or prints a bad one. */
  class: string | null;
  /** Names libvirt got from udev's hardware database (pci.ids); absent when it has none. */
  vendorName?: string;
  productName?: string;
  /** IOMMU group number, or null when libvirt shows none (IOMMU off). */
  iommuGroup: number | null;
  /** Every function of that group, this one included, in libvirt's order. */
  iommuGroupMembers: string[];
  /** SR-IOV: the PF of this VF, or null. */
  physFunction: string | null;
  /** SR-IOV: the VFs of this PF (enabled ones only; `maxCount` is not a count of VFs). */
  virtualFunctions: string[];
  /** SR-IOV: `<capability type='virt_functions' maxCount='N'>`, the PF's `sriov_totalvfs`; absent when not a PF. */
  maxVirtualFunctions?: number;
  /** A PCI-to-PCI / CardBus bridge or root port: by class code or libvirt's `pci-bridge`/`cardbus-bridge` cap. */
  isBridge: boolean;
  /**
   * Why something safety depends on could not be read: the address, the IOMMU group number or a member's address
   * (left out of `iommuGroupMembers`). Absent when everything could.
   */
  unreadable?: string;
  /** Oddities worked around without risk: an id read as `ffff`, an SR-IOV link left out. */
  warnings: string[];
}

/**
 * Parses `nodedev-dumpxml` output. Returns null for a device that is not a PCI function; throws a HostError only for
 * text that is not a node device XML (malformed, another root element, a DOCTYPE).
 */
export function parseNodeDeviceXml(xml: string): NodeDevice | null {
  const device = parseRoot(xml, 'device');
  const name = text(device.name)?.trim() ?? '';
  const pci = children(device, 'capability').find((c) => attr(c, 'type') === 'pci');
  if (pci === undefined) return null;
  const what = `node device ${name || '(unnamed)'}`;
  const unreadable: string[] = [];
  const warnings: string[] = [];

  const fields = ['domain', 'bus', 'slot', 'function'].map((f) => field(pci, f));
  const badField = fields.find((f) => typeof f === 'string');
  let address: string | null = null;
  if (badField !== undefined) {
    unreadable.push(badField as string);
  } else {
    const [domain, bus, slot, fn] = fields as number[];
    const parsed: PciAddress = { domain: domain as number, bus: bus as number, slot: slot as number, fn: fn as number };
    const range = checkRange(parsed);
    if (range === null) address = formatPciAddress(parsed);
    else unreadable.push(`its PCI address is out of range: ${range}`);
  }
  /** The canonical addresses of `<address .../>` children; one that cannot be read is reported to `report`. */
  const addresses = (node: XmlNode | undefined, report: string[], label: string) =>
    children(node, 'address').flatMap((a) => {
      try {
        return [formatPciAddress(readPciAddress(a, label))];
      } catch (err) {
        report.push((err as Error).message);
        return [];
      }
    });
  const caps = children(pci, 'capability');
  const cap = (type: string) => caps.find((c) => attr(c, 'type') === type);
  const id = (raw: string | undefined, width: number, label: string, fallback: string | null): string | null => {
    const value = raw?.trim() ?? '';
    const normal = value === '' ? null : normalisePciId(value, width);
    if (normal === null && (value !== '' || fallback !== null)) {
      warnings.push(`${label} ${JSON.stringify(value)} is not ${width} hex digits; using ${fallback ?? 'none'}`);
    }
    return normal ?? fallback;
  };

  const cls = id(text(pci.class), 6, 'class', null);
  const group = child(pci, 'iommuGroup');
  const groupNumber = attr(group, 'number')?.trim();
  let iommuGroup: number | null = null;
  if (groupNumber !== undefined) {
    if (/^\d+$/.test(groupNumber)) iommuGroup = Number.parseInt(groupNumber, 10);
    else unreadable.push(`its IOMMU group number "${groupNumber}" is not a decimal number`);
  }
  const vendorName = text(pci.vendor)?.trim();
  const productName = text(pci.product)?.trim();
  const iommuGroupMembers = addresses(group, unreadable, 'IOMMU group member');
  const physFunction = addresses(cap('phys_function'), warnings, 'phys_function')[0] ?? null;
  const virtualFunctions = addresses(cap('virt_functions'), warnings, 'virt_functions');
  const maxCount = attr(cap('virt_functions'), 'maxCount')?.trim();
  const maxVirtualFunctions = maxCount !== undefined && /^\d{1,9}$/.test(maxCount) ? Number(maxCount) : null;
  return {
    name,
    address,
    parent: text(device.parent)?.trim() || null,
    driver: text(child(device, 'driver')?.name)?.trim() || null,
    vendor: id(attr(child(pci, 'vendor'), 'id'), 4, 'vendor id', UNKNOWN_ID) as string,
    product: id(attr(child(pci, 'product'), 'id'), 4, 'product id', UNKNOWN_ID) as string,
    class: cls,
    ...(vendorName ? { vendorName } : {}),
    ...(productName ? { productName } : {}),
    iommuGroup,
    iommuGroupMembers,
    physFunction,
    virtualFunctions,
    ...(maxVirtualFunctions === null ? {} : { maxVirtualFunctions }),
    isBridge:
      (cls !== null && isBridgeClass(cls)) ||
      cap('pci-bridge') !== undefined ||
      cap('cardbus-bridge') !== undefined,
    ...(unreadable.length > 0 ? { unreadable: `${what}: ${unreadable.join('; ')}` } : {}),
    warnings: warnings.map((w) => `${what}: ${w}`),
  };
}

/**
 * An address field (`<bus>7</bus>`): decimal, as libvirt both prints and reads these (unlike the attributes). The
 * reason as a string when it is not one.
 */
function field(pci: XmlNode, name: string): number | string {
  const value = text(pci[name])?.trim() ?? '';
  if (!/^\d{1,10}$/.test(value)) return `PCI capability <${name}> is "${value}", not a decimal number`;
  return Number.parseInt(value, 10);
}

/**
 * The interface name and parent node device of a `net` node device (`virsh nodedev-dumpxml net_eth0_…`), or null
 * for anything else: how a remote host's interface names are tied to their PCI functions.
 */
export function parseNetNodeDevice(xml: string): { interface: string; parent: string } | null {
  const device = parseRoot(xml, 'device');
  const cap = children(device, 'capability').find((c) => attr(c, 'type') === 'net');
  const name = text(cap?.interface)?.trim();
  const parent = text(device.parent)?.trim();
  return name && parent ? { interface: name, parent } : null;
}
