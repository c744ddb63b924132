/**
 * Vendor and product names from the host's pci.ids (the database lspci uses), so that a plan says "Intel I350
 * Gigabit Network Connection" and not just 8086:1521. Names are decoration: an absent or unreadable file means no
 * names, never an error.
 *
 * The file is ~1.3 MB with ~40 000 product lines, and a host has a few dozen devices: one regex pass indexes the
 * vendor lines, and a vendor's product block is parsed only when one of its devices is asked for.
 */
import { gunzipSync } from 'node:zlib';
import type { PciDevice } from '../model/snapshot.js';
import { hostFsOf, type HostTree } from './sysfs.js';

/** Where distributions install pci.ids (pciutils: misc; hwdata: hwdata), relative to the host's root. */
const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids', '/usr/share/misc/pci.ids.gz'];

/** Name lookups over one pci.ids text. IDs are 4 hex digits, any case. */
export interface PciIds {
  vendorName(vendor: string): string | undefined;
  productName(vendor: string, product: string): string | undefined;
}

interface VendorBlock {
  name: string;
  /** Offsets of the vendor's product lines in the text: [start, end). */
  start: number;
  end: number;
  products?: Map<string, string>;
}

/** Indexes a pci.ids text (vendor lines only; products on demand). */
export function parsePciIds(text: string): PciIds {
  const vendors = new Map<string, VendorBlock>();
  // The vendor list ends where the device-class list (`C 02  Network controller`) begins.
  const classes = text.search(/^C [0-9a-f]{2}\s/m);
  const limit = classes < 0 ? text.length : classes;
  let previous: VendorBlock | null = null;
  for (const m of text.slice(0, limit).matchAll(/^([0-9a-fA-F]{4}) {2}(.*)$/gm)) {
    if (previous) previous.end = m.index;
    previous = { name: (m[2] as string).trim(), start: m.index + m[0].length, end: limit };
    vendors.set((m[1] as string).toLowerCase(), previous);
  }

  const products = (block: VendorBlock): Map<string, string> => {
    if (!block.products) {
      block.products = new Map();
      for (const m of text.slice(block.start, block.end).matchAll(/^\t([0-9a-fA-F]{4}) {2}(.*)$/gm)) {
        block.products.set((m[1] as string).toLowerCase(), (m[2] as string).trim());
      }
    }
    return block.products;
  };

  return {
    vendorName: (vendor) => vendors.get(vendor.toLowerCase())?.name,
    productName: (vendor, product) => {
      const block = vendors.get(vendor.toLowerCase());
      return block === undefined ? undefined : products(block).get(product.toLowerCase());
    },
  };
}

/** The most pci.ids may hold, compressed or not: today's is ~1.4 MB. */
const MAX_PCI_IDS_BYTES = 16 * 1024 * 1024;

const cache = new Map<string, PciIds | null>();

/**
 * The pci.ids database of the host at `tree` (the first of {@link PCI_IDS_PATHS} that exists, `.gz` accepted), or
 * null when it has none. Loaded once per root and process.
 */
export function loadPciIds(tree: HostTree): PciIds | null {
  const fs = hostFsOf(tree);
  const cached = cache.get(fs.root);
  if (cached !== undefined) return cached;
  let ids: PciIds | null = null;
  for (const p of PCI_IDS_PATHS) {
    try {
      const raw = fs.readBytes(p, { maxBytes: MAX_PCI_IDS_BYTES });
      ids = parsePciIds((p.endsWith('.gz') ? gunzipSync(raw, { maxOutputLength: MAX_PCI_IDS_BYTES }) : raw).toString('utf8'));
      break;
    } catch {
      // absent, unreadable, not a regular file or too big: try the next place; names are optional
    }
  }
  cache.set(fs.root, ids);
  return ids;
}

/** Sets `vendorName`/`productName` on each device the database knows (in place), and returns the devices. */
export function nameDevices<T extends PciDevice>(devices: T[], ids: PciIds | null): T[] {
  if (ids === null) return devices;
  for (const d of devices) {
    const vendorName = ids.vendorName(d.vendor);
    const productName = ids.productName(d.vendor, d.product);
    if (vendorName !== undefined) d.vendorName = vendorName;
    if (productName !== undefined) d.productName = productName;
  }
  return devices;
}
