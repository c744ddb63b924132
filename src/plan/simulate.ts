/**
 * A pure model of what each plan action does to a host, so that a plan can be "applied" to a snapshot without a
 * host: the planner's property test re-plans on the result (it must be empty), and a dry run can show where a plan
 * leaves the host. It models what libvirt does and what it refuses, as SPEC 8 and libvirt 9 behave:
 *
 * - `nodedev-detach` binds the device to vfio-pci by writing `driver_override` (both are what sysfs then shows).
 * - `nodedev-reattach` clears `driver_override` and lets the kernel probe a host driver. Which driver wins is not
 *   in the snapshot (it shows the device on vfio-pci), so the caller says it through `hostDrivers`.
 * - `attach-hostdev` adds a `<hostdev>` to the persistent config (`config`) and hot-plugs it (`live`). A live
 *   hot-plug of a `managed='yes'` device binds it to vfio-pci itself, as libvirt does.
 * - `detach-hostdev` removes it from the scopes it names. A hot-unplug leaves the binding as it is: passthru binds a
 *   device before it attaches it, and libvirt does not reattach one that was on vfio-pci already (SPEC 8).
 * - `remove-interface` removes the guest NIC (matched by MAC, as libvirt's `detach-device` does).
 * - `persist-binding` / `unpersist-binding` write or remove the driverctl override (driverctl rebinds the device to
 *   the driver it already has by then: vfio-pci after nodedev-detach, the host driver after nodedev-reattach).
 *
 * An action libvirt would refuse (a hostdev already in the config, a hot-plug into a VM that does not run, a
 * reattach of a device a running VM holds, a hot-plug into a group that is not viable) throws an InternalError:
 * the planner produced a plan that cannot run. Observed facts the model cannot predict (routes, mounts, net
 * interface names, the raw `persistentXml`) are left as they were.
 */
import { InternalError } from '../errors.js';
import type { Action, BindingPersist, BindingUnpersist, HostdevAttach, HostdevDetach, InterfaceRemove, NodedevDetach, NodedevReattach } from '../model/plan.js';
import type { DomainHostdev, DomainInterface, DomainSnapshot, HostSnapshot, ParsedDomain, PciDevice } from '../model/snapshot.js';

import { withSriovCount } from '../model/sriov-udev-rules.js';
import { withVfCount } from './sriov.js';

const VFIO = 'vfio-pci';

/** Drivers that leave an IOMMU group viable for a VFIO user (as the safety rules count them). */
const GROUP_SAFE_DRIVERS = new Set([VFIO, 'pci-stub']);

/** What the model cannot read from the snapshot. */
export interface SimulateOptions {
  /**
   * The host driver the kernel binds each device to when it leaves vfio-pci (`nodedev-reattach`). A device not in
   * the map ends unbound (no driver), which is also what happens when its driver is not loaded.
   */
  hostDrivers?: ReadonlyMap<string, string>;
}

/** The snapshot after `actions` ran in order. Neither argument is changed. */
export function simulate(snapshot: HostSnapshot, actions: readonly Action[], options: SimulateOptions = {}): HostSnapshot {
  // A JSON copy, not structuredClone: that would keep arrays shared between scopes shared (a builder may share a
  // domain's persistent and live hostdev lists), and a change to one scope would show in the other.
  const host = JSON.parse(JSON.stringify(snapshot)) as HostSnapshot;
  const hostDrivers = options.hostDrivers ?? new Map<string, string>();
  actions.forEach((action, i) => {
    const refuse = (why: string): never => {
      throw new InternalError(`action ${i + 1} (${action.kind} ${describeTarget(action)}) would be refused: ${why}`);
    };
    switch (action.kind) {
      case 'nodedev-detach':
        return detachFromHost(host, action, refuse);
      case 'nodedev-reattach':
        return reattachToHost(host, action, hostDrivers, refuse);
      case 'attach-hostdev':
        return attachHostdev(host, action, refuse);
      case 'detach-hostdev':
        return detachHostdev(host, action, refuse);
      case 'remove-interface':
        return removeInterface(host, action, refuse);
      case 'set-numvfs':
        host.devices = withVfCount(host.devices, action.address, action.to).devices;
        return;
      case 'persist-numvfs':
        host.sriovPersisted = withSriovCount(host.sriovPersisted ?? [], action.address, action.to);
        return;
      case 'persist-binding':
      case 'unpersist-binding':
        return persistBinding(host, action, refuse);
    }
  });
  return host;
}

type Refuse = (why: string) => never;

function describeTarget(a: Action): string {
  const vm = 'vm' in a ? ` of "${a.vm}"` : '';
  return a.kind === 'remove-interface' ? `${a.mac ?? a.type}${vm}` : `${a.address}${vm}`;
}

function deviceAt(host: HostSnapshot, address: string, refuse: Refuse): PciDevice {
  return host.devices.find((d) => d.address === address) ?? refuse(`there is no node device ${address}`);
}

function domainOf(host: HostSnapshot, a: { vm: string; vmUuid: string }, refuse: Refuse): DomainSnapshot {
  return host.domains.find((d) => d.uuid === a.vmUuid) ?? refuse(`no domain has UUID ${a.vmUuid}`);
}

/** The XML scopes an action changes, refusing what libvirt refuses for the domain's state. */
function scopesOf(dom: DomainSnapshot, a: { config: boolean; live: boolean }, refuse: Refuse): ParsedDomain[] {
  const scopes: ParsedDomain[] = [];
  if (a.config) {
    if (dom.transient) refuse('the domain is transient: it has no persistent config');
    scopes.push(dom.persistent);
  }
  if (a.live) scopes.push(dom.live ?? refuse('the domain is not running'));
  if (scopes.length === 0) refuse('neither --config nor --live');
  return scopes;
}

const liveHolder = (host: HostSnapshot, address: string) =>
  host.domains.find((d) => d.live?.hostdevs.some((h) => h.address === address));

function detachFromHost(host: HostSnapshot, a: NodedevDetach, refuse: Refuse): void {
  const d = deviceAt(host, a.address, refuse);
  d.driver = VFIO;
  d.driverOverride = VFIO;
}

function reattachToHost(host: HostSnapshot, a: NodedevReattach, hostDrivers: ReadonlyMap<string, string>, refuse: Refuse): void {
  const d = deviceAt(host, a.address, refuse);
  const user = liveHolder(host, a.address);
  if (user) refuse(`the device is in use by running domain "${user.name}"`);
  // libvirt unbinds only from a stub driver; a device already on a host driver stays there.
  if (d.driver !== VFIO) return;
  d.driver = hostDrivers.get(a.address) ?? null;
  d.driverOverride = null;
}

function attachHostdev(host: HostSnapshot, a: HostdevAttach, refuse: Refuse): void {
  const dom = domainOf(host, a, refuse);
  const d = deviceAt(host, a.address, refuse);
  if (a.live) {
    const user = liveHolder(host, a.address);
    if (user) refuse(`the device is in use by running domain "${user.name}"`);
    if (d.driver !== VFIO) {
      if (!a.managed) refuse(`managed='no' but the device is on ${d.driver ?? 'no driver'}, not ${VFIO}`);
      d.driver = VFIO;
      d.driverOverride = VFIO;
    }
    const hostBound = host.devices.filter(
      (m) => m.iommuGroup !== null && m.iommuGroup === d.iommuGroup && !m.isBridge && m.driver !== null && !GROUP_SAFE_DRIVERS.has(m.driver),
    );
    if (hostBound.length > 0) {
      refuse(`IOMMU group ${d.iommuGroup} is not viable: ${hostBound.map((m) => `${m.address} is on ${m.driver}`).join(', ')}`);
    }
  }
  for (const scope of scopesOf(dom, a, refuse)) {
    if (scope.hostdevs.some((h) => h.address === a.address)) refuse('the device is already in the domain configuration');
    const added: DomainHostdev = { address: a.address, managed: a.managed, driver: 'vfio', source: 'hostdev', xml: a.hostdevXml };
    scope.hostdevs.push(added);
  }
}

function detachHostdev(host: HostSnapshot, a: HostdevDetach, refuse: Refuse): void {
  const dom = domainOf(host, a, refuse);
  // libvirt matches a <hostdev> by its source address, an <interface type='hostdev'> by its MAC.
  const matches = (h: DomainHostdev) =>
    a.source === 'interface' && a.mac !== undefined
      ? h.source === 'interface' && h.mac?.toLowerCase() === a.mac.toLowerCase()
      : h.source === a.source && h.address === a.address;
  for (const scope of scopesOf(dom, a, refuse)) {
    const at = scope.hostdevs.findIndex(matches);
    if (at < 0) refuse('device not found in the domain configuration');
    scope.hostdevs.splice(at, 1);
  }
}

function removeInterface(host: HostSnapshot, a: InterfaceRemove, refuse: Refuse): void {
  const dom = domainOf(host, a, refuse);
  const matches = (i: DomainInterface) => (a.mac === null ? i.xml === a.interfaceXml : i.mac?.toLowerCase() === a.mac.toLowerCase());
  for (const scope of scopesOf(dom, a, refuse)) {
    const at = scope.interfaces.findIndex(matches);
    if (at < 0) refuse('device not found in the domain configuration');
    scope.interfaces.splice(at, 1);
  }
}

function persistBinding(host: HostSnapshot, a: BindingPersist | BindingUnpersist, refuse: Refuse): void {
  deviceAt(host, a.address, refuse);
  const bindings = host.bindings ?? refuse('the persisted bindings of the host were not observed');
  if (bindings.driverctl === null) refuse('driverctl is not installed');
  const user = liveHolder(host, a.address);
  if (user) refuse(`driverctl would unbind the device from running domain "${user.name}"`);
  const others = bindings.overrides.filter((o) => o.address !== a.address);
  const kept = a.kind === 'persist-binding' ? [...others, { address: a.address, driver: VFIO }] : others;
  bindings.overrides = kept.sort((x, y) => (x.address < y.address ? -1 : 1));
}
