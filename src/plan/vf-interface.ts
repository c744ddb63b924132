/**
 * SR-IOV VFs given to a guest as NICs (SPEC 11): whether a VF's element in a domain is what its claim declares —
 * `<interface type='hostdev'>` or plain `<hostdev>`, MAC, VLAN, trust, managed — and the element that makes it so.
 * A MAC the claim does not give is left to libvirt and then kept: it is never drift, and a re-added element keeps
 * the one the domain has.
 */
import { vfInterfaceXml, hostdevXml } from '../libvirt/hostdev-xml.js';
import { withVfInterface } from '../libvirt/interface-hostdev-xml.js';
import type { VfInterface } from '../model/desired.js';
import type { DomainHostdev } from '../model/snapshot.js';
import type { Assignment } from './resolve-claims.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const vlanText = (tags: readonly number[]) => (tags.length === 0 ? 'none' : tags.join(','));

/** What an observed `<interface type='hostdev'>` declares (the first VLAN tag of a trunk); undefined for a `<hostdev>`. */
export function observedVfInterface(h: DomainHostdev): VfInterface | undefined {
  if (h.source !== 'interface') return undefined;
  return { mac: h.mac ?? null, vlan: h.vlan?.[0] ?? null, trust: h.trust ?? false };
}

/** How the domain's element `h` differs from what `want` declares, for the plan's reason; null when it does not. */
export function vfInterfaceChange(h: DomainHostdev, want: Assignment): string | null {
  const iface = want.interface;
  if (!iface) return h.source === 'interface' ? 'given as a plain <hostdev> now (the entry has no interface:)' : null;
  if (h.source !== 'interface') return 'given as <interface type=\'hostdev\'> now (the entry has interface:)';
  const changes: string[] = [];
  if (iface.mac !== null && iface.mac !== h.mac?.toLowerCase()) changes.push(`MAC changes from ${h.mac ?? 'none'} to ${iface.mac}`);
  const tags = h.vlan ?? [];
  const wantTags = iface.vlan === null ? [] : [iface.vlan];
  if (vlanText(tags) !== vlanText(wantTags)) changes.push(`VLAN changes from ${vlanText(tags)} to ${vlanText(wantTags)}`);
  if ((h.trust ?? false) !== iface.trust) changes.push(`trust changes from ${yesNo(h.trust ?? false)} to ${yesNo(iface.trust)}`);
  if (h.managed !== want.managed) changes.push(`managed changes from ${yesNo(h.managed)} to ${yesNo(want.managed)}`);
  return changes.length === 0 ? null : changes.join(', ');
}

/**
 * The element that gives `want` its device as declared, and what it declares as an interface: rewritten from the
 * domain's `<interface type='hostdev'>` `h` when there is one (every other child kept), else built anew.
 */
export function vfElement(want: Assignment, h: DomainHostdev | undefined): { xml: string; interface?: VfInterface } {
  const address = want.device.address;
  const iface = want.interface;
  if (!iface) return { xml: hostdevXml(address, want.managed) };
  if (h?.source === 'interface') {
    return { xml: withVfInterface(h.xml, want.managed, iface), interface: { ...iface, mac: iface.mac ?? h.mac ?? null } };
  }
  return { xml: vfInterfaceXml(address, want.managed, iface), interface: iface };
}
