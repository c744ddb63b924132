/**
 * Reads what passthru owns out of a libvirt domain XML (SPEC 7 `parseDomainXml`): the PCI passthrough devices —
 * `<hostdev mode='subsystem' type='pci'>` and SR-IOV `<interface type='hostdev'>` — and the other guest NICs, which
 * `removeInterfaces` may remove and a rollback must re-add exactly as they were.
 *
 * Values are read the way libvirt reads them, not the way it prints them: an address attribute may be written
 * `0x07`, `07` (octal!) or `7`, and a `managed` attribute that is absent means "no". Everything else in the domain
 * is ignored, so anything libvirt adds in later versions is harmless.
 *
 * The text comes from the host, so it is not trusted: a `<!DOCTYPE>` is refused outright (libvirt never prints one,
 * and its internal entities could hide a `<driver>` or conjure a `<hostdev>` out of what looks like plain text).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { HostError } from '../errors.js';
import { checkRange, formatPciAddress, parseLibvirtInt, type PciAddress } from '../model/pci-address.js';
import type { DomainHostdev, DomainInterface, ParsedDomain } from '../model/snapshot.js';
import { readVfInterfaceSettings } from './interface-hostdev-xml.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '@',
  // Keep every value a string (a domain named `007` is not the number 7) and names exactly as written.
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  // Numeric character references (`&#39;`) besides the five XML entities.
  htmlEntities: true,
});

/**
 * A parsed element (shared with the node device parser): attributes under `@`, children by name, repeated
 * children as arrays (read them with {@link children}); an element holding only text is a plain string.
 */
export type XmlNode = { '@'?: Record<string, string> } & { [child: string]: unknown };

const asNode = (v: unknown): XmlNode | undefined => (typeof v === 'object' && v !== null ? (v as XmlNode) : undefined);

/** The attribute `name` of an element, or undefined. */
export const attr = (node: XmlNode | undefined, name: string): string | undefined => node?.['@']?.[name];

/** The (first) child element `name`, or undefined. */
export const child = (node: XmlNode | undefined, name: string): XmlNode | undefined => {
  const v = node?.[name];
  return asNode(Array.isArray(v) ? v[0] : v);
};

/** Every child element `name`, whether the parser made it one object or an array. */
export const children = (node: XmlNode | undefined, name: string): XmlNode[] => {
  const v = node?.[name];
  const list: unknown[] = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.flatMap((e): XmlNode[] => {
    const n = asNode(e);
    return n === undefined ? [] : [n];
  });
};

/** The text of an element (`<name>x</name>`, or one with attributes too), or undefined. */
export const text = (v: unknown): string | undefined => {
  if (typeof v === 'string') return v;
  const t = asNode(v)?.['#text'];
  return typeof t === 'string' ? t : undefined;
};

/**
 * Parses a domain XML (`virsh dumpxml`, with or without `--inactive`). Returns its name, uuid (empty when the XML
 * has none: libvirt generates one at define time), its PCI hostdevs (USB, SCSI and mdev hostdevs are not passthru's)
 * and its other interfaces. Also takes a bare `<hostdev>` or `<interface>` element — what `attach-device` takes —
 * and returns it as a nameless domain (`name` and `uuid` empty) holding just that device. Throws a HostError when
 * the text is not well-formed XML, has a DOCTYPE, is none of those elements, or holds a PCI address libvirt would
 * not accept.
 */
export function parseDomainXml(xml: string): ParsedDomain {
  const { name: rootName, node: root } = parseAnyRoot(xml, ['domain', 'hostdev', 'interface']);
  if (rootName !== 'domain') {
    return { name: '', uuid: '', ...readDevices(xml, { [rootName]: root }, [], `<${rootName}> element`) };
  }
  const name = text(root.name);
  if (name === undefined || name === '') throw new HostError('domain XML has no <name>');
  const uuid = (text(root.uuid) ?? '').trim();
  return { name, uuid, ...readDevices(xml, child(root, 'devices'), ['domain', 'devices'], `domain "${name}"`) };
}

/**
 * The PCI hostdevs and other interfaces among the children of `devices`, the element at `path` in the document
 * (`[]`: the device is the document's root). The path is needed to cut each `<interface>` out of the text.
 */
function readDevices(
  xml: string,
  devices: XmlNode | undefined,
  path: string[],
  what: string,
): Pick<ParsedDomain, 'hostdevs' | 'interfaces'> {
  const hostdevs: DomainHostdev[] = [];
  const hostdevTexts = elementTexts(xml, devices, path, 'hostdev', what);
  children(devices, 'hostdev').forEach((hostdev, i) => {
    if (attr(hostdev, 'mode') !== 'subsystem' || attr(hostdev, 'type') !== 'pci') return;
    hostdevs.push({
      address: sourceAddress(hostdev, `${what}: <hostdev>`),
      managed: attr(hostdev, 'managed') === 'yes',
      driver: attr(child(hostdev, 'driver'), 'name') ?? null,
      source: 'hostdev',
      xml: hostdevTexts[i] as string,
    });
  });

  const interfaces: DomainInterface[] = [];
  const interfaceTexts = elementTexts(xml, devices, path, 'interface', what);
  children(devices, 'interface').forEach((iface, i) => {
    const type = attr(iface, 'type') ?? '';
    const mac = attr(child(iface, 'mac'), 'address') ?? null;
    const text = interfaceTexts[i] as string;
    if (type === 'hostdev') {
      hostdevs.push({
        address: sourceAddress(iface, `${what}: <interface type='hostdev'>`),
        managed: attr(iface, 'managed') === 'yes',
        driver: attr(child(iface, 'driver'), 'name') ?? null,
        source: 'interface',
        ...(mac === null ? {} : { mac }),
        ...readVfInterfaceSettings(
          children(child(iface, 'vlan'), 'tag').map((tag) => attr(tag, 'id')),
          attr(iface, 'trustGuestRxFilters'),
          `${what}: <interface type='hostdev'>`,
        ),
        xml: text,
      });
      return;
    }
    const source = child(iface, 'source');
    interfaces.push({
      type,
      source: attr(source, 'bridge') ?? attr(source, 'network') ?? attr(source, 'dev') ?? null,
      mac,
      model: attr(child(iface, 'model'), 'type') ?? null,
      xml: text,
    });
  });
  return { hostdevs, interfaces };
}

/** The text of every `<name>` child of `devices` (at `path`) exactly as printed, in the order the parser lists them. */
function elementTexts(xml: string, devices: XmlNode | undefined, path: string[], name: string, what: string): string[] {
  const parsed = children(devices, name).length;
  const ranges = elementRanges(xml, [...path, name]);
  if (ranges.length !== parsed) throw new HostError(`${what}: found ${ranges.length} <${name}> elements in the text but parsed ${parsed}`);
  return ranges.map(([start, end]) => xml.slice(start, end));
}

/**
 * Parses a whole document and returns its root element, which must be `<rootName>`. Shared with the node device
 * parser. fast-xml-parser accepts broken input silently, so the text is validated first.
 */
export function parseRoot(xml: string, rootName: string): XmlNode {
  return parseAnyRoot(xml, [rootName]).node;
}

/** A declaration, or what may hide one's text without being one: a comment or a CDATA section. */
const DECLARATION_OR_QUOTE = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<!DOCTYPE/gi;

/** Parses a whole document whose root element is one of `rootNames`; returns which, and the element. */
function parseAnyRoot(xml: string, rootNames: readonly string[]): { name: string; node: XmlNode } {
  const kind = rootNames[0] as string;
  // Refused before fast-xml-parser sees it: its DOCTYPE reader would register the entities and expand them.
  if (/<!DOCTYPE/i.test(xml) && [...xml.matchAll(DECLARATION_OR_QUOTE)].some((m) => m[0].toUpperCase() === '<!DOCTYPE')) {
    throw new HostError(`${kind} XML has a <!DOCTYPE>, which libvirt never prints: refused rather than expanding its entities`);
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new HostError(`malformed ${kind} XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  }
  const doc = asNode(parser.parse(xml)) ?? {};
  const name = rootNames.find((n) => doc[n] !== undefined);
  if (name === undefined) {
    const found = Object.keys(doc).find((k) => !k.startsWith('?') && k !== '#text');
    throw new HostError(`not a libvirt ${kind} XML: the root element is <${found ?? 'none'}>`);
  }
  return { name, node: asNode(doc[name]) ?? {} };
}

/** The canonical host address of a hostdev's `<source><address .../></source>`. */
function sourceAddress(element: XmlNode | undefined, what: string): string {
  const address = child(child(element, 'source'), 'address');
  if (address === undefined) throw new HostError(`${what} has no <source><address/>`);
  return formatPciAddress(readPciAddress(address, what));
}

/**
 * A PCI `<address domain= bus= slot= function=/>` as libvirt reads it: each attribute with base-0 integer parsing
 * (`0x` hex, leading `0` octal, else decimal) and 0 when absent, then range-checked.
 */
export function readPciAddress(address: XmlNode, what: string): PciAddress {
  const field = (name: string): number => {
    const raw = attr(address, name);
    if (raw === undefined) return 0;
    const value = parseLibvirtInt(raw);
    if (value === null) throw new HostError(`${what}: address ${name}='${raw}' is not an integer`);
    return value;
  };
  const result: PciAddress = { domain: field('domain'), bus: field('bus'), slot: field('slot'), fn: field('function') };
  const range = checkRange(result);
  if (range !== null) throw new HostError(`${what}: ${range}`);
  return result;
}

/**
 * Start and end offsets of every element at `path` (root first), in document order. fast-xml-parser keeps no
 * positions, and an `<interface>` or `<hostdev>` must be handed back exactly as libvirt printed it — a re-serialised copy would
 * differ in quoting and attribute order — so this walks the tags itself. Comments, CDATA, processing instructions
 * and quoted attribute values (which may hold `>`) are skipped; the text was validated before.
 */
function elementRanges(xml: string, path: string[]): [number, number][] {
  const ranges: [number, number][] = [];
  const stack: string[] = [];
  let open: number | null = null;
  let i = xml.indexOf('<');
  const skipTo = (from: number, terminator: string) => {
    const at = xml.indexOf(terminator, from);
    return at < 0 ? xml.length : at + terminator.length;
  };
  while (i >= 0 && i < xml.length) {
    let next: number;
    if (xml.startsWith('<!--', i)) next = skipTo(i + 4, '-->');
    else if (xml.startsWith('<![CDATA[', i)) next = skipTo(i + 9, ']]>');
    else if (xml.startsWith('<?', i)) next = skipTo(i + 2, '?>');
    else if (xml.startsWith('<!', i)) next = skipTo(i + 2, '>');
    else {
      next = tagEnd(xml, i);
      const closing = xml[i + 1] === '/';
      const selfClosing = xml[next - 2] === '/';
      const name = /^[^\s/>]+/.exec(xml.slice(closing ? i + 2 : i + 1, next))?.[0] ?? '';
      if (closing) {
        stack.pop();
        if (open !== null && stack.length === path.length - 1) {
          ranges.push([open, next]);
          open = null;
        }
      } else {
        const atPath = stack.length === path.length - 1 && name === path[path.length - 1] && stack.every((s, k) => s === path[k]);
        if (selfClosing) {
          if (atPath) ranges.push([i, next]);
        } else {
          if (atPath) open = i;
          stack.push(name);
        }
      }
    }
    i = xml.indexOf('<', next);
  }
  return ranges;
}

/** Offset just past the `>` that ends the tag starting at `start`, skipping quoted attribute values. */
function tagEnd(xml: string, start: number): number {
  let quote: string | null = null;
  for (let i = start + 1; i < xml.length; i++) {
    const c = xml[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i + 1;
  }
  return xml.length;
}
