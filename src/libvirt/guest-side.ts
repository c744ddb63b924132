/**
 * The guest side of a passed-through device, read from its element in the running domain's XML: QEMU's device id
 * (`<alias name='hostdev0'/>`, which `query-pci` reports as `qdev_id`) and the guest PCI address libvirt gave it
 * (the `<address type='pci'>` child of the element itself, not the one in `<source>`). Used by `verify` (SPEC 13).
 */
import { formatPciAddress } from '../model/pci-address.js';
import { attr, child, parseRoot, readPciAddress } from './domain-xml.js';

/** What the live XML says of a device's place in the guest; null where it does not say. */
export interface GuestSide {
  alias: string | null;
  guestAddress: string | null;
}

/** Reads `xml` (a `<hostdev>` or `<interface type='hostdev'>` element as libvirt printed it). */
export function guestSide(xml: string): GuestSide {
  const root = xml.trimStart().startsWith('<interface') ? 'interface' : 'hostdev';
  const element = parseRoot(xml, root);
  const alias = attr(child(element, 'alias'), 'name') ?? null;
  const address = child(element, 'address');
  const guestAddress = address !== undefined && attr(address, 'type') === 'pci' ? formatPciAddress(readPciAddress(address, `${root} guest address`)) : null;
  return { alias, guestAddress };
}
