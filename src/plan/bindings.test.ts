import { describe, expect, it } from 'vitest';
import { at, byAddress, desired, device, domain, hostdev, snapshot, vm } from '../../test/helpers/builders.js';
import type { HostPlan } from '../model/plan.js';
import type { PersistedBindings } from '../model/snapshot.js';
import { planHost } from './plan-host.js';
import { simulate } from './simulate.js';

const GPU = '0000:01:00.0';
const gpu = device(GPU, { iommuGroup: 1 });
const onVfio = { ...gpu, driver: 'vfio-pci', driverOverride: 'vfio-pci' };
const installed = (overrides: PersistedBindings['overrides'] = []): PersistedBindings => ({ driverctl: '/usr/sbin/driverctl', overrides });
const pinnedIn = (name: string, o: Parameters<typeof domain>[1] = {}) => domain(name, { hostdevs: [hostdev(GPU, { managed: false })], ...o });
const wantPinned = desired([vm('a', [byAddress(GPU, { managed: false })])]);

const steps = (p: HostPlan) => p.actions.map((a) => `${a.kind} ${'address' in a ? a.address : ''}`);
const codes = (p: HostPlan) => p.problems.map((x) => `${x.severity}:${x.code}`);

describe('planPersistedBindings (through planHost)', () => {
  const cases: { name: string; device: typeof gpu; bindings: PersistedBindings; steps: string[]; codes: string[] }[] = [
    { name: 'missing override, device on a host driver: detach, then persist', device: gpu, bindings: installed(), steps: ['nodedev-detach 0000:01:00.0', `persist-binding ${GPU}`], codes: [] },
    { name: 'missing override, device already on vfio-pci: persist only', device: onVfio, bindings: installed(), steps: [`persist-binding ${GPU}`], codes: [] },
    { name: 'vfio-pci persisted: in sync', device: onVfio, bindings: installed([{ address: GPU, driver: 'vfio-pci' }]), steps: [], codes: [] },
    { name: 'a foreign driver persisted: drift, replaced', device: onVfio, bindings: installed([{ address: GPU, driver: 'nouveau' }]), steps: [`persist-binding ${GPU}`], codes: [] },
    {
      name: 'driverctl not installed: blocked with the install command',
      device: onVfio,
      bindings: { driverctl: null, overrides: [] },
      steps: [`persist-binding ${GPU}`],
      codes: ['block:driverctl-missing'],
    },
    {
      name: 'an unreadable override: blocked, nothing written over it',
      device: onVfio,
      bindings: installed([{ address: GPU, driver: null, unreadable: '/etc/driverctl.d/pci-0000:01:00.0 is a FIFO, not a regular file' }]),
      steps: [],
      codes: ['block:binding-unreadable'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planHost(wantPinned, snapshot([c.device], [pinnedIn('a')], { bindings: c.bindings }));
      expect(steps(plan)).toEqual(c.steps);
      expect(codes(plan)).toEqual(c.codes);
    });
  }

  it('names the drift and the install command', () => {
    const foreign = planHost(wantPinned, snapshot([onVfio], [pinnedIn('a')], { bindings: installed([{ address: GPU, driver: 'nouveau' }]) }));
    expect(foreign.actions[0]).toMatchObject({ kind: 'persist-binding', fromDriver: 'nouveau', reason: expect.stringContaining('persists nouveau, not vfio-pci (drift)') });
    const missing = planHost(wantPinned, snapshot([onVfio], [pinnedIn('a')], { bindings: { driverctl: null, overrides: [] } }));
    expect(missing.problems[0]?.hint).toContain('apt-get install driverctl');
    expect(missing.problems[0]?.hint).toContain('dnf install driverctl');
  });

  it('orders persist-binding after nodedev-detach and before attach-hostdev', () => {
    const plan = planHost(wantPinned, snapshot([gpu], [domain('a')], { bindings: installed() }));
    expect(steps(plan)).toEqual([`nodedev-detach ${GPU}`, `persist-binding ${GPU}`, `attach-hostdev ${GPU}`]);
  });

  it('does not persist while a running VM holds the device (driverctl would unbind it): a warning instead', () => {
    const plan = planHost(wantPinned, snapshot([onVfio], [pinnedIn('a', { state: 'running' })], { bindings: installed() }));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['warn:takes-effect-at-next-start']);
    expect(plan.problems[0]?.message).toContain('not persisted while running VM "a" uses it');
  });

  // Found by the property test (seed 7): the holder was read from the live XML before the plan's unplugs.
  it('persists a device this plan hot-unplugs from a running VM (live: true), after the unplug', () => {
    const b = domain('b', { state: 'running', hostdevs: [hostdev(GPU)] });
    const want = desired([vm('a', [byAddress(GPU, { managed: false })]), vm('b', [], { live: true })]);
    const plan = planHost(want, snapshot([onVfio], [domain('a'), b], { bindings: installed() }));
    expect(steps(plan)).toEqual([`detach-hostdev ${GPU}`, `persist-binding ${GPU}`, `attach-hostdev ${GPU}`]);
  });

  // The holder is judged after the unplugs; a running live: true VM still keeps the device it is claimed for.
  it('defers the persist while the running VM it is claimed for (live: true) uses it', () => {
    const want = desired([vm('a', [byAddress(GPU, { managed: false })], { live: true })]);
    const plan = planHost(want, snapshot([onVfio], [pinnedIn('a', { state: 'running' })], { bindings: installed() }));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['warn:takes-effect-at-next-start']);
  });

  // Found by the property test (once the VMs stopped, the plan was blocked): a need that waits is a need all the same.
  it('blocks on driverctl-missing even when the persist waits for a running VM', () => {
    const plan = planHost(wantPinned, snapshot([onVfio], [pinnedIn('a', { state: 'running' })], { bindings: { driverctl: null, overrides: [] } }));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['block:driverctl-missing', 'warn:takes-effect-at-next-start']);
  });

  it('removes the vfio-pci override of a released device after reattaching it', () => {
    const plan = planHost(desired([], { release: [at(GPU)] }), snapshot([onVfio], [], { bindings: installed([{ address: GPU, driver: 'vfio-pci' }]) }));
    expect(steps(plan)).toEqual([`nodedev-reattach ${GPU}`, `unpersist-binding ${GPU}`]);
  });

  it('removes the vfio-pci override of a pruned device, even one already back on its host driver', () => {
    const plan = planHost(desired([vm('a', [])]), snapshot([gpu], [pinnedIn('a')], { bindings: installed([{ address: GPU, driver: 'vfio-pci' }]) }));
    expect(steps(plan)).toEqual([`detach-hostdev ${GPU}`, `unpersist-binding ${GPU}`]);
  });

  it('leaves alone overrides it does not own: a host driver on a released device, vfio-pci on a managed device or an unnamed one', () => {
    const other = device('0000:02:00.0', { iommuGroup: 2, driver: 'vfio-pci' });
    const bindings = installed([
      { address: GPU, driver: 'vfio-pci' },
      { address: '0000:02:00.0', driver: 'vfio-pci' },
    ]);
    const managed = planHost(desired([vm('a', [byAddress(GPU)])]), snapshot([onVfio, other], [domain('a', { hostdevs: [hostdev(GPU)] })], { bindings }));
    expect(steps(managed)).toEqual([]);
    const released = planHost(desired([], { release: [at(GPU)] }), snapshot([gpu], [], { bindings: installed([{ address: GPU, driver: 'igb' }]) }));
    expect(steps(released)).toEqual([]);
  });

  it('does not unpersist a device a running VM keeps (live: false), until it stops', () => {
    const running = pinnedIn('a', { state: 'running' });
    const plan = planHost(desired([vm('a', [])]), snapshot([onVfio], [running], { bindings: installed([{ address: GPU, driver: 'vfio-pci' }]) }));
    expect(steps(plan)).toEqual([`detach-hostdev ${GPU}`]);
  });

  it('invents nothing for a host whose bindings are unknown (remote): a warning naming the devices', () => {
    const plan = planHost(wantPinned, snapshot([onVfio], [pinnedIn('a')], { deviceSource: 'nodedev', bindingsUnknown: 'the host is observed through libvirt only' }));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['warn:bindings-unknown']);
    expect(plan.problems[0]?.message).toContain('the host is observed through libvirt only');
    expect(plan.problems[0]?.message).toContain(GPU);
  });

  it('converges: the plan carried out on the model leaves nothing to do', () => {
    const before = snapshot([gpu], [domain('a')], { bindings: installed([{ address: GPU, driver: 'nouveau' }]) });
    const plan = planHost(wantPinned, before);
    const after = simulate(before, plan.actions);
    expect(after.bindings?.overrides).toEqual([{ address: GPU, driver: 'vfio-pci' }]);
    expect(planHost(wantPinned, after).actions).toEqual([]);
  });
});
