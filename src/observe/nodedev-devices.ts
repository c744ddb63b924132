/**
 * A remote host's PCI functions, seen through libvirt node devices because its sysfs cannot be read (SPEC 5). Two
 * virsh processes whatever the number of devices: one lists the PCI and network node devices, one batch dumps them
 * all. Network devices are read only to learn which interface names belong to which PCI function.
 *
 * What libvirt does not show stays empty rather than guessed: `driver_override` is null and host use is unknown
 * (`hostUse: []`; the snapshot says `hostUseKnown: false`).
 */
import { HostError } from '../errors.js';
import type { Virsh } from '../io/virsh.js';
import { compareAddressText } from '../model/pci-address.js';
import { UNKNOWN_CLASS } from '../model/pci-class.js';
import type { PciDevice } from '../model/snapshot.js';
import { attr, children, parseRoot, text } from './domain-xml.js';
import { parseNodeDeviceXml } from './nodedev-xml.js';

/** What virsh says when a node device went away between listing and dumping it (hot-unplug, VFs disabled). */
const VANISHED = /could not find matching device|node device not found/i;


/** Observes the PCI functions of the host at `uri` through `nodedev-list` / `nodedev-dumpxml`, sorted by address. */
export async function observeNodedevDevices(virsh: Virsh, uri: string): Promise<PciDevice[]> {
  const lists = await virsh.batch(uri, [
    ['nodedev-list', '--cap', 'pci'],
    ['nodedev-list', '--cap', 'net'],
  ]);
  const [pciNames = [], netNames = []] = lists.map((r) => {
    if (!r.ok) throw new HostError(`cannot list the node devices of ${uri}: ${r.error}`);
    return r.output
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  });
  const names = [...pciNames, ...netNames];
  if (names.length === 0) return [];

  const dumps = await virsh.batch(
    uri,
    names.map((name) => ['nodedev-dumpxml', '--device', name]),
  );
  const byName = new Map<string, PciDevice>();
  const netByParent = new Map<string, string[]>();
  names.forEach((name, i) => {
    const r = dumps[i];
    if (r === undefined) throw new HostError(`virsh returned too few results observing the node devices of ${uri}`);
    if (!r.ok) {
      if (VANISHED.test(r.error ?? '')) return;
      throw new HostError(`cannot read node device ${name} on ${uri}: ${r.error}`);
    }
    try {
      if (i >= pciNames.length) {
        const net = netDevice(r.output);
        if (net) netByParent.set(net.parent, [...(netByParent.get(net.parent) ?? []), net.interface]);
        return;
      }
      const node = parseNodeDeviceXml(r.output);
      if (node === null) return;
      byName.set(name, {
        address: node.address,
        vendor: node.vendor,
        product: node.product,
        class: node.class ?? UNKNOWN_CLASS,
        ...(node.vendorName === undefined ? {} : { vendorName: node.vendorName }),
        ...(node.productName === undefined ? {} : { productName: node.productName }),
        driver: node.driver,
        driverOverride: null,
        iommuGroup: node.iommuGroup,
        isBridge: node.isBridge,
        physFunction: node.physFunction,
        virtualFunctions: node.virtualFunctions,
        netInterfaces: [],
        hostUse: [],
      });
    } catch (error) {
      throw new HostError(`cannot read node device ${name} on ${uri}: ${(error as Error).message}`, { cause: error });
    }
  });
  for (const [name, d] of byName) d.netInterfaces = (netByParent.get(name) ?? []).sort();
  return [...byName.values()].sort((a, b) => compareAddressText(a.address, b.address));
}

/** The interface name and parent node device of a `net` node device, or null for anything else. */
function netDevice(xml: string): { interface: string; parent: string } | null {
  const device = parseRoot(xml, 'device');
  const cap = children(device, 'capability').find((c) => attr(c, 'type') === 'net');
  const name = text(cap?.interface)?.trim();
  const parent = text(device.parent)?.trim();
  return name && parent ? { interface: name, parent } : null;
}
