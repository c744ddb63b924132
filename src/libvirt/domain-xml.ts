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
  checkDocument(xml, 'domain');
  const ranges = elementRanges(xml, DOMAIN_PATHS);
  const { name: rootName, node: root } = domainRoot(xml, ranges);
  if (rootName !== 'domain') {
    return { name: '', uuid: '', ...readDevices(xml, { [rootName]: root }, devicesIn(ranges, ''), `<${rootName}> element`) };
  }
  const name = text(root.name);
  if (name === undefined || name === '') throw new HostError('domain XML has no <name>');
  const uuid = (text(root.uuid) ?? '').trim();
  return { name, uuid, ...readDevices(xml, child(root, 'devices'), devicesIn(ranges, 'domain/devices/'), `domain "${name}"`) };
}

/** What parseDomainXml reads, by path from the root: a domain's name, uuid and devices, or a bare device. */
const DOMAIN_PATHS = [
  'domain',
  'domain/name',
  'domain/uuid',
  'domain/devices',
  'domain/devices/hostdev',
  'domain/devices/interface',
  'hostdev',
  'interface',
];

/**
 * The root element of a checked document. A domain is parsed from what passthru reads of it — its `<name>`,
 * `<uuid>` and the `<hostdev>` and `<interface>` elements of its `<devices>`, cut out of the text as printed — and
 * not from the whole text: the rest (disks, controllers, CPU, memory) is most of a domain and is never read. Any
 * other document (a bare device, a domain with several `<devices>`, not a domain) is parsed whole.
 */
function domainRoot(xml: string, ranges: Ranges): { name: string; node: XmlNode } {
  const at = (path: string) => ranges.get(path) ?? [];
  if (at('domain').length !== 1 || at('domain/devices').length > 1) return parseChecked(xml, ['domain', 'hostdev', 'interface']);
  const cut = (path: string) => at(path).map(([start, end]) => xml.slice(start, end)).join('');
  const devices = at('domain/devices').length === 0 ? '' : `<devices>${cut('domain/devices/hostdev')}${cut('domain/devices/interface')}</devices>`;
  return parseChecked(`<domain>${cut('domain/name')}${cut('domain/uuid')}${devices}</domain>`, ['domain']);
}

/** The ranges of the `<hostdev>` and `<interface>` elements under `prefix` (`domain/devices/`, or `` for a root). */
function devicesIn(ranges: Ranges, prefix: string): DeviceRanges {
  return { hostdev: ranges.get(`${prefix}hostdev`) ?? [], interface: ranges.get(`${prefix}interface`) ?? [] };
}

/**
 * The PCI hostdevs and other interfaces among the children of `devices`; `ranges` says where in the text each
 * `<hostdev>` and `<interface>` of it is, to cut them out as printed.
 */
function readDevices(
  xml: string,
  devices: XmlNode | undefined,
  ranges: DeviceRanges,
  what: string,
): Pick<ParsedDomain, 'hostdevs' | 'interfaces'> {
  const hostdevs: DomainHostdev[] = [];
  const texts = elementTexts(xml, devices, ranges, what);
  const hostdevTexts = texts.hostdev;
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
  const interfaceTexts = texts.interface;
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

/** Start and end offsets of elements in a text, by their path from the root (`domain/devices/hostdev`). */
type Ranges = Map<string, [number, number][]>;

/** Where each `<hostdev>` and `<interface>` of a `<devices>` (or a bare device) is in the text, in document order. */
type DeviceRanges = Record<'hostdev' | 'interface', [number, number][]>;

/**
 * The text of every `<hostdev>` and `<interface>` child of `devices` exactly as printed, in the order the parser
 * lists them; the parser and the walk of the text must have found as many of each.
 */
function elementTexts(xml: string, devices: XmlNode | undefined, ranges: DeviceRanges, what: string): Record<keyof DeviceRanges, string[]> {
  const cut = (name: keyof DeviceRanges) => {
    const parsed = children(devices, name).length;
    const found = ranges[name];
    if (found.length !== parsed) throw new HostError(`${what}: found ${found.length} <${name}> elements in the text but parsed ${parsed}`);
    return found.map(([start, end]) => xml.slice(start, end));
  };
  return { hostdev: cut('hostdev'), interface: cut('interface') };
}

/**
 * Parses a whole document and returns its root element, which must be `<rootName>`. Shared with the node device
 * parser. fast-xml-parser accepts broken input silently, so the text is validated first.
 */
export function parseRoot(xml: string, rootName: string): XmlNode {
  checkDocument(xml, rootName);
  return parseChecked(xml, [rootName]).node;
}

/** A declaration, or what may hide one's text without being one: a comment or a CDATA section. */
const DECLARATION_OR_QUOTE = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<!DOCTYPE/gi;

/**
 * Refuses a text that is not well-formed XML or has a DOCTYPE. Everything else here reads only checked text:
 * fast-xml-parser accepts broken input silently, and the walk of the tags assumes it well-formed.
 */
function checkDocument(xml: string, kind: string): void {
  // Refused before fast-xml-parser sees it: its DOCTYPE reader would register the entities and expand them.
  if (/<!DOCTYPE/i.test(xml) && [...xml.matchAll(DECLARATION_OR_QUOTE)].some((m) => m[0].toUpperCase() === '<!DOCTYPE')) {
    throw new HostError(`${kind} XML has a <!DOCTYPE>, which libvirt never prints: refused rather than expanding its entities`);
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new HostError(`malformed ${kind} XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  }
}

/** The root element of a checked document, which must be one of `rootNames`. */
function parseChecked(xml: string, rootNames: readonly string[]): { name: string; node: XmlNode } {
  const kind = rootNames[0] as string;
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
 * Start and end offsets of every element at one of `paths` (`domain/devices/hostdev`: from the root), by path, in
 * document order; in one walk of the text. fast-xml-parser keeps no positions, and an `<interface>` or `<hostdev>`
 * must be handed back exactly as libvirt printed it — a re-serialised copy would differ in quoting and attribute
 * order — so this walks the tags itself. Comments, CDATA, processing instructions and quoted attribute values
 * (which may hold `>`) are skipped; the text was checked before.
 */
function elementRanges(xml: string, paths: readonly string[]): Ranges {
  const ranges: Ranges = new Map(paths.map((p) => [p, []]));
  // The paths worth following: the wanted ones and their ancestors. Below them no path is built.
  const prefixes = new Set(paths.flatMap((p) => p.split('/').map((_, k, parts) => parts.slice(0, k + 1).join('/'))));
  // One entry per open element: its path when it is one of `prefixes`, else null; and where its tag starts.
  const open: { path: string | null; start: number }[] = [];
  let i = xml.indexOf('<');
  const skipTo = (from: number, terminator: string) => {
    const at = xml.indexOf(terminator, from);
    return at < 0 ? xml.length : at + terminator.length;
  };
  while (i >= 0 && i < xml.length) {
    let next: number;
    const c1 = xml.charCodeAt(i + 1);
    if (c1 === BANG && xml.startsWith('<!--', i)) next = skipTo(i + 4, '-->');
    else if (c1 === BANG && xml.startsWith('<![CDATA[', i)) next = skipTo(i + 9, ']]>');
    else if (c1 === QUESTION) next = skipTo(i + 2, '?>');
    else if (c1 === BANG) next = skipTo(i + 2, '>');
    else {
      next = tagEnd(xml, i);
      if (c1 === SLASH) {
        const element = open.pop();
        if (element?.path != null) ranges.get(element.path)?.push([element.start, next]);
      } else {
        const parent = open.length === 0 ? '' : open[open.length - 1]?.path;
        const path = parent == null ? null : parent === '' ? tagName(xml, i + 1, next) : `${parent}/${tagName(xml, i + 1, next)}`;
        const followed = path !== null && prefixes.has(path) ? path : null;
        if (xml.charCodeAt(next - 2) === SLASH) {
          if (followed !== null) ranges.get(followed)?.push([i, next]);
        } else {
          open.push({ path: followed, start: i });
        }
      }
    }
    i = xml.indexOf('<', next);
  }
  return ranges;
}

const BANG = 0x21;
const QUESTION = 0x3f;
const SLASH = 0x2f;

/** The element name of the tag whose name starts at `from` (up to whitespace, `/` or `>`), within `end`. */
function tagName(xml: string, from: number, end: number): string {
  let i = from;
  while (i < end) {
    const c = xml.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === SLASH || c === 0x3e) break;
    i++;
  }
  return xml.slice(from, i);
}

/** Offset just past the `>` that ends the tag starting at `start`, skipping quoted attribute values. */
function tagEnd(xml: string, start: number): number {
  for (let i = start + 1; i < xml.length; i++) {
    const c = xml.charCodeAt(i);
    if (c === 0x22 || c === 0x27) {
      // A quoted attribute value: its closing quote (the text was validated: it has one).
      const close = xml.indexOf(c === 0x22 ? '"' : "'", i + 1);
      if (close < 0) return xml.length;
      i = close;
    } else if (c === 0x3e) return i + 1;
  }
  return xml.length;
}
