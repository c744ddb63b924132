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
import { sriovSysfs } from '../io/sriov-sysfs.js';
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

async function run(actions: Action[]) {
  const root = await sriovHost().build();
  roots.push(root);
  const kernel = startFakeKernel(root, [PF]);
  const sriov = sriovSysfs(root, { timeoutMs: 2_000, pollMs: 10 });
  const target: TargetObserver = { deviceDriver: async () => 'igbvf', domain: async () => null, persistedOverride: async () => null, sriov };
  const lines: JournalRecord[] = [];
  try {
    const report = await executeHostPlan(plan(actions), {
      virsh: failingVirsh,
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
});
