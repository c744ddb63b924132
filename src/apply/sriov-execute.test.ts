/**
 * set-numvfs and persist-numvfs through the executor on a fake tree with a fake kernel: journaled, verified by the
 * PF's sriov_numvfs and virtfn links, and rolled back to the previous count when a later step fails. Never this
 * machine's /sys: the root is a temp tree built by test/helpers/fake-host.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeFakeHost, sriovHost } from '../../test/helpers/fake-host.js';
import { startFakeKernel } from '../../test/helpers/fake-kernel.js';
import { sriovSysfs, type SriovSysfs } from '../io/sriov-sysfs.js';
import type { Virsh } from '../io/virsh.js';
import type { Action, HostPlan } from '../model/plan.js';
import { executeHostPlan } from './execute.js';
import type { JournalRecord } from './journal.js';
import type { TargetObserver } from './target.js';

const PF = '0000:01:00.0';
const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

/** virsh that fails every command: the step after the SR-IOV ones fails, so they are rolled back. */
const failingVirsh: Virsh = {
  batch: () => Promise.reject(new Error('not used')),
  run: async (_uri, args) => ({ exitCode: 1, signal: null, stdout: '', stderr: 'error: Failed\nerror: device busy', timedOut: false, command: args, durationMs: 1 }),
};

const plan = (actions: Action[]): HostPlan => ({ name: 'local', uri: 'qemu:///system', fingerprint: 'x', actions, problems: [] });
const setNumVfs: Action = { kind: 'set-numvfs', address: PF, from: 0, to: 2, reason: '' };
const persist: Action = { kind: 'persist-numvfs', address: PF, from: 0, to: 2, reason: '' };

async function run(
  actions: Action[],
  o: { virsh?: Virsh; deviceDriver?: (sriov: SriovSysfs, address: string) => Promise<string | null>; persistedReads?: number } = {},
) {
  const root = await sriovHost().build();
  roots.push(root);
  const kernel = startFakeKernel(root, [PF]);
  const real = sriovSysfs(root, { timeoutMs: 2_000, pollMs: 10 });
  // persistedReads: what reading the rule back says, whatever was written (a rule that did not stick).
  const sriov: SriovSysfs = o.persistedReads === undefined ? real : { ...real, persisted: async () => o.persistedReads as number };
  const deviceDriver = o.deviceDriver ? (address: string) => o.deviceDriver!(sriov, address) : async () => 'igbvf';
  const target: TargetObserver = { deviceDriver, domain: async () => null, persistedOverride: async () => null, sriov };
  const lines: JournalRecord[] = [];
  try {
    const report = await executeHostPlan(plan(actions), {
      virsh: o.virsh ?? failingVirsh,
      target,
      clock: { now: () => new Date(0) },
      journal: { record: async (e) => void lines.push(e) },
    });
    return { report, sriov, root, lines, writes: kernel.writes.get(PF) };
  } finally {
    kernel.stop();
  }
}

describe('executing SR-IOV steps', () => {
  it('sets the count, waits for the VFs, persists it, and journals the write', async () => {
    const { report, sriov, root, lines } = await run([setNumVfs, persist]);
    expect(report.failure).toBeNull();
    expect(await sriov.read(PF)).toEqual({ numVfs: 2, links: 2 });
    expect(await sriov.persisted(PF)).toBe(2);
    expect(existsSync(path.join(root, 'etc/udev/rules.d/70-passthru-sriov.rules'))).toBe(true);
    expect(lines.filter((l) => l.result === 'ok').map((l) => l.command)).toEqual([
      ['write', `/sys/bus/pci/devices/${PF}/sriov_numvfs`, '2'],
      ['persist', '/etc/udev/rules.d/70-passthru-sriov.rules', `${PF}=2`],
    ]);
  });

  it('a local step whose result does not read back is named as passthru\'s own, not as virsh\'s', async () => {
    const { report } = await run([setNumVfs, persist], { persistedReads: 0 });
    expect(report.failure?.error).toMatch(/^passthru \(persist-numvfs\) reported success but /);
  });

  it('rolls both back (count 0 again, no rule) when a later step fails', async () => {
    const detach: Action = { kind: 'nodedev-detach', address: '0000:01:10.0', fromDriver: 'igbvf', reason: '' };
    const { report, sriov, writes } = await run([setNumVfs, persist, detach]);
    expect(report.failure).toMatchObject({ step: 3, error: 'device busy' });
    expect(report.rollback.map((u) => [u.label, u.ok])).toEqual([
      // Its driver is what it was (the detach failed): nothing to undo.
      ['nodedev-reattach 0000:01:10.0', true],
      [`persist-numvfs ${PF} as 0`, true],
      [`set-numvfs ${PF} to 0`, true],
    ]);
    expect(await sriov.read(PF)).toEqual({ numVfs: 0, links: 0 });
    expect(await sriov.persisted(PF)).toBe(0);
    expect(writes).toEqual([2, 0]);
  });

  it('a VF this plan created and detached is not reattached when a later step fails: it goes with its count (issue: the undo expected "no driver")', async () => {
    const VF = '0000:01:10.0';
    // What a real VF does: on vfio-pci once detached, back on igbvf when reattached, gone when the count is 0.
    const drivers = new Map<string, string>();
    const virsh: Virsh = {
      batch: () => Promise.reject(new Error('not used')),
      run: async (_uri, args) => {
        const ok = { exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, command: args, durationMs: 1 };
        if (args[0] === 'nodedev-detach') drivers.set(VF, 'vfio-pci');
        else if (args[0] === 'nodedev-reattach') drivers.set(VF, 'igbvf');
        else return { ...ok, exitCode: 1, stderr: 'error: Failed\nerror: device busy' };
        return ok;
      },
    };
    const deviceDriver = async (sriov: SriovSysfs, address: string) => ((await sriov.read(PF)).numVfs === 0 ? null : (drivers.get(address) ?? 'igbvf'));
    const detach: Action = { kind: 'nodedev-detach', address: VF, fromDriver: null, createdWith: PF, reason: '' };
    const attach: Action = { kind: 'attach-hostdev', vm: 'web', vmUuid: 'u-1', address: VF, managed: true, hostdevXml: '<hostdev/>', config: true, live: false, reason: '' };
    const { report, sriov, lines } = await run([setNumVfs, persist, detach, attach], { virsh, deviceDriver });
    expect(report.failure).toMatchObject({ step: 4, error: 'device busy' });
    expect(report.rollback.map((u) => [u.label, u.ok, u.note])).toEqual([
      [`detach-hostdev ${VF} from "web"`, true, 'nothing to undo'],
      [`nodedev-reattach ${VF}`, true, `nothing to undo: the VF goes when set-numvfs ${PF} is undone`],
      [`persist-numvfs ${PF} as 0`, true, null],
      [`set-numvfs ${PF} to 0`, true, null],
    ]);
    expect(report.restored).toBe(true);
    expect(lines.filter((l) => l.phase === 'rollback' && l.result === 'ok' && l.command !== null).map((l) => l.command?.[0])).toEqual(['persist', 'write']);
    expect(await sriov.read(PF)).toEqual({ numVfs: 0, links: 0 });
  });
});
