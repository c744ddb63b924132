/**
 * Executor logic against an in-memory host (no processes): the paths the real-libvirtd matrix cannot reach, such
 * as hot-plug to a running domain, a device no host driver claims, and the final whole-host check.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../errors.js';
import type { Virsh, VirshRunResult } from '../io/virsh.js';
import type { Action, HostPlan } from '../model/plan.js';
import type { ParsedDomain } from '../model/snapshot.js';
import { parseDomainXml } from '../libvirt/domain-xml.js';
import { hostdevXml, interfaceHostdevXml } from '../libvirt/hostdev-xml.js';
import { applyExitCode, executeHostPlan } from './execute.js';
import type { ExecuteDeps } from './execute.js';
import type { JournalRecord } from './journal.js';
import type { TargetObserver } from './target.js';

const UUID = '00000000-0000-4000-8000-000000000001';
const empty = (): ParsedDomain => ({ name: 'vm1', uuid: UUID, hostdevs: [], interfaces: [] });

/** A host in memory: drivers, and one domain's persistent and live XML (live null = shut off). */
function memoryHost(init: { drivers?: Record<string, string | null>; live?: boolean; hostDrivers?: Record<string, string | null> }) {
  const drivers: Record<string, string | null> = { ...init.drivers };
  const dom = { persistent: empty(), live: init.live ? empty() : null };
  const calls: string[][] = [];
  const result = (args: string[], exitCode: number, stderr = ''): VirshRunResult => ({ exitCode, signal: null, stdout: '', stderr, timedOut: false, command: args, durationMs: 1 });
  const virsh: Virsh = {
    batch: () => Promise.reject(new Error('not used')),
    async run(_uri, args) {
      calls.push(args);
      const [verb, ...rest] = args;
      const address = rest[0]?.replace(/^pci_(\w{4})_(\w\w)_(\w\w)_(\d)$/, '$1:$2:$3.$4') ?? '';
      if (verb === 'nodedev-detach') drivers[address] = 'vfio-pci';
      else if (verb === 'nodedev-reattach') drivers[address] = init.hostDrivers?.[address] ?? null;
      else {
        const file = rest[rest.indexOf('--file') + 1] as string;
        const dev = parseDomainXml(`<domain><name>x</name><devices>${await readFile(file, 'utf8')}</devices></domain>`);
        const scopes = [rest.includes('--config') ? 'persistent' : null, rest.includes('--live') ? 'live' : null];
        if (scopes.includes('live') && !dom.live) return result(args, 1, 'error: Failed\nerror: Requested operation is not valid: domain is not running');
        for (const scope of scopes) {
          const d = scope === 'persistent' ? dom.persistent : scope === 'live' ? dom.live : null;
          if (!d) continue;
          if (verb === 'attach-device') d.hostdevs.push(...dev.hostdevs);
          else d.hostdevs = d.hostdevs.filter((h) => !dev.hostdevs.some((x) => x.address === h.address));
        }
      }
      return result(args, 0);
    },
  };
  const target: TargetObserver = {
    deviceDriver: async (a) => drivers[a] ?? null,
    domain: async (_uuid, which) => structuredClone(which === 'persistent' ? dom.persistent : dom.live),
    persistedOverride: async () => null,
  };
  return { drivers, dom, calls, virsh, target };
}

function setup(host: ReturnType<typeof memoryHost>, over: Partial<ExecuteDeps> = {}) {
  const lines: JournalRecord[] = [];
  const deps: ExecuteDeps = { virsh: host.virsh, target: host.target, clock: { now: () => new Date(0) }, journal: { record: async (e) => void lines.push(e) }, ...over };
  return { deps, lines };
}

const plan = (actions: Action[]): HostPlan => ({ name: 'hv1', uri: 'qemu:///system', fingerprint: 'x', actions, problems: [] });
const attach = (live: boolean): Action => ({
  kind: 'attach-hostdev',
  vm: 'vm1',
  vmUuid: UUID,
  address: '0000:07:00.0',
  managed: true,
  hostdevXml: hostdevXml('0000:07:00.0', true),
  config: true,
  live,
  reason: '',
});
const detach: Action = { kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: '' };

describe('executeHostPlan', () => {
  it('hot-plugs into a running domain and verifies both the persistent and the live XML', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, live: true });
    const { deps } = setup(host);
    const report = await executeHostPlan(plan([detach, attach(true)]), deps);
    expect(report.ok).toBe(true);
    expect(host.calls[1]).toEqual(['attach-device', '--domain', UUID, '--file', expect.stringMatching(/step-1\.xml$/), '--config', '--live']);
    expect(host.dom.live?.hostdevs.map((h) => h.address)).toEqual(['0000:07:00.0']);
  });

  it('fails a live change to a domain that is not running, and rolls back the detach', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, live: false, hostDrivers: { '0000:07:00.0': 'igb' } });
    const { deps } = setup(host);
    const report = await executeHostPlan(plan([detach, attach(true)]), deps);
    expect(report.failure).toMatchObject({ step: 2, error: 'Requested operation is not valid: domain is not running' });
    expect(report.rollback.map((u) => [u.label, u.ok, u.note])).toEqual([
      ['detach-hostdev 0000:07:00.0 from "vm1"', true, 'nothing to undo'],
      ['nodedev-reattach 0000:07:00.0', true, null],
    ]);
    expect(report.restored).toBe(true);
    expect(host.drivers['0000:07:00.0']).toBe('igb');
  });

  it('fails a reattach that leaves the device unbound: it did not come back, with the remedies', async () => {
    const host = memoryHost({ drivers: { '0000:01:00.0': 'vfio-pci' } });
    const waits: number[] = [];
    const { deps } = setup(host, { driverSettle: { polls: 3, intervalMs: 250, sleep: async (ms) => void waits.push(ms) } });
    const report = await executeHostPlan(plan([{ kind: 'nodedev-reattach', address: '0000:01:00.0', fromDriver: 'vfio-pci', reason: '' }]), deps);
    expect(report.ok).toBe(false);
    expect(report.steps[0]?.error).toBe('virsh reported success but 0000:01:00.0 has no driver (expected a host driver)');
    // The bounded poll: three more readings, a quarter second apart, before it is judged.
    expect(waits).toEqual([250, 250, 250]);
    expect(report.steps[0]?.remedies?.join('\n')).toMatch(/virsh nodedev-reset pci_0000_01_00_0[\s\S]*\/sys\/bus\/pci\/rescan[\s\S]*vendor-reset/);
  });

  it('waits, bounded, for a reattached device whose host driver binds late', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'vfio-pci' }, hostDrivers: { '0000:07:00.0': null } });
    let readings = 0;
    const target: TargetObserver = { ...host.target, deviceDriver: async () => (++readings < 3 ? null : 'igb') };
    const { deps } = setup(host, { target, driverSettle: { polls: 5, intervalMs: 1, sleep: async () => {} } });
    const report = await executeHostPlan(plan([{ kind: 'nodedev-reattach', address: '0000:07:00.0', fromDriver: 'vfio-pci', reason: '' }]), deps);
    expect(report.ok).toBe(true);
    expect(readings).toBe(3);
    expect(report.steps[0]?.remedies).toBeUndefined();
  });

  it('rolls everything back when the host still differs after the last step', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, hostDrivers: { '0000:07:00.0': 'igb' } });
    const { deps, lines } = setup(host, { finalCheck: async () => ['attach-hostdev 0000:07:00.1 to "vm1"'] });
    const report = await executeHostPlan(plan([detach, attach(false)]), deps);
    expect(report.failure).toEqual({ kind: 'final-check', step: null, action: null, error: 'after the last step the host still differs: attach-hostdev 0000:07:00.1 to "vm1"' });
    expect(report.rollback.map((u) => u.label)).toEqual(['detach-hostdev 0000:07:00.0 from "vm1"', 'nodedev-reattach 0000:07:00.0']);
    expect(applyExitCode(report)).toBe(1);
    expect(host.dom.persistent.hostdevs).toEqual([]);
    expect(lines.filter((l) => l.phase === 'verify')).toMatchObject([{ kind: 'final-check', result: 'failed' }]);
  });

  it('restores a hostdev whose managed flag was changed, and reports it restored', async () => {
    const host = memoryHost({});
    const before = hostdevXml('0000:07:00.0', false);
    host.dom.persistent.hostdevs.push({ address: '0000:07:00.0', managed: false, driver: null, source: 'hostdev', xml: before });
    const { deps } = setup(host, { finalCheck: async () => ['something else'] });
    const change = { vm: 'vm1', vmUuid: UUID, address: '0000:07:00.0', config: true, live: false, reason: 'managed changes from no to yes' };
    const report = await executeHostPlan(
      plan([
        { kind: 'detach-hostdev', ...change, managed: false, source: 'hostdev', hostdevXml: before },
        { kind: 'attach-hostdev', ...change, managed: true, hostdevXml: hostdevXml('0000:07:00.0', true) },
      ]),
      deps,
    );
    expect(report.rollback.map((u) => [u.label, u.ok])).toEqual([
      ['detach-hostdev 0000:07:00.0 from "vm1"', true],
      ['attach-hostdev 0000:07:00.0 to "vm1"', true],
    ]);
    // The state in between (no hostdev) is not what "restored" means: the one before the first step is.
    expect(report).toMatchObject({ restored: true, leftovers: [] });
    expect(host.dom.persistent.hostdevs).toMatchObject([{ address: '0000:07:00.0', managed: false, xml: before }]);
  });

  it('re-adds a removed VF interface with its MAC on rollback', async () => {
    const host = memoryHost({});
    const vfNic = interfaceHostdevXml('0000:07:10.1', true, '52:54:00:11:22:33');
    host.dom.persistent.hostdevs.push({ address: '0000:07:10.1', managed: true, driver: null, source: 'interface', mac: '52:54:00:11:22:33', xml: vfNic });
    const { deps } = setup(host);
    const unplug: Action = {
      kind: 'detach-hostdev',
      vm: 'vm1',
      vmUuid: UUID,
      address: '0000:07:10.1',
      managed: true,
      source: 'interface',
      mac: '52:54:00:11:22:33',
      hostdevXml: vfNic,
      config: true,
      live: false,
      reason: '',
    };
    // The domain is shut off, so the live attach of step 2 fails.
    const report = await executeHostPlan(plan([unplug, attach(true)]), deps);
    expect(report.failure?.step).toBe(2);
    expect(report.restored).toBe(true);
    expect(host.dom.persistent.hostdevs).toMatchObject([{ address: '0000:07:10.1', source: 'interface', mac: '52:54:00:11:22:33', managed: true }]);
  });

  it('fails a step whose target cannot be observed', async () => {
    const host = memoryHost({});
    const { deps } = setup(host, { target: { ...host.target, deviceDriver: () => Promise.reject(new Error('EACCES')) } });
    const report = await executeHostPlan(plan([detach]), deps);
    expect(report.failure?.error).toBe('could not verify: EACCES');
    expect(report.leftovers).toEqual(['unknown whether nodedev-reattach 0000:07:00.0 is needed: EACCES']);
    expect(applyExitCode(report)).toBe(3);
  });

  it('refuses a malformed plan before touching the host', async () => {
    const host = memoryHost({});
    const { deps } = setup(host);
    const nic: Action = { kind: 'remove-interface', vm: 'vm1', vmUuid: UUID, interfaceXml: '<interface/>', type: 'bridge', source: 'br0', mac: null, config: true, live: false, reason: '' };
    await expect(executeHostPlan(plan([detach, nic]), deps)).rejects.toBeInstanceOf(InternalError);
    expect(host.calls).toEqual([]);
  });
});

describe('executeHostPlan when virsh cannot run', () => {
  it('fails the step and still rolls back what was done', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, hostDrivers: { '0000:07:00.0': 'igb' } });
    let calls = 0;
    const flaky = { ...host.virsh, run: (uri: string, args: string[]) => (++calls === 2 ? Promise.reject(new Error('cannot run virsh')) : host.virsh.run(uri, args)) };
    const { deps } = setup(host, { virsh: flaky });
    const report = await executeHostPlan(plan([detach, attach(false)]), deps);
    expect(report.failure).toMatchObject({ step: 2, error: 'cannot run virsh' });
    expect(report.steps[1]?.exitCode).toBeNull();
    expect(report.restored).toBe(true);
    expect(host.drivers['0000:07:00.0']).toBe('igb');
  });

  it('names the signal that killed virsh', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, hostDrivers: { '0000:07:00.0': 'igb' } });
    const killed = {
      ...host.virsh,
      run: async (uri: string, args: string[]) =>
        args[0] === 'attach-device' ? { exitCode: -1, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: false, command: args, durationMs: 1 } : host.virsh.run(uri, args),
    };
    const { deps } = setup(host, { virsh: killed });
    const report = await executeHostPlan(plan([detach, attach(false)]), deps);
    expect(report.failure).toMatchObject({ step: 2, error: 'virsh was killed by SIGKILL' });
    expect(report.restored).toBe(true);
  });
});

describe('executeHostPlan when interrupted', () => {
  it('starts no step once aborted, and rolls back the step that was in flight', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' }, hostDrivers: { '0000:07:00.0': 'igb' } });
    const controller = new AbortController();
    // The signal arrives while step 1 runs (as Ctrl-C would): it still finishes, step 2 never starts.
    const run = async (uri: string, args: string[]) => {
      const r = await host.virsh.run(uri, args);
      if (args[0] === 'nodedev-detach') controller.abort('SIGINT');
      return r;
    };
    const interrupting = { ...host.virsh, run };
    const { deps, lines } = setup(host, { virsh: interrupting, signal: controller.signal });
    const report = await executeHostPlan(plan([detach, attach(false)]), deps);
    expect(report.failure).toEqual({ kind: 'interrupted', step: null, action: null, error: 'interrupted by SIGINT' });
    expect(report.steps.map((r) => [r.label, r.ok])).toEqual([['nodedev-detach 0000:07:00.0', true]]);
    expect(report.rollback.map((u) => [u.label, u.ok, u.attempts])).toEqual([['nodedev-reattach 0000:07:00.0', true, 1]]);
    expect(report).toMatchObject({ ok: false, restored: true });
    expect(applyExitCode(report)).toBe(1);
    expect(host.calls.map((c) => c[0])).toEqual(['nodedev-detach', 'nodedev-reattach']);
    expect(lines.find((l) => l.kind === 'interrupted')).toMatchObject({ step: 1, phase: 'apply', result: 'failed', error: 'interrupted by SIGINT' });
  });

  it('changes nothing when the signal came before the first step', async () => {
    const host = memoryHost({ drivers: { '0000:07:00.0': 'igb' } });
    const controller = new AbortController();
    controller.abort('SIGTERM');
    const { deps } = setup(host, { signal: controller.signal });
    const report = await executeHostPlan(plan([detach]), deps);
    expect(report).toMatchObject({ ok: false, steps: [], rollback: [], restored: true, failure: { kind: 'interrupted', error: 'interrupted by SIGTERM' } });
    expect(host.calls).toEqual([]);
  });
});
