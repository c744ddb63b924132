/**
 * The apply test bench: a private libvirtd with one domain, a fake seed host tree, and the scripted virsh over
 * both. Each `freshCase()` starts from the same "before" state, with a plan that holds every action kind:
 *
 *   1 detach-hostdev   0000:07:00.1 from the VM (it is on vfio-pci; prune)
 *   2 nodedev-reattach 0000:07:00.1            (back to igb)
 *   3 nodedev-detach   0000:07:00.0            (igb → vfio-pci)
 *   4 nodedev-detach   0000:08:00.0            (igb → vfio-pci)
 *   5 attach-hostdev   0000:07:00.0 managed=yes
 *   6 attach-hostdev   0000:08:00.0 managed=no
 *   7 remove-interface the guest's bridge NIC on br0
 *
 * Faults count only the state-changing commands, so with no retries "call N" is step N.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostTarget } from '../../../src/apply/target.js';
import type { TargetObserver } from '../../../src/apply/target.js';
import type { ExecuteDeps } from '../../../src/apply/execute.js';
import { systemClock } from '../../../src/io/clock.js';
import { createVirsh } from '../../../src/io/execa-virsh.js';
import type { Virsh } from '../../../src/io/virsh.js';
import type { Action, HostPlan } from '../../../src/model/plan.js';
import { parseDomainXml } from '../../../src/libvirt/domain-xml.js';
import { hostdevXml } from '../../../src/libvirt/hostdev-xml.js';
import { removeFakeHost, seedHost } from '../fake-host.js';
import { defineDomain } from '../libvirtd.js';
import type { PrivateLibvirtd } from '../libvirtd.js';
import { createFakeVirsh } from './index.js';
import type { FakeVirsh } from './index.js';

/** A name that needs quoting everywhere (spaces, both quotes). */
export const VM = `rhel7.3 'lab' "q"`;
/** Fixed, so every case's plan names the same domain. */
export const VM_UUID = '3c5a9f2e-7d41-4b8e-9a6f-0c1d2e3f4a5b';
const NIC_MAC = '52:54:00:aa:bb:01';
/** The devices the plan touches. */
export const DEVICES = ['0000:07:00.0', '0000:07:00.1', '0000:08:00.0'] as const;

/** What the tests compare before and after: drivers, and the domain's persistent hostdevs and NICs. */
export interface HostState {
  drivers: Record<string, string | null>;
  hostdevs: { address: string; managed: boolean; source: string }[];
  interfaces: { type: string; source: string | null; mac: string | null }[];
}

/** One test's private world. */
export interface ApplyCase {
  dir: string;
  root: string;
  fake: FakeVirsh;
  virsh: Virsh;
  target: TargetObserver;
  plan: HostPlan;
  /** Executor deps other than the journal. */
  deps: Omit<ExecuteDeps, 'journal'>;
  observe(): Promise<HostState>;
  /** Removes the case's directory and fake host tree. */
  dispose(): Promise<void>;
}

/** The state the plan leads to, for success assertions. */
export const AFTER: HostState = {
  drivers: { '0000:07:00.0': 'vfio-pci', '0000:07:00.1': 'igb', '0000:08:00.0': 'vfio-pci' },
  hostdevs: [
    { address: '0000:07:00.0', managed: true, source: 'hostdev' },
    { address: '0000:08:00.0', managed: false, source: 'hostdev' },
  ],
  interfaces: [],
};

/** Sets up a fresh case: a new fake host tree and fake virsh, and the domain redefined as it was. */
export async function freshCase(libvirtd: PrivateLibvirtd): Promise<ApplyCase> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passthru-apply-case-'));
  const root = await seedHost()
    .update('0000:07:00.1', { driver: 'vfio-pci', driverOverride: 'vfio-pci' })
    .device({ address: '0000:08:00.0', vendor: '8086', device: '1521', class: '020000', driver: 'igb', group: 19 })
    // 08:00.0 is claimed with managed: false: its boot-time binding is already persisted, so the plan is the lab's.
    .driverctl({ '0000:08:00.0': 'vfio-pci' })
    .build();
  const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
  await fake.setHostDrivers({ '0000:07:00.1': 'igb' });
  await defineDomain(libvirtd, {
    name: VM,
    uuid: VM_UUID,
    bridges: [{ mac: NIC_MAC, source: 'br0' }],
    hostdevs: [{ address: '0000:07:00.1', managed: true }],
  });
  const virsh = createVirsh({ binary: fake.binary });
  // Verification reads go straight to the real virsh: the fake would only pass them through, one node start slower.
  const target = hostTarget({ uri: libvirtd.uri, virsh: createVirsh({ binary: '/usr/bin/virsh' }), root });
  const persistent = await target.domain(VM_UUID, 'persistent');
  const nic = persistent?.interfaces[0];
  const pruned = persistent?.hostdevs[0];
  if (!nic || !pruned) throw new Error('lab domain has no NIC or no hostdev');
  const dom = { vm: VM, vmUuid: VM_UUID, config: true, live: false };
  const actions: Action[] = [
    { kind: 'detach-hostdev', ...dom, address: '0000:07:00.1', managed: true, source: 'hostdev', hostdevXml: pruned.xml, reason: 'not claimed' },
    { kind: 'nodedev-reattach', address: '0000:07:00.1', fromDriver: 'vfio-pci', reason: 'released' },
    { kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: 'assigned' },
    { kind: 'nodedev-detach', address: '0000:08:00.0', fromDriver: 'igb', reason: 'assigned' },
    { kind: 'attach-hostdev', ...dom, address: '0000:07:00.0', managed: true, hostdevXml: hostdevXml('0000:07:00.0', true), reason: 'claimed' },
    { kind: 'attach-hostdev', ...dom, address: '0000:08:00.0', managed: false, hostdevXml: hostdevXml('0000:08:00.0', false), reason: 'claimed' },
    { kind: 'remove-interface', ...dom, interfaceXml: nic.xml, type: nic.type, source: nic.source, mac: nic.mac, reason: 'replaced' },
  ];
  const plan: HostPlan = { name: 'local', uri: libvirtd.uri, fingerprint: 'sha256:test', actions, problems: [] };
  return {
    dir,
    root,
    fake,
    virsh,
    target,
    plan,
    deps: { virsh, target, clock: systemClock, stepTimeoutMs: 10_000 },
    async observe() {
      const drivers: HostState['drivers'] = {};
      for (const a of DEVICES) drivers[a] = await target.deviceDriver(a);
      // Read with the real virsh, not through the fake: the observation must not depend on the thing under test.
      const persistent = parseDomainXml(await libvirtd.virsh(['dumpxml', '--inactive', '--domain', VM_UUID]));
      return {
        drivers,
        hostdevs: persistent.hostdevs
          .map((h) => ({ address: h.address, managed: h.managed, source: h.source }))
          .sort((a, b) => a.address.localeCompare(b.address)),
        interfaces: persistent.interfaces.map((i) => ({ type: i.type, source: i.source, mac: i.mac })),
      };
    },
    async dispose() {
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    },
  };
}
