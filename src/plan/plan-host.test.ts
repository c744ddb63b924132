import { describe, expect, it } from 'vitest';
import {
  at,
  bridge,
  bridgeNic,
  byAddress,
  byMatch,
  desired,
  device,
  domain,
  hostdev,
  removeNic,
  ROM_HOSTDEV,
  snapshot,
  vm,
} from '../../test/helpers/builders.js';
import type { Action, HostPlan } from '../model/plan.js';
import { planHost } from './plan-host.js';

const steps = (p: HostPlan) =>
  p.actions.map((a: Action) => {
    const target = a.kind === 'remove-interface' ? `${a.vm} ${a.type}:${a.source}` : `${'vm' in a ? `${a.vm} ` : ''}${a.address}`;
    const where = 'config' in a ? ` ${a.config ? 'config' : ''}${a.live ? '+live' : ''}` : '';
    return `${a.kind} ${target}${where}`;
  });
const codes = (p: HostPlan) => p.problems.map((x) => `${x.severity}:${x.code}`);

const nic = device('0000:07:00.0', { iommuGroup: 17 });
const seedVm = () =>
  domain('rhel7.3', { interfaces: [bridgeNic('br0', '52:54:00:aa:bb:cc'), bridgeNic('br1', '52:54:00:aa:bb:dd')] });

describe('planHost: the seed scenario', () => {
  it('detaches the NIC, attaches it to the VM and removes the bridge NIC, in SPEC order', () => {
    const plan = planHost(
      desired([vm('rhel7.3', [byAddress('0000:07:00.0')], { removeInterfaces: [removeNic('bridge', 'br0')] })]),
      snapshot([nic], [seedVm()]),
    );
    expect(steps(plan)).toEqual([
      'nodedev-detach 0000:07:00.0',
      'attach-hostdev rhel7.3 0000:07:00.0 config',
      'remove-interface rhel7.3 bridge:br0 config',
    ]);
    expect(plan.problems).toEqual([]);
    expect(plan.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('is empty once converged (idempotent), and stays empty when the managed device is back on igb with the VM off', () => {
    const converged = domain('rhel7.3', { hostdevs: [hostdev('0000:07:00.0')], interfaces: [bridgeNic('br1', 'x')] });
    const want = desired([vm('rhel7.3', [byAddress('0000:07:00.0')], { removeInterfaces: [removeNic('bridge', 'br0')] })]);
    expect(steps(planHost(want, snapshot([{ ...nic, driver: 'vfio-pci' }], [converged])))).toEqual([]);
    expect(steps(planHost(want, snapshot([nic], [converged])))).toEqual([]);
  });
});

describe('planHost: bindings', () => {
  it('requires vfio-pci for a device of a running VM and for managed: false', () => {
    const running = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] });
    expect(steps(planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snapshot([nic], [running])))).toEqual([
      'nodedev-detach 0000:07:00.0',
    ]);
    const unmanaged = domain('a', { hostdevs: [hostdev('0000:07:00.0', { managed: false })] });
    expect(
      steps(planHost(desired([vm('a', [byAddress('0000:07:00.0', { managed: false })])]), snapshot([nic], [unmanaged]))),
    ).toEqual(['nodedev-detach 0000:07:00.0']);
  });

  it('reattaches a pruned device that is on vfio-pci, but not one that moves to another VM', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { hostdevs: [hostdev('0000:07:00.0')] });
    const b = domain('b');
    expect(steps(planHost(desired([vm('a', []), vm('b', [])]), snapshot([dev], [a, b])))).toEqual([
      'detach-hostdev a 0000:07:00.0 config',
      'nodedev-reattach 0000:07:00.0',
    ]);
    expect(steps(planHost(desired([vm('a', []), vm('b', [byAddress('0000:07:00.0')])]), snapshot([dev], [a, b])))).toEqual([
      'detach-hostdev a 0000:07:00.0 config',
      'attach-hostdev b 0000:07:00.0 config',
    ]);
  });

  it('releases devices listed under release that sit on vfio-pci, and nothing that is already on a host driver', () => {
    const devs = [device('0000:07:00.0', { driver: 'vfio-pci' }), device('0000:07:00.1', { iommuGroup: 18 })];
    const plan = planHost(desired([], { release: [at('0000:07:00')] }), snapshot(devs, []));
    expect(steps(plan)).toEqual(['nodedev-reattach 0000:07:00.0']);
  });

  it('does not reattach a device that a running VM still uses when live is false, and says when it will be released', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] });
    const plan = planHost(desired([vm('a', [])]), snapshot([dev], [a]));
    expect(steps(plan)).toEqual(['detach-hostdev a 0000:07:00.0 config']);
    expect(codes(plan)).toEqual(['warn:takes-effect-at-next-start', 'warn:takes-effect-at-next-start']);
  });

  it('promises a later reattach only for a device listed under release: a pruned one is in no config once its VM stopped', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] });
    const warning = (p: HostPlan) => p.problems.find((x) => x.address === '0000:07:00.0')?.message;
    expect(warning(planHost(desired([vm('a', [])], { release: [at('0000:07:00.0')] }), snapshot([dev], [a])))).toContain(
      'returned to its host driver by the next apply after that',
    );
    const pruned = warning(planHost(desired([vm('a', [])]), snapshot([dev], [a])));
    expect(pruned).not.toContain('returned to its host driver by the next apply');
    expect(pruned).toContain('`release`');
    // Once the VM stopped, nothing names the device any more: the plan is empty and the device stays on vfio-pci.
    const stopped = domain('a');
    expect(steps(planHost(desired([vm('a', [])]), snapshot([dev], [stopped])))).toEqual([]);
  });
});

describe('planHost: devices another domain keeps (found by the property test)', () => {
  const dev = { ...nic, driver: 'vfio-pci' };

  it('does not reattach a pruned device that a running VM the file does not list holds', () => {
    const a = domain('a', { hostdevs: [hostdev('0000:07:00.0')] });
    const other = domain('other', { state: 'running', hostdevs: [hostdev('0000:07:00.0')], uuid: '00000000-0000-4000-8000-0000000000ff' });
    const plan = planHost(desired([vm('a', [])]), snapshot([dev], [a, other]));
    expect(steps(plan)).toEqual(['detach-hostdev a 0000:07:00.0 config']);
    expect(plan.problems).toEqual([]);
  });

  it.each([
    ['in its config and running domain', domain('b', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] }), ['detach-hostdev b 0000:07:00.0 config']],
    ['hot-plugged only', domain('b', { state: 'running', hostdevs: [], liveHostdevs: [hostdev('0000:07:00.0')] }), []],
  ])('does not reattach a released device that a listed running VM with live: false still holds (%s)', (_what, b, expected) => {
    const plan = planHost(desired([vm('b', [])], { release: [at('0000:07:00.0')] }), snapshot([dev], [b]));
    expect(steps(plan)).toEqual(expected);
    expect(plan.problems.filter((p) => p.address === '0000:07:00.0').map((p) => `${p.severity}:${p.code}`)).toEqual(['warn:takes-effect-at-next-start']);
  });
});

describe('planHost: the order in which the host lists its domains (found by the property test)', () => {
  it('warns that a listed running VM keeps a pruned device, also when a VM the file does not list has it too', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const b = domain('b', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] });
    const other = domain('other', { hostdevs: [hostdev('0000:07:00.0')], uuid: '00000000-0000-4000-8000-0000000000ff' });
    for (const domains of [[b, other], [other, b]]) {
      const plan = planHost(desired([vm('b', [])]), snapshot([dev], domains));
      expect(steps(plan)).toEqual(['detach-hostdev b 0000:07:00.0 config']);
      expect(plan.problems.map((p) => `${p.code}:${p.address ?? ''}`)).toEqual(['takes-effect-at-next-start:', 'takes-effect-at-next-start:0000:07:00.0']);
    }
  });
});

describe('planHost: live domains', () => {
  it('hot-plugs and hot-unplugs when live: true and the VM runs', () => {
    const devs = [nic, device('0000:08:00.0', { iommuGroup: 20, driver: 'vfio-pci' })];
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:08:00.0')], interfaces: [bridgeNic('br0', 'm1')] });
    const plan = planHost(
      desired([vm('a', [byAddress('0000:07:00.0')], { live: true, removeInterfaces: [removeNic('bridge', null)] })]),
      snapshot(devs, [a]),
    );
    expect(steps(plan)).toEqual([
      'detach-hostdev a 0000:08:00.0 config+live',
      'nodedev-reattach 0000:08:00.0',
      'nodedev-detach 0000:07:00.0',
      'attach-hostdev a 0000:07:00.0 config+live',
      'remove-interface a bridge:br0 config+live',
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('removes a replaced guest NIC that is only in the running domain when live: true (found by the property test)', () => {
    const a = domain('a', { state: 'running' });
    const running = { ...a, live: { ...a.live!, interfaces: [bridgeNic('br0', '52:54:00:cc:00:00')] } };
    const want = (live: boolean) => desired([vm('a', [], { live, removeInterfaces: [removeNic('bridge', null)] })]);
    expect(steps(planHost(want(true), snapshot([], [running])))).toEqual(['remove-interface a bridge:br0 +live']);
    expect(steps(planHost(want(false), snapshot([], [running])))).toEqual([]);
  });

  it('plugs a configured device that is missing from the running domain', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0')], liveHostdevs: [] });
    expect(steps(planHost(desired([vm('a', [byAddress('0000:07:00.0')], { live: true })]), snapshot([dev], [a])))).toEqual([
      'attach-hostdev a 0000:07:00.0 +live',
    ]);
  });

  it('warns that a config-only change to a running VM takes effect at next start', () => {
    const a = domain('a', { state: 'running' });
    const plan = planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snapshot([nic], [a]));
    expect(steps(plan)).toEqual(['nodedev-detach 0000:07:00.0', 'attach-hostdev a 0000:07:00.0 config']);
    expect(codes(plan)).toEqual(['warn:takes-effect-at-next-start']);
  });

  it('adds a claimed device that was only hot-plugged to the config, without plugging it again (found by the property test)', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [], liveHostdevs: [hostdev('0000:07:00.0')] });
    expect(steps(planHost(desired([vm('a', [byAddress('0000:07:00.0')], { live: true })]), snapshot([dev], [a])))).toEqual([
      'attach-hostdev a 0000:07:00.0 config',
    ]);
  });

  it.each([
    ['hot-plugged only', domain('a', { state: 'running', hostdevs: [], liveHostdevs: [hostdev('0000:07:00.0')] }), []],
    ['in its config too', domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0')] }), ['detach-hostdev a 0000:07:00.0 config']],
  ])(
    'does not hot-plug a device into a VM while a listed running VM with live: false holds it (%s; found by the property test)',
    (_what, a, before) => {
      const dev = { ...nic, driver: 'vfio-pci' };
      const b = domain('b', { state: 'running', uuid: '00000000-0000-4000-8000-0000000000bb' });
      const plan = planHost(desired([vm('a', []), vm('b', [byAddress('0000:07:00.0')], { live: true })]), snapshot([dev], [a, b]));
      expect(steps(plan)).toEqual([...before, 'attach-hostdev b 0000:07:00.0 config']);
      expect(plan.problems.find((p) => p.vm === 'b')).toMatchObject({ severity: 'warn', code: 'takes-effect-at-next-start', address: '0000:07:00.0' });
    },
  );

  it('binds every function of a slot to vfio-pci before hot-plugging any, also one already in the config (found by the property test)', () => {
    const gpu = device('0000:01:00.0', { vendor: '10de', product: '2330', class: '030000', driver: 'nouveau', iommuGroup: 4 });
    const audio = device('0000:01:00.1', { vendor: '10de', product: '22bb', class: '040300', driver: 'snd_hda_intel', iommuGroup: 4 });
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:01:00.1')], liveHostdevs: [] });
    const plan = planHost(desired([vm('a', [byAddress('0000:01:00')], { live: true })]), snapshot([gpu, audio], [a]));
    expect(steps(plan)).toEqual([
      'nodedev-detach 0000:01:00.0',
      'nodedev-detach 0000:01:00.1',
      'attach-hostdev a 0000:01:00.0 config+live',
      'attach-hostdev a 0000:01:00.1 +live',
    ]);
  });

  it('hot-plugs a device once when its managed flag changes and the running domain lacks it', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0', { managed: false })], liveHostdevs: [] });
    expect(steps(planHost(desired([vm('a', [byAddress('0000:07:00.0')], { live: true })]), snapshot([dev], [a])))).toEqual([
      'detach-hostdev a 0000:07:00.0 config',
      'attach-hostdev a 0000:07:00.0 config+live',
    ]);
  });

  it('replaces a hostdev whose managed flag differs', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { hostdevs: [hostdev('0000:07:00.0', { managed: false })] });
    expect(steps(planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snapshot([dev], [a])))).toEqual([
      'detach-hostdev a 0000:07:00.0 config',
      'attach-hostdev a 0000:07:00.0 config',
    ]);
  });

  it('re-adds a hostdev whose managed flag changes from the element the VM has, every child kept (SPEC 13)', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const element = ROM_HOSTDEV.replace("managed='yes'", "managed='no'");
    const disk = "<disk type='file' device='disk'><boot order='1'/></disk>";
    const a = { ...domain('a', { hostdevs: [hostdev('0000:07:00.0', { managed: false, xml: element })] }), persistentXml: `<domain>${disk}${element}</domain>` };
    const plan = planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snapshot([dev], [a]));
    expect(plan.actions.map((x) => (x.kind === 'attach-hostdev' || x.kind === 'detach-hostdev' ? [x.kind, x.hostdevXml] : x.kind))).toEqual([
      ['detach-hostdev', element],
      ['attach-hostdev', ROM_HOSTDEV],
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('blocks a managed change of the VM\'s only <boot order> device: libvirt would refuse to re-add it', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = { ...domain('a', { hostdevs: [hostdev('0000:07:00.0', { managed: false, xml: ROM_HOSTDEV })] }), persistentXml: `<domain>${ROM_HOSTDEV}</domain>` };
    const plan = planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snapshot([dev], [a]));
    expect(steps(plan)).toEqual([]);
    expect(plan.problems).toMatchObject([{ severity: 'block', code: 'boot-order-lost', address: '0000:07:00.0', vm: 'a' }]);
  });

  it('hot-plugs a configured device as its config declares it', () => {
    const dev = { ...nic, driver: 'vfio-pci' };
    const a = domain('a', { state: 'running', hostdevs: [hostdev('0000:07:00.0', { xml: ROM_HOSTDEV })], liveHostdevs: [] });
    const plan = planHost(desired([vm('a', [byAddress('0000:07:00.0')], { live: true })]), snapshot([dev], [a]));
    expect(plan.actions).toMatchObject([{ kind: 'attach-hostdev', config: false, live: true, hostdevXml: ROM_HOSTDEV }]);
  });
});

describe('planHost: guest NICs without a MAC', () => {
  // libvirt assigns a MAC to every <interface> it defines (checked with libvirt 9.0): only a snapshot or a
  // hand-written domain lacks one, and detach-device could not tell such an interface apart.
  it('blocks pruning a VF interface without a MAC, so plan, json, sh and apply all refuse it', () => {
    const vf = device('0000:03:10.0', { driver: 'vfio-pci', iommuGroup: 60, physFunction: '0000:03:00.0' });
    const a = domain('a', { hostdevs: [hostdev('0000:03:10.0', { source: 'interface' })] });
    const plan = planHost(desired([vm('a', [])]), snapshot([vf], [a]));
    expect(plan.actions.filter((x) => x.kind === 'detach-hostdev')).toEqual([]);
    expect(plan.problems).toMatchObject([{ severity: 'block', code: 'interface-without-mac', vm: 'a', address: '0000:03:10.0' }]);
  });

  it('blocks removing a guest NIC without a MAC', () => {
    const macless = { ...bridgeNic('br0', 'x'), mac: null };
    const a = domain('a', { interfaces: [macless] });
    const plan = planHost(desired([vm('a', [], { removeInterfaces: [removeNic('bridge', 'br0')] })]), snapshot([nic], [a]));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['block:interface-without-mac']);
    expect(plan.problems[0]?.message).toContain('the bridge interface on br0');
  });
});

describe('planHost: claims', () => {
  it('expands a whole slot to all of its functions (GPU + audio)', () => {
    const gpu = device('0000:01:00.0', { vendor: '10de', product: '2330', class: '030000', driver: 'nouveau', iommuGroup: 1 });
    const audio = device('0000:01:00.1', { vendor: '10de', product: '22bb', class: '040300', driver: 'snd_hda_intel', iommuGroup: 1 });
    const plan = planHost(desired([vm('g', [byAddress('0000:01:00')])]), snapshot([gpu, audio], [domain('g')]));
    expect(steps(plan)).toEqual([
      'nodedev-detach 0000:01:00.0',
      'nodedev-detach 0000:01:00.1',
      'attach-hostdev g 0000:01:00.0 config',
      'attach-hostdev g 0000:01:00.1 config',
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('resolves selectors lowest address first and keeps what a VM already has (sticky)', () => {
    const gpus = ['0000:41:00.0', '0000:21:00.0', '0000:61:00.0'].map((a, i) =>
      device(a, { vendor: '10de', product: '2330', class: '030200', driver: 'vfio-pci', iommuGroup: 40 + i }),
    );
    const fresh = planHost(desired([vm('g', [byMatch('10de', '2330', 2)])]), snapshot(gpus, [domain('g')]));
    expect(steps(fresh)).toEqual(['attach-hostdev g 0000:21:00.0 config', 'attach-hostdev g 0000:41:00.0 config']);
    const sticky = planHost(
      desired([vm('g', [byMatch('10de', '2330', 2)])]),
      snapshot(gpus, [domain('g', { hostdevs: [hostdev('0000:61:00.0')] })]),
    );
    expect(steps(sticky)).toEqual(['attach-hostdev g 0000:21:00.0 config']);
  });

  it('keeps each attached device with the selector whose managed flag it has, so two selectors of one identity converge (found by the property test)', () => {
    const vfs = ['0000:01:10.0', '0000:02:10.0'].map((a, i) => device(a, { product: '10ed', driver: 'vfio-pci', iommuGroup: 50 + i }));
    const want = desired([vm('a', [byMatch('8086', '10ed', 1), byMatch('8086', '10ed', 1, { managed: false })])]);
    const a = domain('a', { hostdevs: [hostdev('0000:01:10.0', { managed: false }), hostdev('0000:02:10.0')] });
    expect(steps(planHost(want, snapshot(vfs, [a])))).toEqual([]);
  });

  it('keeps the lowest attached devices when a VM holds more matches than count, whatever the snapshot order', () => {
    const gpus = ['0000:61:00.0', '0000:21:00.0', '0000:41:00.0'].map((a, i) =>
      device(a, { vendor: '10de', product: '2330', class: '030200', driver: 'vfio-pci', iommuGroup: 40 + i }),
    );
    const g = domain('g', { hostdevs: gpus.map((d) => hostdev(d.address)) });
    expect(steps(planHost(desired([vm('g', [byMatch('10de', '2330', 2)])]), snapshot(gpus, [g])))).toEqual([
      'detach-hostdev g 0000:61:00.0 config',
      'nodedev-reattach 0000:61:00.0',
    ]);
  });

  it('never picks a device that another VM not in the file uses, and reports a shortfall', () => {
    const gpu = device('0000:21:00.0', { vendor: '10de', product: '2330', iommuGroup: 40 });
    const other = domain('other', { hostdevs: [hostdev('0000:21:00.0')] });
    const plan = planHost(desired([vm('g', [byMatch('10de', '2330', 1)])]), snapshot([gpu], [domain('g'), other]));
    expect(steps(plan)).toEqual([]);
    expect(codes(plan)).toEqual(['block:selector-shortfall']);
    expect(plan.problems[0]?.message).toContain('only 0 free device(s) match on host local: 0000:21:00.0 is in VM "other" (not in the file)');
  });

  it('prunes hostdevs the file does not claim, including <interface type=hostdev> (by MAC)', () => {
    const vf = device('0000:03:10.0', { driver: 'vfio-pci', iommuGroup: 60, physFunction: '0000:03:00.0' });
    const a = domain('a', { hostdevs: [hostdev('0000:03:10.0', { source: 'interface', mac: '52:54:00:00:00:01' })] });
    const plan = planHost(desired([vm('a', [])]), snapshot([vf], [a]));
    expect(plan.actions[0]).toMatchObject({ kind: 'detach-hostdev', source: 'interface', mac: '52:54:00:00:00:01' });
    expect(steps(plan)).toEqual(['detach-hostdev a 0000:03:10.0 config', 'nodedev-reattach 0000:03:10.0']);
  });

  it('never touches VMs the file does not list', () => {
    const other = domain('other', { hostdevs: [hostdev('0000:07:00.0')], interfaces: [bridgeNic('br0', 'm')] });
    expect(steps(planHost(desired([]), snapshot([{ ...nic, driver: 'vfio-pci' }], [other])))).toEqual([]);
  });
});

describe('planHost: safety (SPEC 3)', () => {
  const block = (plan: HostPlan, code: string) => {
    const p = plan.problems.find((x) => x.code === code);
    expect(p, `expected a ${code} problem, got ${codes(plan).join(', ')}`).toBeDefined();
    expect(p!.severity).toBe('block');
    return p!;
  };

  it('blocks when the IOMMU is off, with the remedy', () => {
    const plan = planHost(
      desired([vm('rhel7.3', [byAddress('0000:07:00.0')])]),
      snapshot([{ ...nic, iommuGroup: null }], [seedVm()], {
        iommu: { groupsPresent: false, dmarTable: false, ivrsTable: false, cmdline: 'ro quiet' },
      }),
    );
    const p = block(plan, 'iommu-disabled');
    expect(p.message).toContain('ro quiet');
    expect(p.hint).toContain('intel_iommu=on');
    expect(p.hint).toContain('/proc/cmdline');
  });

  it('blocks a group that is not viable, naming the sibling, its driver and the fix', () => {
    const f0 = device('0000:02:00.0', { iommuGroup: 12, driver: 'e1000e' });
    const f1 = device('0000:02:00.1', { iommuGroup: 12, driver: 'e1000e' });
    const rp = bridge('0000:00:1c.0', 12);
    const plan = planHost(desired([vm('a', [byAddress('0000:02:00.0')])]), snapshot([rp, f0, f1], [domain('a')]));
    const p = block(plan, 'iommu-group-not-viable');
    expect(p.message).toContain('0000:02:00.1');
    expect(p.message).toContain('e1000e');
    expect(p.hint).toContain('0000:02:00');
    expect(codes(plan)).toEqual(['block:iommu-group-not-viable']);
    // the whole slot is viable; the bridge in the group is exempt; an unbound sibling is fine too
    expect(codes(planHost(desired([vm('a', [byAddress('0000:02:00')])]), snapshot([rp, f0, f1], [domain('a')])))).toEqual([]);
    expect(
      codes(planHost(desired([vm('a', [byAddress('0000:02:00.0')])]), snapshot([rp, f0, { ...f1, driver: null }], [domain('a')]))),
    ).toEqual([]);
  });

  // Two functions of one card in one group, both on vfio-pci.
  const onVfio = ['0000:02:00.0', '0000:02:00.1'].map((a) => device(a, { iommuGroup: 12, driver: 'vfio-pci' }));
  const keeper = domain('b', { state: 'running', hostdevs: [hostdev('0000:02:00.1')], uuid: '00000000-0000-4000-8000-0000000000bb' });
  it.each([
    ['listed under release', [domain('a')], [], { release: [at('0000:02:00.1')] }],
    ['pruned from the VM (it leaves every VM)', [domain('a', { hostdevs: [hostdev('0000:02:00.0'), hostdev('0000:02:00.1')] })], [], {}],
    ['listed under release while a running VM keeps it (it goes back once that VM stops)', [domain('a'), keeper], [vm('b', [])], { release: [at('0000:02:00.1')] }],
  ])('blocks a claim whose group sibling goes back to its host driver: %s (found by the property test)', (_what, domains, others, over) => {
    const plan = planHost(desired([vm('a', [byAddress('0000:02:00.0')]), ...others], over), snapshot(onVfio, domains));
    const p = block(plan, 'iommu-group-not-viable');
    expect(p.address).toBe('0000:02:00.0');
    expect(p.message).toContain('0000:02:00.1');
    expect(p.hint).toContain('0000:02:00');
  });

  it('blocks a group split with a VM the file does not list (found by the property test)', () => {
    const other = domain('other', { state: 'running', hostdevs: [hostdev('0000:02:00.1')] });
    const plan = planHost(desired([vm('a', [byAddress('0000:02:00.0')])]), snapshot(onVfio, [domain('a'), other]));
    const p = block(plan, 'iommu-group-split');
    expect(p.message).toContain('0000:02:00.1');
    expect(p.message).toContain('"other"');
  });

  it('blocks a group split between two VMs', () => {
    const f0 = device('0000:02:00.0', { iommuGroup: 12 });
    const f1 = device('0000:02:00.1', { iommuGroup: 12 });
    const plan = planHost(
      desired([vm('a', [byAddress('0000:02:00.0')]), vm('b', [byAddress('0000:02:00.1')])]),
      snapshot([f0, f1], [domain('a'), domain('b')]),
    );
    block(plan, 'iommu-group-split');
  });

  it('blocks host-critical devices unless forced, and says why the host needs them', () => {
    const mgmt = device('0000:00:1f.6', {
      driver: 'e1000e',
      iommuGroup: 9,
      hostUse: [{ kind: 'default-route', detail: 'eth0 carries the default route' }],
    });
    const plan = planHost(desired([vm('a', [byAddress('0000:00:1f.6')])]), snapshot([mgmt], [domain('a')]));
    expect(block(plan, 'host-critical').message).toContain('eth0 carries the default route');
    expect(block(plan, 'host-critical').hint).toContain('force: true');
    expect(codes(planHost(desired([vm('a', [byAddress('0000:00:1f.6', { force: true })])]), snapshot([mgmt], [domain('a')])))).toEqual([]);
  });

  it('never touches protected devices, not even to prune them', () => {
    const dev = device('0000:00:1f.6', { driver: 'vfio-pci', iommuGroup: 9 });
    const a = domain('a', { hostdevs: [hostdev('0000:00:1f.6')] });
    const plan = planHost(desired([vm('a', [])], { protect: [at('0000:00:1f.6')] }), snapshot([dev], [a]));
    expect(steps(plan)).toEqual([]);
    block(plan, 'protected');
  });

  it.each([
    ['unknown VM', desired([vm('nope', [byAddress('0000:07:00.0')])]), snapshot([nic], []), 'unknown-vm'],
    ['a transient VM', desired([vm('t', [byAddress('0000:07:00.0')])]), snapshot([nic], [domain('t', { state: 'running', transient: true })]), 'transient-vm'],
    ['absent address', desired([vm('a', [byAddress('0000:09:00.0')])]), snapshot([nic], [domain('a')]), 'device-not-found'],
    [
      'identity mismatch',
      desired([vm('a', [byAddress('0000:07:00.0', { expect: { vendor: '8086', product: '10fb' } })])]),
      snapshot([nic], [domain('a')]),
      'identity-mismatch',
    ],
    ['a bridge', desired([vm('a', [byAddress('0000:00:1c.0')])]), snapshot([bridge('0000:00:1c.0', 3)], [domain('a')]), 'not-an-endpoint'],
    [
      'a device used by a VM the file does not list',
      desired([vm('a', [byAddress('0000:07:00.0')])]),
      snapshot([nic], [domain('a'), domain('other', { hostdevs: [hostdev('0000:07:00.0')] })]),
      'device-in-use',
    ],
    [
      'PF and VF both assigned',
      desired([vm('a', [byAddress('0000:03:00.0')]), vm('b', [byAddress('0000:03:10.0')])]),
      snapshot(
        [
          device('0000:03:00.0', { iommuGroup: 30, virtualFunctions: ['0000:03:10.0'] }),
          device('0000:03:10.0', { iommuGroup: 31, driver: 'igbvf', physFunction: '0000:03:00.0' }),
        ],
        [domain('a'), domain('b')],
      ),
      'pf-and-vf-assigned',
    ],
    [
      'release of a device a foreign VM holds',
      desired([], { release: [at('0000:07:00.0')] }),
      snapshot([nic], [domain('other', { hostdevs: [hostdev('0000:07:00.0')] })]),
      'release-in-use',
    ],
  ])('blocks %s', (_name, want, observed, code) => {
    block(planHost(want, observed), code);
  });

  it('warns (does not block) when SELinux virt_use_sysfs is off or a remote host\'s use is unknown', () => {
    const plan = planHost(
      desired([vm('rhel7.3', [byAddress('0000:07:00.0')])]),
      snapshot([nic], [seedVm()], { selinux: { enabled: true, virtUseSysfs: false }, hostUseKnown: false, deviceSource: 'nodedev' }),
    );
    expect(codes(plan)).toEqual(['warn:selinux-virt-use-sysfs', 'warn:host-use-unknown', 'warn:device-holders-unknown']);
    expect(plan.problems[0]!.hint).toBe('setsebool -P virt_use_sysfs 1');
  });
});

describe('planHost: an IOMMU group member that cannot be read (defect 4)', () => {
  const why = 'listed in IOMMU group 17 but cannot be read (/sys/bus/pci/devices/0000:07:00.1: ELOOP)';
  const unreadable = device('0000:07:00.1', { vendor: 'ffff', product: 'ffff', class: 'ffffff', driver: null, iommuGroup: 17, unreadable: why });

  it('blocks the group as not viable, naming the member and why', () => {
    const plan = planHost(desired([vm('rhel7.3', [byAddress('0000:07:00.0')])]), snapshot([nic, unreadable], [seedVm()]));
    expect(codes(plan)).toEqual(['block:iommu-group-not-viable']);
    expect(plan.problems[0]).toMatchObject({ address: '0000:07:00.0', vm: 'rhel7.3' });
    expect(plan.problems[0]!.message).toBe(
      `IOMMU group 17 is not viable for 0000:07:00.0: 0000:07:00.1 is in the same group and cannot be read (${why}), so which driver holds it cannot be told`,
    );
  });

  it('is never assigned itself, by address or by a selector', () => {
    const byAddr = planHost(desired([vm('rhel7.3', [byAddress('0000:07:00.1')])]), snapshot([unreadable], [seedVm()]));
    expect(codes(byAddr)).toEqual(['block:device-not-found']);
    expect(byAddr.problems[0]!.message).toContain(`cannot be read on host local: ${why}`);
    const bySelector = planHost(desired([vm('rhel7.3', [byMatch('ffff', 'ffff', 1)])]), snapshot([unreadable], [seedVm()]));
    expect(codes(bySelector)).toEqual(['block:selector-shortfall']);
  });
});

describe('planHost: host use that is unknown (defect 5)', () => {
  const mgmt = device('0000:00:1f.6', { iommuGroup: 12, netInterfaces: ['eth0'] });
  const nvme = device('0000:01:00.0', { vendor: '144d', product: 'a808', class: '010802', driver: 'nvme', iommuGroup: 1 });
  const gpu = device('0000:02:00.0', { vendor: '10de', product: '2330', class: '030000', driver: 'nouveau', iommuGroup: 2 });
  const unknownNetwork = { hostUseKnown: false, hostUseUnknown: { network: '/proc/net/route is missing' } };

  it('a local host: a claimed NIC is blocked unless forced, and the plan warns host-use-unknown', () => {
    const plan = planHost(desired([vm('rhel7.3', [byAddress('0000:00:1f.6')])]), snapshot([mgmt], [seedVm()], unknownNetwork));
    expect(codes(plan)).toEqual(['block:host-use-unknown', 'warn:host-use-unknown']);
    expect(plan.problems[0]!.message).toBe(
      "0000:00:1f.6 (8086:1521, driver igb) may be in use by the host, which cannot be told: the host's network use is unknown: /proc/net/route is missing",
    );
    expect(plan.problems[0]!.hint).toContain('force: true');
    expect(plan.problems[1]!.message).toContain('network: /proc/net/route is missing');
    const forced = planHost(desired([vm('rhel7.3', [byAddress('0000:00:1f.6', { force: true })])]), snapshot([mgmt], [seedVm()], unknownNetwork));
    expect(codes(forced)).toEqual(['warn:host-use-unknown']);
  });

  it('only the unknown part counts: with storage unknown a NIC is free, a disk controller is not', () => {
    const storage = { hostUseKnown: false, hostUseUnknown: { storage: '/proc/mounts is missing' } };
    expect(codes(planHost(desired([vm('rhel7.3', [byAddress('0000:00:1f.6')])]), snapshot([mgmt], [seedVm()], storage)))).toEqual([
      'warn:host-use-unknown',
    ]);
    expect(codes(planHost(desired([vm('rhel7.3', [byAddress('0000:01:00.0')])]), snapshot([nvme], [seedVm()], storage)))).toEqual([
      'block:host-use-unknown',
      'warn:host-use-unknown',
    ]);
    // A GPU is neither.
    expect(codes(planHost(desired([vm('rhel7.3', [byAddress('0000:02:00.0')])]), snapshot([gpu], [seedVm()], storage)))).toEqual([
      'warn:host-use-unknown',
    ]);
  });

  it('no selector picks such a NIC without force, local or remote', () => {
    for (const over of [unknownNetwork, { hostUseKnown: false, deviceSource: 'nodedev' as const }]) {
      const plain = planHost(desired([vm('rhel7.3', [byMatch('8086', '1521', 1)])]), snapshot([mgmt], [seedVm()], over));
      expect(codes(plain)).toEqual(['block:selector-shortfall']);
      const forced = planHost(desired([vm('rhel7.3', [byMatch('8086', '1521', 1, { force: true })])]), snapshot([mgmt], [seedVm()], over));
      expect(steps(forced)).toEqual(['nodedev-detach 0000:00:1f.6', 'attach-hostdev rhel7.3 0000:00:1f.6 config']);
    }
  });
});

describe('planHost from two JSON values', () => {
  it('needs nothing but plain data', () => {
    const want = JSON.parse(JSON.stringify(desired([vm('rhel7.3', [byAddress('0000:07:00.0')])])));
    const have = JSON.parse(JSON.stringify(snapshot([nic], [seedVm()])));
    expect(steps(planHost(want, have))).toEqual(['nodedev-detach 0000:07:00.0', 'attach-hostdev rhel7.3 0000:07:00.0 config']);
  });
});
