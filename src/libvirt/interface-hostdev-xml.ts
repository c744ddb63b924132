/**
 * What an SR-IOV `<interface type='hostdev'>` says beyond its source address and MAC (SPEC 11): its VLAN tags and
 * `trustGuestRxFilters`, read as libvirt reads them: each `<vlan><tag id='N'/>` (several tags = a trunk), and the
 * attribute `yes` or anything else (no). It takes the raw attribute values, so that the domain parser hands them
 * over without this file depending on its XML reader.
 */
import { HostError } from '../errors.js';
import type { VfInterface } from '../model/desired.js';
import { withAttribute, withManaged } from './hostdev-xml.js';

/** The VF interface settings passthru owns; each only when set (an untagged, untrusted VF has neither). */
export interface VfInterfaceSettings {
  vlan?: number[];
  trust?: true;
}

/**
 * The settings of one `<interface type='hostdev'>`, from its tags' `id` attributes and its `trustGuestRxFilters`
 * attribute (undefined when absent). Throws a HostError for a tag id that is not a VLAN ID.
 */
export function readVfInterfaceSettings(tagIds: readonly (string | undefined)[], trust: string | undefined, what: string): VfInterfaceSettings {
  const vlan = tagIds.map((raw) => {
    const id = raw?.trim() ?? '';
    if (!/^\d{1,4}$/.test(id) || Number(id) > 4095) throw new HostError(`${what}: <vlan><tag id='${id}'/> is not a VLAN ID (0-4095)`);
    return Number(id);
  });
  return { ...(vlan.length > 0 ? { vlan } : {}), ...(trust === 'yes' ? { trust: true as const } : {}) };
}

/**
 * `element` (an `<interface type='hostdev'>` as libvirt printed it) declaring `iface` and `managed`, every other
 * child kept byte for byte (guest `<address>`, `<rom>`, `<boot>`, SPEC 13): how a MAC, VLAN or trust change
 * re-adds the VF. A MAC not given keeps the element's. libvirt prints `<` in text as `&lt;`, so its tags can be
 * found in its text; MACs and VLAN IDs were validated, so they are safe inside an attribute.
 */
export function withVfInterface(element: string, managed: boolean, iface: VfInterface): string {
  let xml = withAttribute(withManaged(element, managed), 'trustGuestRxFilters', iface.trust ? 'yes' : null);
  if (iface.mac !== null) xml = xml.replace(/<mac\s+address=(['"])[^'"]*\1/, `<mac address='${iface.mac}'`);
  xml = xml.replace(/\s*<vlan(?:\s[^>]*)?(?:\/>|>[\s\S]*?<\/vlan>)/, '');
  if (iface.vlan === null) return xml;
  const close = /(\s*)<\/interface>\s*$/.exec(xml);
  if (close === null) return xml.replace(/\/>\s*$/, `><vlan><tag id='${iface.vlan}'/></vlan></interface>`);
  const indent = close[1] ?? '';
  return `${xml.slice(0, close.index)}${indent}  <vlan>${indent}    <tag id='${iface.vlan}'/>${indent}  </vlan>${indent}</interface>`;
}
