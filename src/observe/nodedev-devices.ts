/**
 * A remote host's PCI functions, seen through libvirt node devices because its sysfs cannot be read (SPEC 5). Two
 * virsh processes whatever the number of devices: one lists the PCI and network node devices, one batch dumps them
 * all. Network devices are read only to learn which interface names belong to which PCI function.
 *
 * What libvirt does not show stays empty rather than guessed: `driver_override` is null and host use is unknown
 * (`hostUse: []`; the snapshot says `hostUseKnown: false`).
 *
 * Group membership is cross-checked: a function that some node device lists in its IOMMU group but that has no
 * readable node device of its own (or one that says another group) is still listed, as unreadable, so that the group
 * does not look viable. A node device whose address cannot be read is left out with a warning.
 */
import { HostError } from '../errors.js';
import type { Virsh } from '../io/virsh.js';
import { compareAddressText } from '../model/pci-address.js';
import { UNKNOWN_CLASS } from '../model/pci-class.js';
import type { PciDevice } from '../model/snapshot.js';
import { parseNetNodeDevice, parseNodeDeviceXml } from '../libvirt/nodedev-xml.js';
import { markUnreadable, unreadableFunction } from '../model/pci-function.js';
import type { ObserveOptions } from './sysfs.js';

/** What virsh says when a node device went away between listing and dumping it (hot-unplug, VFs disabled). */
const VANISHED = /could not find matching device|node device not found/i;


/** Observes the PCI functions of the host at `uri` through `nodedev-list` / `nodedev-dumpxml`, sorted by address. */
export async function observeNodedevDevices(virsh: Virsh, uri: string, options: ObserveOptions = {}): Promise<PciDevice[]> {
  const warn = options.warn ?? (() => {});
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
  /** Each device's group and the members its node device lists, for the cross-check. */
  const groupsSeen: GroupListing[] = [];
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
        const net = parseNetNodeDevice(r.output);
        if (net) netByParent.set(net.parent, [...(netByParent.get(net.parent) ?? []), net.interface]);
        return;
      }
      const node = parseNodeDeviceXml(r.output);
      if (node === null) return;
      for (const w of node.warnings) warn(w);
      if (node.address === null) {
        warn(`${node.unreadable ?? `node device ${name} has no address`}; left out`);
        return;
      }
      if (node.iommuGroup !== null) groupsSeen.push({ name, address: node.address, group: node.iommuGroup, members: node.iommuGroupMembers });
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
        // libvirt shows neither offset, stride nor the VF device ID: VFs not yet enabled cannot be predicted here.
        ...(node.maxVirtualFunctions === undefined
          ? {}
          : { sriov: { numVfs: node.virtualFunctions.length, totalVfs: node.maxVirtualFunctions, offset: null, stride: null, vfDevice: null } }),
        netInterfaces: [],
        hostUse: [],
        ...(node.unreadable === undefined ? {} : { unreadable: node.unreadable }),
      });
    } catch (error) {
      throw new HostError(`cannot read node device ${name} on ${uri}: ${(error as Error).message}`, { cause: error });
    }
  });
  for (const [name, d] of byName) d.netInterfaces = (netByParent.get(name) ?? []).sort();
  const devices = crossCheckGroups([...byName.values()], groupsSeen, warn);
  return devices.sort((a, b) => compareAddressText(a.address, b.address));
}

/** One node device's view of its IOMMU group. */
interface GroupListing {
  name: string;
  address: string;
  group: number;
  members: string[];
}

/**
 * Makes every function that a node device lists as a member of its IOMMU group count in that group: one without a
 * device of its own is added as unreadable; when its own device names another group (or none), both it and the
 * device that lists it are marked unreadable, since either group may be the true one.
 */
function crossCheckGroups(devices: PciDevice[], groups: GroupListing[], warn: (message: string) => void): PciDevice[] {
  const byAddress = new Map(devices.map((d) => [d.address, d]));
  for (const { name, address, group, members } of groups) {
    for (const member of members) {
      const d = byAddress.get(member);
      if (d === undefined) {
        const why = `listed in IOMMU group ${group} by node device ${name} but has no node device passthru could read`;
        warn(`${member}: ${why}`);
        byAddress.set(member, unreadableFunction(member, group, why));
      } else if (d.iommuGroup !== group) {
        const why = `node device ${name} lists it in IOMMU group ${group} but its own node device says ${d.iommuGroup === null ? 'none' : `group ${d.iommuGroup}`}`;
        warn(`${member}: ${why}`);
        markUnreadable(d, why);
        const lister = byAddress.get(address);
        if (lister !== undefined) markUnreadable(lister, `its IOMMU group ${group} lists ${member}, whose own node device disagrees`);
        if (d.iommuGroup === null) d.iommuGroup = group;
      }
    }
  }
  return [...byAddress.values()];
}
