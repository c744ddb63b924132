import { describe, expect, it } from 'vitest';
import { byAddress, desired, device, domain, hostdev, snapshot, vm } from '../../test/helpers/builders.js';
import type { DeviceClaim, SriovPf, VfInterface } from '../model/desired.js';
import type { Action, HostPlan } from '../model/plan.js';
import { vfAddress } from '../model/sriov-address.js';
import type { DomainHostdev, HostSnapshot, PciDevice } from '../model/snapshot.js';
import { renderPlanSh } from '../render/plan-sh.js';
import { renderPlanText } from '../render/plan-text.js';
import { plainStyle } from '../render/style.js';
import { planHost } from './plan-host.js';

const PF = '0000:01:00.0';
const pos = { file: 'passthrough.yaml', line: 3, col: 5 };
const vfAt = (i: number) => vfAddress(PF, 128, 2, i) as string;

/** The lab's igb PF with `numVfs` VFs enabled (offset 128, stride 2: VF i at 01:10.0 + 2i), each in its own group. */
function host(numVfs: number, domains: HostSnapshot['domains'] = [], over: Partial<HostSnapshot> = {}): HostSnapshot {
  const vfs: PciDevice[] = Array.from({ length: numVfs }, (_, i) =>
    device(vfAt(i), { vendor: '8086', product: '10ca', driver: 'igbvf', iommuGroup: 10 + i, physFunction: PF }),
  );
  const pf = device(PF, {
    vendor: '8086',
    product: '10c9',
    driver: 'igb',
    iommuGroup: 1,
    virtualFunctions: vfs.map((v) => v.address),
    sriov: { numVfs, totalVfs: 7, offset: 128, stride: 2, vfDevice: '10ca' },
  });
  return snapshot([pf, ...vfs], domains, { sriovPersisted: numVfs > 0 ? [{ pf: PF, numVfs }] : [], ...over });
}

const sriov = (numVfs: number): SriovPf[] => [{ host: 'local', pf: PF, numVfs, pos }];
const base = { managed: true, force: false, pos };
const byVf = (index: number, iface?: VfInterface): DeviceClaim => ({ kind: 'vf', pf: PF, index, expect: null, ...base, ...(iface ? { interface: iface } : {}) });
const byPf = (count: number, iface?: VfInterface): DeviceClaim => ({ kind: 'vf-match', pf: PF, count, ...base, ...(iface ? { interface: iface } : {}) });
const iface = (mac: string | null, vlan: number | null, trust = false): VfInterface => ({ mac, vlan, trust });

const vfNic = (i: number, mac: string, more: Partial<DomainHostdev> = {}, children = ''): DomainHostdev => ({
  ...hostdev(vfAt(i), { source: 'interface', mac }),
  ...more,
  xml:
    `<interface type='hostdev' managed='yes'${more.trust ? " trustGuestRxFilters='yes'" : ''}>\n      <mac address='${mac}'/>\n` +
    `      <source>\n        <address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x${(2 * i).toString(16)}'/>\n      </source>\n` +
    `${(more.vlan ?? []).map((t) => `      <vlan>\n        <tag id='${t}'/>\n      </vlan>\n`).join('')}${children}    </interface>`,
});

const steps = (p: HostPlan) =>
  p.actions.map((a: Action) => {
    if (a.kind === 'set-numvfs' || a.kind === 'persist-numvfs') return `${a.kind} ${a.address} ${a.from}→${a.to}`;
    return `${a.kind} ${'vm' in a ? `${a.vm} ` : ''}${'address' in a ? a.address : ''}`;
  });
const codes = (p: HostPlan) => p.problems.map((x) => `${x.severity}:${x.code}`);
const plan = (vms: ReturnType<typeof vm>[], snap: HostSnapshot, numVfs: number | null) =>
  planHost(desired(vms, numVfs === null ? {} : { sriov: sriov(numVfs) }), snap);

describe('planSriov: VF counts (SPEC 11)', () => {
  /** [what, observed VFs, persisted override, desired numVfs, expected steps, expected problem codes] */
  const TABLE: [string, number, { pf: string; numVfs: number }[] | undefined, number, string[], string[]][] = [
    ['in sync', 2, undefined, 2, [], []],
    ['0 → 2: set, then persist', 0, undefined, 2, [`set-numvfs ${PF} 0→2`, `persist-numvfs ${PF} 0→2`], []],
    ['2 → 4 with no VF in use', 2, undefined, 4, [`set-numvfs ${PF} 2→4`, `persist-numvfs ${PF} 2→4`], []],
    ['2 → 0 removes the persisted line', 2, undefined, 0, [`set-numvfs ${PF} 2→0`, `persist-numvfs ${PF} 2→0`], []],
    ['set but not persisted: a missing rule is drift', 2, [], 2, [`persist-numvfs ${PF} 0→2`], []],
    ['more than sriov_totalvfs', 0, undefined, 8, [`set-numvfs ${PF} 0→8`, `persist-numvfs ${PF} 0→8`], ['block:numvfs-too-many']],
  ];
  it.each(TABLE)('%s', (_what, observed, persisted, numVfs, expectedSteps, expectedCodes) => {
    const snap = host(observed, [], persisted === undefined ? {} : { sriovPersisted: persisted });
    const p = plan([], snap, numVfs);
    expect(steps(p)).toEqual(expectedSteps);
    expect(codes(p)).toEqual(expectedCodes);
  });

  it('blocks a count change while any VF of the PF is in any domain, running or not, listed or not', () => {
    const p = plan([vm('nfv1', [byVf(1)])], host(2, [domain('nfv1', { hostdevs: [hostdev(vfAt(1))] }), domain('other', { state: 'running', hostdevs: [hostdev(vfAt(0))] })]), 3);
    // VF 1 is claimed at the address the new count gives it again, once set-numvfs recreates it.
    expect(codes(p)).toEqual(['block:vfs-in-use', 'block:vfs-in-use', 'warn:vf-not-yet-created']);
    expect(p.problems[0]?.message).toContain(`VF ${vfAt(0)} is in VM "other"`);
  });

  it('blocks a count change on a remote host, and a PF that is not SR-IOV capable', () => {
    expect(codes(plan([], host(0, [], { deviceSource: 'nodedev' }), 2))).toEqual(['block:numvfs-remote']);
    const notPf = snapshot([device(PF, { driver: 'e1000e', iommuGroup: 1 })], []);
    expect(codes(plan([], notPf, 2))).toEqual(['block:not-sriov-capable']);
  });

  it('puts set-numvfs first, claims VFs that the count creates at their offset/stride addresses', () => {
    const p = plan([vm('nfv1', [byVf(1, iface('52:54:00:12:34:56', 100))])], host(0, [domain('nfv1')]), 2);
    expect(steps(p)).toEqual([`set-numvfs ${PF} 0→2`, `persist-numvfs ${PF} 0→2`, 'nodedev-detach 0000:01:10.2', 'attach-hostdev nfv1 0000:01:10.2']);
    expect(codes(p)).toEqual(['warn:vf-not-yet-created']);
    // The detach of the VF the count creates says so: rolling back, it goes with the count.
    expect(p.actions[2]).toEqual({ kind: 'nodedev-detach', address: '0000:01:10.2', fromDriver: null, createdWith: PF, reason: expect.any(String) });
    const attach = p.actions[3];
    expect(attach).toMatchObject({ interface: { mac: '52:54:00:12:34:56', vlan: 100, trust: false } });
    expect(attach?.kind === 'attach-hostdev' && attach.hostdevXml).toBe(
      '<interface type="hostdev" managed="yes"><mac address="52:54:00:12:34:56"/><source><address type="pci" domain="0x0000" bus="0x01" slot="0x10" function="0x2"/></source><vlan><tag id="100"/></vlan></interface>',
    );
  });
});

describe('VF claims and their interfaces (SPEC 11)', () => {
  it('resolves vf: { pf, index } through the virtfn links and match: { pf } lowest index first, sticky', () => {
    const snap = host(4, [domain('a', { hostdevs: [hostdev(vfAt(3))] }), domain('b')]);
    const p = plan([vm('a', [byPf(2)]), vm('b', [byVf(0)])], snap, 4);
    // a keeps VF 3 (sticky) and gets VF 1 (VF 0 is b's by index).
    expect(steps(p)).toEqual(['nodedev-detach 0000:01:10.0', 'nodedev-detach 0000:01:10.2', 'attach-hostdev a 0000:01:10.2', 'attach-hostdev b 0000:01:10.0']);
    expect(codes(p)).toEqual([]);
    // VFs that exist already: their detach is undone by a reattach as any other's.
    expect(p.actions.filter((a) => 'createdWith' in a)).toEqual([]);
  });

  it('warns that libvirt will not start a VM with a VF <interface> while the PF\'s link is down, and only then', () => {
    const down = host(2, [domain('a')]);
    const pf = down.devices.find((d) => d.address === PF);
    if (pf?.sriov) pf.sriov.linksDown = ['enp1s0'];
    const p = plan([vm('a', [byVf(1, iface('52:54:00:12:34:56', 42))])], down, 2);
    expect(codes(p)).toEqual(['warn:pf-link-down']);
    expect(p.problems[0]).toMatchObject({ address: vfAt(1), vm: 'a', hint: expect.stringContaining('ip link set enp1s0 up') });
    // A plain hostdev VF does not need the PF online; nor does an interface VF of a PF whose link is up.
    expect(codes(plan([vm('a', [byVf(1)])], down, 2))).toEqual([]);
    expect(codes(plan([vm('a', [byVf(1, iface('52:54:00:12:34:56', 42))])], host(2, [domain('a')]), 2))).toEqual([]);
  });

  it('blocks a VF claimed twice through two spellings, a VF index beyond the count, a PF with VFs, an interface on a non-VF', () => {
    const other = device('0000:02:00.0', { iommuGroup: 5 });
    const snap = { ...host(2, [domain('a'), domain('b')]) };
    snap.devices = [...snap.devices, other];
    const p = plan(
      [vm('a', [byVf(1), byVf(5)]), vm('b', [byAddress(vfAt(1)), byAddress(PF), byAddress('0000:02:00.0', { interface: iface(null, 7) })])],
      snap,
      null,
    );
    expect(codes(p)).toEqual(['block:device-not-found', 'block:vf-claimed-twice', 'block:pf-and-vf-assigned', 'block:pf-has-vfs', 'block:interface-not-a-vf']);
  });

  it('keeps a MAC left to libvirt (sticky), and treats MAC, VLAN and trust differences as detach + attach of that interface', () => {
    const guestAddress = "      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n";
    const present = vfNic(1, '52:54:00:aa:00:01', { vlan: [100] }, guestAddress);
    const snap = host(2, [domain('nfv1', { hostdevs: [present] })]);
    expect(steps(plan([vm('nfv1', [byVf(1, iface(null, 100))])], snap, 2))).toEqual([]);
    const changed = plan([vm('nfv1', [byVf(1, iface(null, 200, true))])], snap, 2);
    expect(steps(changed)).toEqual(['detach-hostdev nfv1 0000:01:10.2', 'attach-hostdev nfv1 0000:01:10.2']);
    expect(changed.actions[0]?.reason).toBe('VLAN changes from 100 to 200, trust changes from no to yes');
    const attach = changed.actions[1];
    if (attach?.kind !== 'attach-hostdev') throw new Error('expected an attach');
    // Re-added from the element observed: its MAC and guest address kept, VLAN and trust rewritten.
    expect(attach.interface).toEqual({ mac: '52:54:00:aa:00:01', vlan: 200, trust: true });
    expect(attach.hostdevXml).toContain("<mac address='52:54:00:aa:00:01'/>");
    expect(attach.hostdevXml).toContain(guestAddress.trim());
    expect(attach.hostdevXml).toContain("<tag id='200'/>");
    expect(attach.hostdevXml).not.toContain("<tag id='100'/>");
    expect(attach.hostdevXml).toMatch(/^<interface trustGuestRxFilters='yes' type='hostdev' managed='yes'>/);
    const detach = changed.actions[0];
    expect(detach).toMatchObject({ source: 'interface', mac: '52:54:00:aa:00:01', interface: { mac: '52:54:00:aa:00:01', vlan: 100, trust: false } });
    // A MAC change, and an interface given back as a plain hostdev.
    expect(plan([vm('nfv1', [byVf(1, iface('52:54:00:aa:00:09', 100))])], snap, 2).actions[0]?.reason).toBe('MAC changes from 52:54:00:aa:00:01 to 52:54:00:aa:00:09');
    expect(plan([vm('nfv1', [byVf(1)])], snap, 2).actions[1]).toMatchObject({ kind: 'attach-hostdev', hostdevXml: expect.stringMatching(/^<hostdev /) });
  });

  it('renders the VF by PF and index in text, and sh writes sriov_numvfs (0 first) and the udev rule, quoted', () => {
    const snap = host(1, [domain('nfv1')]);
    const p = plan([vm('nfv1', [byVf(0, iface('52:54:00:12:34:56', 100, true))])], snap, 3);
    p.problems = [];
    const whole = { format_version: '1' as const, applyable: true, changes: true, hosts: [p] };
    const text = renderPlanText(whole, new Map([['local', snap]]), plainStyle);
    expect(text).toContain(`0000:01:10.0 (VF 0 of ${PF}) mac=52:54:00:12:34:56 vlan=100 trust=yes managed=yes (config)`);
    expect(text).toContain(`${PF} 8086 10c9 [8086:10c9]: 1 → 3 VFs`);
    const sh = renderPlanSh(whole);
    expect(sh).toContain(`[ "$(cat /sys/bus/pci/devices/${PF}/sriov_numvfs)" = 0 ] || echo 0 > /sys/bus/pci/devices/${PF}/sriov_numvfs\necho 3 > /sys/bus/pci/devices/${PF}/sriov_numvfs`);
    expect(sh).toContain(`echo 'ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="${PF}", ATTR{sriov_numvfs}="3"' >> /etc/udev/rules.d/70-passthru-sriov.rules`);
    expect(sh).toContain("<interface type=\"hostdev\" managed=\"yes\" trustGuestRxFilters=\"yes\">");
  });
});
