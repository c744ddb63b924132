/**
 * Reads a libvirt node device XML (`virsh nodedev-dumpxml`, SPEC 7 `parseNodeDeviceXml`): how a remote host's PCI
 * functions are seen, where sysfs cannot be read. Only PCI devices matter; other capabilities (net, usb, storage,
 * the `computer` root) parse to null. Fields absent from older libvirt (`<class>` before 1.2.x, `<iommuGroup>` when
 * the IOMMU is off) come back as null rather than guessed.
 */
import { HostError } from '../errors.js';
import { checkRange, formatPciAddress, type PciAddress } from '../model/pci-address.js';
import { isBridgeClass } from '../model/pci-class.js';
import { attr, child, children, parseRoot, readPciAddress, text, type XmlNode } from './domain-xml.js';


/** One PCI function as libvirt describes it. Addresses are canonical (`0000:07:00.0`). */
export interface NodeDevice {
  /** libvirt's name, `pci_0000_07_00_0`. */
  name: string;
  address: string;
  /** The parent node device (`pci_0000_00_1c_0`, `computer`), or null. */
  parent: string | null;
  /** Bound driver (`igb`, `vfio-pci`), or null when unbound. */
  driver: string | null;
  /** 4 lowercase hex digits, no `0x`: `8086`. */
  vendor: string;
  /** 4 lowercase hex digits, no `0x`: `1521`. */
  product: string;
  /** 6 lowercase hex digits, or null when libvirt does not print `<class>` (before 1.2.x). */
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
  /** A PCI-to-PCI / CardBus bridge or root port: by class code or libvirt's `pci-bridge`/`cardbus-bridge` cap. */
  isBridge: boolean;
}

/**
 * Parses `nodedev-dumpxml` output. Returns null for a device that is not a PCI function; throws a HostError for
 * text that is not a node device XML or a PCI device without a readable address or vendor/product.
 */
export function parseNodeDeviceXml(xml: string): NodeDevice | null {
  const device = parseRoot(xml, 'device');
  const name = text(device.name)?.trim() ?? '';
  const pci = children(device, 'capability').find((c) => attr(c, 'type') === 'pci');
  if (pci === undefined) return null;
  const what = `node device ${name || '(unnamed)'}`;

  const address: PciAddress = {
    domain: field(pci, 'domain', what),
    bus: field(pci, 'bus', what),
    slot: field(pci, 'slot', what),
    fn: field(pci, 'function', what),
  };
  const range = checkRange(address);
  if (range !== null) throw new HostError(`${what}: ${range}`);
  const caps = children(pci, 'capability');
  const cap = (type: string) => caps.find((c) => attr(c, 'type') === type);
  const addresses = (node: XmlNode | undefined) =>
    children(node, 'address').map((a) => formatPciAddress(readPciAddress(a, what)));

  const cls = hexId(text(pci.class), 6, what, 'class', true);
  const group = child(pci, 'iommuGroup');
  const groupNumber = attr(group, 'number');
  const physFunction = addresses(cap('phys_function'))[0] ?? null;
  const vendorNode = child(pci, 'vendor');
  const productNode = child(pci, 'product');
  const vendorName = text(pci.vendor)?.trim();
  const productName = text(pci.product)?.trim();
  return {
    name,
    address: formatPciAddress(address),
    parent: text(device.parent)?.trim() || null,
    driver: text(child(device, 'driver')?.name)?.trim() || null,
    vendor: hexId(attr(vendorNode, 'id'), 4, what, 'vendor id') as string,
    product: hexId(attr(productNode, 'id'), 4, what, 'product id') as string,
    class: cls,
    ...(vendorName ? { vendorName } : {}),
    ...(productName ? { productName } : {}),
    iommuGroup: groupNumber === undefined ? null : groupId(groupNumber, what),
    iommuGroupMembers: addresses(group),
    physFunction,
    virtualFunctions: addresses(cap('virt_functions')),
    isBridge:
      (cls !== null && isBridgeClass(cls)) ||
      cap('pci-bridge') !== undefined ||
      cap('cardbus-bridge') !== undefined,
  };
}

/** An address field (`<bus>7</bus>`): decimal, as libvirt both prints and reads these (unlike the attributes). */
function field(pci: XmlNode, name: string, what: string): number {
  const value = text(pci[name])?.trim() ?? '';
  if (!/^\d+$/.test(value)) throw new HostError(`${what}: PCI capability <${name}> is "${value}", not a decimal number`);
  return Number.parseInt(value, 10);
}

/** `0x8086` → `8086`: lowercase, zero-padded to `width` hex digits; null when absent and `optional`. */
function hexId(raw: string | undefined, width: number, what: string, label: string, optional = false): string | null {
  const value = raw?.trim();
  if (value === undefined || value === '') {
    if (optional) return null;
    throw new HostError(`${what}: no ${label}`);
  }
  const m = /^(?:0[xX])?([0-9a-fA-F]+)$/.exec(value);
  if (!m || (m[1] as string).length > width) throw new HostError(`${what}: ${label} "${value}" is not ${width} hex digits`);
  return (m[1] as string).toLowerCase().padStart(width, '0');
}

/** `<iommuGroup number='17'>`: a decimal group number. */
function groupId(raw: string, what: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new HostError(`${what}: IOMMU group number "${raw}" is not a decimal number`);
  return Number.parseInt(raw, 10);
}
