/**
 * PCI addresses as libvirt and the kernel spell them. All spellings users write (`0000:07:00.0`, `07:00.0`,
 * `pci_0000_07_00_0`, `0x07`-style fields in XML) are parsed to numbers so that they compare numerically; the
 * canonical text form is the kernel's `dddd:bb:ss.f`.
 */

/** A PCI function address. `fn` is null for a whole slot (all functions of that slot). */
export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  fn: number | null;
}

const LIMITS = { domain: 0xffff, bus: 0xff, slot: 0x1f, fn: 7 } as const;

/** The parsed address, or why the string was rejected. */
export type AddressParseResult = { ok: true; address: PciAddress } | { ok: false; reason: string };

// Fields are hexadecimal as lspci prints them; a `0x` prefix is tolerated (`0x07` == `07` == `7`).
const hex = (s: string) => /^(0[xX])?[0-9a-fA-F]+$/.test(s);
const hexValue = (s: string) => parseInt(s.replace(/^0[xX]/, ''), 16);

/**
 * Parses the spellings a user may write in passthrough.yaml: `DDDD:BB:SS.F`, `BB:SS.F`, `DDDD:BB:SS` /
 * `BB:SS` (whole slot) and libvirt's node-device name `pci_DDDD_BB_SS_F`. Fields are hexadecimal, as lspci prints.
 */
export function parsePciAddress(text: string): AddressParseResult {
  const s = text.trim();
  let domain = '0';
  let bus: string;
  let slot: string;
  let fn: string | undefined;
  const nodedev = /^pci_([0-9a-fA-F]{1,4})_([0-9a-fA-F]{1,2})_([0-9a-fA-F]{1,2})_([0-7])$/.exec(s);
  if (nodedev) {
    [, domain, bus, slot, fn] = nodedev as unknown as [string, string, string, string, string];
  } else {
    const m = /^(?:([^:.]+):)?([^:.]+):([^:.]+)(?:\.([^:.]+))?$/.exec(s);
    if (!m) {
      return { ok: false, reason: `"${text}" is not a PCI address; write it as lspci -D does, e.g. "0000:07:00.0"` };
    }
    domain = m[1] ?? '0';
    bus = m[2] as string;
    slot = m[3] as string;
    fn = m[4];
  }
  for (const [field, value] of [['domain', domain], ['bus', bus], ['slot', slot], ['function', fn]] as const) {
    if (value !== undefined && !hex(value)) {
      return { ok: false, reason: `"${text}": ${field} "${value}" is not hexadecimal` };
    }
  }
  const address: PciAddress = {
    domain: hexValue(domain),
    bus: hexValue(bus),
    slot: hexValue(slot),
    fn: fn === undefined ? null : hexValue(fn),
  };
  const range = checkRange(address);
  return range ? { ok: false, reason: `"${text}": ${range}` } : { ok: true, address };
}

/** Returns a description of the first field out of range, or null. */
export function checkRange(a: PciAddress): string | null {
  if (a.domain > LIMITS.domain) return `domain 0x${a.domain.toString(16)} is above 0xffff`;
  if (a.bus > LIMITS.bus) return `bus 0x${a.bus.toString(16)} is above 0xff`;
  if (a.slot > LIMITS.slot) return `slot 0x${a.slot.toString(16)} is above 0x1f`;
  if (a.fn !== null && a.fn > LIMITS.fn) return `function ${a.fn} is above 7`;
  return null;
}

/**
 * Parses one integer attribute of libvirt XML the way libvirt does (virStrToLong_ui with base 0):
 * `0x` prefix = hexadecimal, a leading `0` = octal, otherwise decimal. Returns null for anything else.
 */
export function parseLibvirtInt(text: string | number | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : null;
  const s = text.trim();
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return parseInt(s, 8);
  if (/^[1-9][0-9]*$/.test(s)) return parseInt(s, 10);
  return null;
}

const h = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Canonical kernel form `0000:07:00.0` (or `0000:07:00` for a whole slot). */
export function formatPciAddress(a: PciAddress): string {
  const base = `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}`;
  return a.fn === null ? base : `${base}.${h(a.fn, 1)}`;
}

/** libvirt's node-device name for a function: `pci_0000_07_00_0`. */
export function nodedevName(a: PciAddress): string {
  return `pci_${h(a.domain, 4)}_${h(a.bus, 2)}_${h(a.slot, 2)}_${h(a.fn ?? 0, 1)}`;
}

/** Parses a canonical (or any accepted) address known to name one function; throws on malformed input. */
export function pciFunction(text: string): PciAddress {
  const r = parsePciAddress(text);
  if (!r.ok || r.address.fn === null) throw new Error(`not a PCI function address: ${text}`);
  return r.address;
}

/** Canonical text of any accepted spelling, e.g. `canonicalAddress('7:0.0') === '0000:07:00.0'`. */
export function canonicalAddress(text: string): string {
  return formatPciAddress(pciFunction(text));
}

/** Numeric order: domain, bus, slot, function. */
export function comparePciAddress(a: PciAddress, b: PciAddress): number {
  return a.domain - b.domain || a.bus - b.bus || a.slot - b.slot || (a.fn ?? -1) - (b.fn ?? -1);
}

/** Orders canonical address strings numerically (their fixed-width form makes this a string compare). */
export function compareAddressText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `fnAddress` is `pattern` itself or, for a whole-slot pattern, one of its functions. */
export function addressMatches(pattern: PciAddress, fnAddress: PciAddress): boolean {
  return (
    pattern.domain === fnAddress.domain &&
    pattern.bus === fnAddress.bus &&
    pattern.slot === fnAddress.slot &&
    (pattern.fn === null || pattern.fn === fnAddress.fn)
  );
}

/** The slot part (`0000:07:00`) of a canonical function or slot address. */
export function slotOf(canonical: string): string {
  return canonical.slice(0, 10);
}

/**
 * Whether two canonical addresses (function or whole slot) name a common function. A string comparison: the
 * canonical form is fixed-width, so this needs no parsing (the planner and the loader call it for every pair).
 */
export function canonicalOverlaps(a: string, b: string): boolean {
  return slotOf(a) === slotOf(b) && (a.length === 10 || b.length === 10 || a === b);
}
