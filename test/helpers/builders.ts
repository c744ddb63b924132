/**
 * In-memory builders for planner tests: plain data, no disk. Defaults describe a healthy Intel host with the
 * IOMMU on, so each test states only what matters to it.
 */
import type { DesiredHostState, DesiredVm, DeviceClaim, HostAddress, InterfaceSelector } from '../../src/model/desired.js';
import type { DomainHostdev, DomainInterface, DomainSnapshot, HostSnapshot, PciDevice } from '../../src/model/snapshot.js';

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

export function hostdev(address: string, over: Partial<DomainHostdev> = {}): DomainHostdev {
  return { address, managed: true, driver: null, source: 'hostdev', ...over };
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
