/**
 * In-memory builders for planner tests: plain data, no disk. Defaults describe a healthy Intel host with the
 * IOMMU on, so each test states only what matters to it.
 */
import type { DesiredHostState, DesiredVm, DeviceClaim, HostAddress, InterfaceSelector } from '../../src/model/desired.js';
import type { DomainHostdev, DomainInterface, DomainSnapshot, HostSnapshot, PciDevice } from '../../src/model/snapshot.js';
import { domainHostdevXml } from '../../src/libvirt/hostdev-xml.js';

const pos = { file: 'passthrough.yaml', line: 1, col: 1 };

export function device(address: string, over: Partial<PciDevice> = {}): PciDevice {
  return {
    address,
    vendor: '8086',
    product: '1521',
    class: '020000',
    driver: 'igb',
    driverOverride: null,
    iommuGroup: 17,
    isBridge: false,
    physFunction: null,
    virtualFunctions: [],
    netInterfaces: [],
    hostUse: [],
    ...over,
  };
}

export function bridge(address: string, group: number): PciDevice {
  return device(address, { class: '060400', driver: 'pcieport', isBridge: true, iommuGroup: group, vendor: '8086', product: 'a110' });
}

/**
 * A hostdev as libvirt 9.0 prints it in `dumpxml --inactive` (seen on the private libvirtd), with the children a
 * re-add must keep: `<boot order>`, `<rom>`, the guest `<address>`.
 */
export const ROM_HOSTDEV = `<hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
      </source>
      <boot order='2'/>
      <rom bar='off' file='/x.rom'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/>
    </hostdev>`;

/** A hostdev of a domain; its `xml` is the minimal element libvirt would print unless `over` gives one. */
export function hostdev(address: string, over: Partial<DomainHostdev> = {}): DomainHostdev {
  const h = { address, managed: true, driver: null, source: 'hostdev' as const, ...over };
  // A VF interface without a MAC (libvirt never prints one) is built by hand: the XML builder refuses it.
  const macless = `<interface type='hostdev' managed='${h.managed ? 'yes' : 'no'}'><source><address type='pci' domain='0x0000' bus='0x${address.slice(5, 7)}' slot='0x${address.slice(8, 10)}' function='0x${address.slice(11)}'/></source></interface>`;
  return { ...h, xml: over.xml ?? (h.source === 'interface' && h.mac === undefined ? macless : domainHostdevXml(h)) };
}

export function bridgeNic(source: string, mac: string): DomainInterface {
  return {
    type: 'bridge',
    source,
    mac,
    model: 'virtio',
    xml: `<interface type='bridge'><mac address='${mac}'/><source bridge='${source}'/><model type='virtio'/></interface>`,
  };
}

export interface DomainOptions {
  state?: DomainSnapshot['state'];
  hostdevs?: DomainHostdev[];
  liveHostdevs?: DomainHostdev[];
  interfaces?: DomainInterface[];
  uuid?: string;
  transient?: boolean;
}

export function domain(name: string, o: DomainOptions = {}): DomainSnapshot {
  const state = o.state ?? 'shut off';
  const active = state === 'running' || state === 'paused';
  const uuid = o.uuid ?? `00000000-0000-4000-8000-${name.length.toString().padStart(12, '0')}`;
  const persistent = { name, uuid, hostdevs: o.hostdevs ?? [], interfaces: o.interfaces ?? [] };
  return {
    name,
    uuid,
    state,
    active,
    transient: o.transient ?? false,
    persistent,
    live: active ? { ...persistent, hostdevs: o.liveHostdevs ?? persistent.hostdevs } : null,
    persistentXml: `<domain><name>${name}</name></domain>`,
  };
}

export function snapshot(devices: PciDevice[], domains: DomainSnapshot[], over: Partial<HostSnapshot> = {}): HostSnapshot {
  return {
    format_version: '1',
    host: 'local',
    uri: 'qemu:///system',
    deviceSource: 'sysfs',
    observedAt: '2026-11-24T00:00:00.000Z',
    iommu: { groupsPresent: true, dmarTable: true, ivrsTable: false, cmdline: 'intel_iommu=on' },
    selinux: { enabled: false, virtUseSysfs: null },
    hostUseKnown: true,
    devices,
    domains,
    ...over,
  };
}

export function byAddress(address: string, over: Partial<Extract<DeviceClaim, { kind: 'address' }>> = {}): DeviceClaim {
  return { kind: 'address', address, expect: null, managed: true, force: false, pos, ...over };
}

export function byMatch(vendor: string, product: string, count: number, over: Partial<DeviceClaim> = {}): DeviceClaim {
  return { kind: 'match', match: { vendor, product }, count, managed: true, force: false, pos, ...over } as DeviceClaim;
}

export function removeNic(type: string, source: string | null): InterfaceSelector {
  return { type, source, mac: null, pos };
}

export function vm(name: string, devices: DeviceClaim[], over: Partial<DesiredVm> = {}): DesiredVm {
  return { name, host: 'local', live: false, devices, removeInterfaces: [], pos, ...over };
}

export function at(address: string): HostAddress {
  return { host: 'local', address, pos };
}

export function desired(vms: DesiredVm[], over: Partial<DesiredHostState> = {}): DesiredHostState {
  return { host: { name: 'local', uri: 'qemu:///system', local: true }, vms, release: [], protect: [], ...over };
}
