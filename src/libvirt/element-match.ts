/**
 * Whether a domain holds a device element whole: how a step that adds a `<hostdev>` or `<interface>` is verified
 * (SPEC 13: "verification compares the whole element"), not by address, `managed` and MAC alone.
 *
 * The rule: libvirt may ADD to an element what it assigns itself — a guest `<address>`, an `<alias>`, a MAC, a
 * `<driver name='vfio'/>`, in the live XML a `<target>` or a network's `portid` — but must neither drop nor change
 * anything the element had. So the observed element must contain the expected one: the same name, every attribute
 * with its value and every child, recursively; whatever else it has is libvirt's. Compared canonically: attribute
 * order, quoting, whitespace and child order do not matter, PCI address fields compare as numbers (`0x07` = `7`),
 * an absent `managed` reads as `no` (as libvirt reads it), and an `<alias>` libvirt generated (any name not starting
 * with `ua-`, the user-alias prefix libvirt keeps) is left out: libvirt names it anew on every attach.
 */
import { XMLParser } from 'fast-xml-parser';
import { InternalError } from '../errors.js';
import { parseLibvirtInt } from '../model/pci-address.js';

/** An element reduced to what the comparison looks at. */
interface Element {
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  htmlEntities: true,
});

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

const ADDRESS_FIELDS = new Set(['domain', 'bus', 'slot', 'function']);

function toElement(node: OrderedNode): Element | null {
  const name = Object.keys(node).find((k) => k !== ':@' && k !== '#text');
  if (name === undefined) return null;
  const attributes: Record<string, string> = { ...node[':@'] };
  if (name === 'address') {
    for (const [k, v] of Object.entries(attributes)) {
      const n = ADDRESS_FIELDS.has(k) ? parseLibvirtInt(v) : null;
      if (n !== null) attributes[k] = String(n);
    }
  }
  const content = (node[name] as OrderedNode[] | undefined) ?? [];
  const children = content
    .map(toElement)
    .filter((e): e is Element => e !== null && !(e.name === 'alias' && !(e.attributes.name ?? '').startsWith('ua-')));
  const text = content
    .map((c) => c['#text'])
    .filter((t) => typeof t === 'string')
    .join('')
    .trim();
  return { name, attributes, children, text };
}

/** Parses one device element; throws when the text holds none. */
function parseElement(xml: string): Element {
  const root = (parser.parse(xml) as OrderedNode[]).map(toElement).find((e): e is Element => e !== null);
  if (!root) throw new InternalError(`not an XML element: ${xml.slice(0, 60)}`);
  // libvirt reads an absent `managed` on a device as "no" and prints hostdevs with it, interfaces without.
  if ((root.name === 'hostdev' || root.name === 'interface') && root.attributes.managed === undefined) root.attributes.managed = 'no';
  return root;
}

const quote = (v: string) => `'${v.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;')}'`;

/** One line of canonical XML: attributes sorted, whitespace dropped, e.g. `<vlan><tag id='42'/></vlan>`. */
function render(e: Element): string {
  const attributes = Object.keys(e.attributes)
    .sort()
    .map((k) => ` ${k}=${quote(e.attributes[k] as string)}`)
    .join('');
  const inner = e.text + e.children.map(render).join('');
  return inner === '' ? `<${e.name}${attributes}/>` : `<${e.name}${attributes}>${inner}</${e.name}>`;
}

/** The canonical one-line form of a device element, for messages. */
export function canonicalElement(xml: string): string {
  return render(parseElement(xml));
}

function contains(observed: Element, expected: Element): boolean {
  if (observed.name !== expected.name || (expected.text !== '' && observed.text !== expected.text)) return false;
  if (Object.entries(expected.attributes).some(([k, v]) => observed.attributes[k] !== v)) return false;
  const unused = [...observed.children];
  return expected.children.every((want) => {
    const i = unused.findIndex((have) => contains(have, want));
    if (i < 0) return false;
    unused.splice(i, 1);
    return true;
  });
}

/**
 * What the observed element lost or changed of the expected one, one phrase each (`lacks <rom bar='off'/>`,
 * `has managed='no' (not 'yes')`); empty when it holds all of it.
 */
export function elementDifferences(expected: string, observed: string): string[] {
  const want = parseElement(expected);
  const have = parseElement(observed);
  if (want.name !== have.name) return [`is a <${have.name}>, not a <${want.name}>`];
  const lines = Object.entries(want.attributes).flatMap(([k, v]) => {
    const got = have.attributes[k];
    if (got === v) return [];
    return [got === undefined ? `lacks ${k}=${quote(v)}` : `has ${k}=${quote(got)} (not ${quote(v)})`];
  });
  if (want.text !== '' && have.text !== want.text) lines.push(`has the text ${JSON.stringify(have.text)} (not ${JSON.stringify(want.text)})`);
  const unused = [...have.children];
  for (const child of want.children) {
    const i = unused.findIndex((c) => contains(c, child));
    if (i >= 0) unused.splice(i, 1);
    else {
      const instead = unused.find((c) => c.name === child.name);
      lines.push(instead ? `has ${render(instead)} instead of ${render(child)}` : `lacks ${render(child)}`);
    }
  }
  return lines;
}
