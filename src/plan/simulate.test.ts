import { describe, expect, it } from 'vitest';
import { bridge, bridgeNic, device, domain, hostdev, snapshot } from '../../test/helpers/builders.js';
import { InternalError } from '../errors.js';
import type { Action, HostdevAttach, HostdevDetach, InterfaceRemove } from '../model/plan.js';
import type { DomainSnapshot } from '../model/snapshot.js';
import { hostdevXml } from '../libvirt/hostdev-xml.js';
import { simulate } from './simulate.js';

const NIC = '0000:07:00.0';
const uuidOf = (d: DomainSnapshot) => ({ vm: d.name, vmUuid: d.uuid });
const attach = (d: DomainSnapshot, over: Partial<HostdevAttach> = {}): HostdevAttach => ({
  kind: 'attach-hostdev', ...uuidOf(d), address: NIC, managed: true, hostdevXml: hostdevXml(over.address ?? NIC, over.managed ?? true), config: true, live: false, reason: 'test', ...over,
});
const detach = (d: DomainSnapshot, over: Partial<HostdevDetach> = {}): HostdevDetach => ({
  kind: 'detach-hostdev', ...uuidOf(d), address: NIC, managed: true, source: 'hostdev', hostdevXml: hostdevXml(NIC, true), config: true, live: false, reason: 'test', ...over,
});
const addresses = (list: { address: string }[] | undefined) => (list ?? []).map((h) => h.address);

describe('simulate: bindings', () => {
  it('nodedev-detach binds the device to vfio-pci through driver_override, as libvirt does', () => {
    const host = snapshot([device(NIC)], []);
    const after = simulate(host, [{ kind: 'nodedev-detach', address: NIC, fromDriver: 'igb', reason: 'test' }]);
    expect(after.devices[0]).toMatchObject({ driver: 'vfio-pci', driverOverride: 'vfio-pci' });
    expect(host.devices[0]).toMatchObject({ driver: 'igb', driverOverride: null });
  });

  it('nodedev-reattach gives the device the host driver the caller names, or none, and clears the override', () => {
    const host = snapshot([device(NIC, { driver: 'vfio-pci', driverOverride: 'vfio-pci' })], []);
    const reattach: Action = { kind: 'nodedev-reattach', address: NIC, fromDriver: 'vfio-pci', reason: 'test' };
    expect(simulate(host, [reattach], { hostDrivers: new Map([[NIC, 'igb']]) }).devices[0]).toMatchObject({ driver: 'igb', driverOverride: null });
    expect(simulate(host, [reattach]).devices[0]).toMatchObject({ driver: null, driverOverride: null });
  });

  it('refuses to reattach a device that a running domain holds', () => {
    const a = domain('a', { state: 'running', hostdevs: [hostdev(NIC)] });
    const host = snapshot([device(NIC, { driver: 'vfio-pci' })], [a]);
    expect(() => simulate(host, [{ kind: 'nodedev-reattach', address: NIC, fromDriver: 'vfio-pci', reason: 'test' }])).toThrow(
      /in use by running domain "a"/,
    );
  });
});

describe('simulate: hostdevs', () => {
  it('attach-hostdev adds to the persistent config, and to the running domain when live', () => {
    const a = domain('a', { state: 'running' });
    const host = snapshot([device(NIC, { driver: 'vfio-pci' })], [a]);
    const configOnly = simulate(host, [attach(a)]).domains[0]!;
    expect(addresses(configOnly.persistent.hostdevs)).toEqual([NIC]);
    expect(addresses(configOnly.live?.hostdevs)).toEqual([]);
    const both = simulate(host, [attach(a, { live: true, managed: false })]).domains[0]!;
    expect(both.persistent.hostdevs).toEqual([{ address: NIC, managed: false, driver: 'vfio', source: 'hostdev', xml: hostdevXml(NIC, false) }]);
    expect(addresses(both.live?.hostdevs)).toEqual([NIC]);
  });

  it('a managed hot-plug binds the device to vfio-pci itself; an unmanaged one needs it there already', () => {
    const a = domain('a', { state: 'running' });
    const host = snapshot([device(NIC)], [a]);
    expect(simulate(host, [attach(a, { live: true })]).devices[0]?.driver).toBe('vfio-pci');
    expect(() => simulate(host, [attach(a, { live: true, managed: false })])).toThrow(/managed='no' but the device is on igb/);
  });

  it('refuses what libvirt refuses: a duplicate, a hot-plug into a VM that is off, a transient config, a busy device, a group that is not viable', () => {
    const off = domain('off', { hostdevs: [hostdev(NIC)] });
    const running = domain('running', { state: 'running', hostdevs: [hostdev(NIC)] });
    const transient = domain('t', { state: 'running', transient: true });
    const dev = device(NIC, { driver: 'vfio-pci' });
    const refused = (host: ReturnType<typeof snapshot>, action: Action, why: RegExp) => {
      expect(() => simulate(host, [action])).toThrow(InternalError);
      expect(() => simulate(host, [action])).toThrow(why);
    };
    refused(snapshot([dev], [off]), attach(off), /already in the domain configuration/);
    refused(snapshot([dev], [off]), attach(off, { config: false, live: true }), /not running/);
    refused(snapshot([dev], [transient]), attach(transient), /transient/);
    const other = domain('other', { state: 'running', uuid: '00000000-0000-4000-8000-000000000099' });
    refused(snapshot([dev], [running, other]), attach(other, { live: true }), /in use by running domain "running"/);
    const sibling = device('0000:07:00.1', { iommuGroup: 17, driver: 'igb' });
    refused(snapshot([dev, sibling, bridge('0000:00:1c.0', 17)], [other]), attach(other, { live: true }), /group 17 is not viable: 0000:07:00.1 is on igb/);
    refused(snapshot([dev], [off]), { ...attach(off), vmUuid: 'nope' }, /no domain has UUID nope/);
    refused(snapshot([], [domain('a')]), attach(domain('a')), /no node device 0000:07:00.0/);
  });

  it('detach-hostdev removes the hostdev from the scopes it names only', () => {
    const a = domain('a', { state: 'running', hostdevs: [hostdev(NIC)] });
    const host = snapshot([device(NIC, { driver: 'vfio-pci' })], [a]);
    const configOnly = simulate(host, [detach(a)]).domains[0]!;
    expect(addresses(configOnly.persistent.hostdevs)).toEqual([]);
    expect(addresses(configOnly.live?.hostdevs)).toEqual([NIC]);
    const both = simulate(host, [detach(a, { live: true })]);
    expect(addresses(both.domains[0]!.live?.hostdevs)).toEqual([]);
    expect(both.devices[0]?.driver).toBe('vfio-pci');
    expect(() => simulate(both, [detach(a)])).toThrow(/device not found/);
  });

  it('detach-hostdev of an <interface type=hostdev> matches it by MAC', () => {
    const vf = hostdev(NIC, { source: 'interface', mac: '52:54:00:00:00:01' });
    const a = domain('a', { hostdevs: [vf] });
    const host = snapshot([device(NIC, { driver: 'vfio-pci' })], [a]);
    expect(addresses(simulate(host, [detach(a, { source: 'interface', mac: '52:54:00:00:00:01' })]).domains[0]!.persistent.hostdevs)).toEqual([]);
    expect(() => simulate(host, [detach(a, { source: 'interface', mac: '52:54:00:00:00:02' })])).toThrow(/device not found/);
  });
});

describe('simulate: interfaces, order and purity', () => {
  it('remove-interface removes the guest NIC by MAC from the scopes it names', () => {
    const a = domain('a', { state: 'running', interfaces: [bridgeNic('br0', '52:54:00:aa:bb:cc'), bridgeNic('br1', '52:54:00:aa:bb:dd')] });
    const nic = a.persistent.interfaces[0]!;
    const remove: InterfaceRemove = {
      kind: 'remove-interface', ...uuidOf(a), interfaceXml: nic.xml, type: nic.type, source: nic.source, mac: nic.mac, config: true, live: false, reason: 'test',
    };
    const after = simulate(snapshot([], [a]), [remove]).domains[0]!;
    expect(after.persistent.interfaces.map((i) => i.source)).toEqual(['br1']);
    expect(after.live?.interfaces.map((i) => i.source)).toEqual(['br0', 'br1']);
    expect(() => simulate(snapshot([], [domain('a')]), [remove])).toThrow(/device not found/);
  });

  it('runs the actions in the order given: a device moved A → B with a managed change on the way', () => {
    const a = domain('a', { hostdevs: [hostdev(NIC)] });
    const b = domain('b', { uuid: '00000000-0000-4000-8000-0000000000bb' });
    const after = simulate(snapshot([device(NIC, { driver: 'vfio-pci' })], [a, b]), [detach(a), attach(b, { managed: false })]);
    expect(after.domains.map((d) => d.persistent.hostdevs)).toEqual([[], [{ address: NIC, managed: false, driver: 'vfio', source: 'hostdev', xml: hostdevXml(NIC, false) }]]);
  });

  it('leaves its input as it was, even when a domain shares one hostdev list between its scopes', () => {
    const a = domain('a', { state: 'running', hostdevs: [hostdev(NIC)] });
    const host = snapshot([device(NIC, { driver: 'vfio-pci' })], [a]);
    const before = JSON.stringify(host);
    const after = simulate(host, [detach(a)]);
    expect(JSON.stringify(host)).toBe(before);
    expect(addresses(after.domains[0]!.live?.hostdevs)).toEqual([NIC]);
  });
});
