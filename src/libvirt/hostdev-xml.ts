/**
 * The device XML passthru hands to `virsh attach-device` / `detach-device`, built structurally so that no value
 * (a MAC read from a domain, an address from the user's file) can break out of its attribute. Shared by `apply`
 * and the `--format sh` / `diff` renderers, so the commands a user is shown are the ones that run.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { InternalError } from '../errors.js';
import { pciFunction } from '../model/pci-address.js';
import type { VfInterface } from '../model/desired.js';
import type { DomainHostdev } from '../model/snapshot.js';

// Attribute values are entity-escaped by the builder (`'`, `"`, `<`, `&`), so any string is safe inside them.
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** libvirt's `<address>` attributes for a host PCI function, in the zero-padded hex libvirt itself prints. */
function addressAttributes(address: string, withType: boolean): Record<string, string> {
  const a = pciFunction(address);
  return {
    ...(withType ? { '@type': 'pci' } : {}),
    '@domain': hex(a.domain, 4),
    '@bus': hex(a.bus, 2),
    '@slot': hex(a.slot, 2),
    '@function': hex(a.fn ?? 0, 1),
  };
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/**
 * `<hostdev mode='subsystem' type='pci' managed='yes|no'>` for one host PCI function (canonical or any accepted
 * spelling). libvirt's `detach-device` matches such an element by its source address alone.
 */
export function hostdevXml(address: string, managed: boolean): string {
  return builder.build({
    hostdev: {
      '@mode': 'subsystem',
      '@type': 'pci',
      '@managed': yesNo(managed),
      source: { address: addressAttributes(address, false) },
    },
  }) as string;
}

/**
 * `<interface type='hostdev'>` for an SR-IOV VF given to a guest as a NIC. libvirt matches it by MAC on
 * `detach-device`, and insists on the source address there too (libvirt 9: "missing source address type").
 */
export function interfaceHostdevXml(address: string, managed: boolean, mac: string): string {
  return vfInterfaceXml(address, managed, { mac, vlan: null, trust: false });
}

/**
 * `<interface type='hostdev'>` as the desired state declares a VF NIC (SPEC 11): its `<mac>` (none: libvirt picks
 * one), `<vlan><tag>` and `trustGuestRxFilters='yes'` when trusted.
 */
export function vfInterfaceXml(address: string, managed: boolean, iface: VfInterface): string {
  return builder.build({
    interface: {
      '@type': 'hostdev',
      '@managed': yesNo(managed),
      ...(iface.trust ? { '@trustGuestRxFilters': 'yes' } : {}),
      ...(iface.mac === null ? {} : { mac: { '@address': iface.mac } }),
      source: { address: addressAttributes(address, true) },
      ...(iface.vlan === null ? {} : { vlan: { tag: { '@id': String(iface.vlan) } } }),
    },
  }) as string;
}

/**
 * A minimal element that declares `dev` in a domain: `<hostdev>`, or `<interface type='hostdev'>` for a VF NIC.
 * Throws an InternalError for a VF NIC without a MAC: libvirt always assigns one, and matches the element by it.
 */
export function domainHostdevXml(dev: Pick<DomainHostdev, 'address' | 'managed' | 'source' | 'mac'>): string {
  if (dev.source === 'hostdev') return hostdevXml(dev.address, dev.managed);
  if (dev.mac === undefined) throw new InternalError(`<interface type='hostdev'> for ${dev.address} has no MAC`);
  return interfaceHostdevXml(dev.address, dev.managed, dev.mac);
}

/**
 * `element` (a device element as libvirt printed it) with its `managed` attribute set, and nothing else changed:
 * how a `managed` change re-adds a hostdev with every child it had. The start tag is rewritten as text, so the
 * children stay byte for byte what libvirt printed.
 */
export function withManaged(element: string, managed: boolean): string {
  return withAttribute(element, 'managed', yesNo(managed));
}

/**
 * `element` with the attribute `attr` of its start tag set to `value` (null: removed), and nothing else changed.
 * `value` is a fixed word (`yes`), never user text.
 */
export function withAttribute(element: string, attr: string, value: string | null): string {
  const name = /^<[A-Za-z]+/.exec(element);
  if (!name) throw new InternalError(`not a device element: ${element.slice(0, 40)}`);
  const text = value === null ? '' : ` ${attr}='${value}'`;
  // Walk the start tag attribute by attribute: a value (quoted, so it may hold anything) is never searched.
  const attribute = /\s+([^\s=/>]+)\s*=\s*(?:'[^']*'|"[^"]*")/y;
  let end = (attribute.lastIndex = name[0].length);
  for (let m = attribute.exec(element); m !== null; m = attribute.exec(element)) {
    if (m[1] === attr) return `${element.slice(0, m.index)}${text}${element.slice(m.index + m[0].length)}`;
    end = attribute.lastIndex;
  }
  if (!/^\s*\/?>/.test(element.slice(end))) {
    throw new InternalError(`cannot read the start tag of: ${element.slice(0, 60)}`);
  }
  return `${name[0]}${text}${element.slice(name[0].length)}`;
}
