/**
 * The executor against a real (private) libvirtd and a fake sysfs tree driven by the scripted virsh: a plan with
 * every action kind, a fault injected at every position in turn, and the host observed afterwards. Assertions are
 * on the resulting state of the host, not on the sequence of calls.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { applyExitCode, executeHostPlan, type ExecuteDeps } from '../src/apply/execute.js';
import { renderHostReport } from '../src/render/apply-report.js';
import { plainStyle } from '../src/render/style.js';
import type { ApplyReport } from '../src/model/apply-report.js';
import { openJournal, readJournal } from '../src/apply/journal.js';
import { systemClock } from '../src/io/clock.js';
import { AFTER, VM, freshCase } from './helpers/fake-virsh/apply-lab.js';
import type { ApplyCase } from './helpers/fake-virsh/apply-lab.js';
import type { Fault } from './helpers/fake-virsh/index.js';
import { libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-matrix: ${unavailable}`);

describe.skipIf(unavailable !== null)('apply against a real libvirtd and a fake sysfs', () => {
  let libvirtd: PrivateLibvirtd;
  const cases: ApplyCase[] = [];

  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterEach(async () => {
    await Promise.all(cases.splice(0).map((c) => c.dispose()));
  });
  afterAll(() => libvirtd?.stop());

  /** A fresh lab case, disposed of after the test. */
  async function newCase(): Promise<ApplyCase> {
    const c = await freshCase(libvirtd);
    cases.push(c);
    return c;
  }

  /** Runs the lab plan with `faults` injected; returns the report, the host before and after, and the journal. */
  async function run(faults: Fault[], over: Pick<ExecuteDeps, 'stepTimeoutMs' | 'driverSettle'> = {}) {
    const c = await newCase();
    const before = await c.observe();
    await c.fake.setFaults(faults);
    const journalPath = path.join(c.dir, 'journal.jsonl');
    const journal = await openJournal(journalPath, c.plan.name, systemClock);
    const report = await executeHostPlan(c.plan, { ...c.deps, ...over, journal });
    await journal.close();
    return { report, before, after: await c.observe(), journal: await readJournal(journalPath), c };
  }

  const summary = (r: ApplyReport) => r.rollback.map((u) => `${u.label}: ${u.ok ? (u.note ?? 'ok') : `FAILED ${u.error}`}`);

  it('applies every action kind and verifies each step', async () => {
    const { report, before, after, journal } = await run([]);
    expect(report.failure).toBeNull();
    expect(report.steps.map((s) => [s.kind, s.ok, s.attempts])).toEqual([
      ['detach-hostdev', true, 1],
      ['nodedev-reattach', true, 1],
      ['nodedev-detach', true, 1],
      ['nodedev-detach', true, 1],
      ['attach-hostdev', true, 1],
      ['attach-hostdev', true, 1],
      ['remove-interface', true, 1],
    ]);
    expect(applyExitCode(report)).toBe(0);
    expect(before).not.toEqual(after);
    expect(after).toEqual(AFTER);
    // Write-ahead: a `started` line, then the outcome, for every step.
    expect(journal.entries.map((e) => `${e.step}:${e.result}`)).toEqual(
      [1, 2, 3, 4, 5, 6, 7].flatMap((i) => [`${i}:started`, `${i}:ok`]),
    );
    expect(journal.entries.find((e) => e.kind === 'remove-interface')?.xml).toContain("<source bridge='br0'/>");
  });

  for (const position of [1, 2, 3, 4, 5, 6, 7]) {
    it(`a failure at step ${position} is rolled back to the state before`, async () => {
      const { report, before, after } = await run([{ call: position, mode: 'fail' }]);
      expect(report.failure).toMatchObject({ step: position, error: `injected fault at call ${position}` });
      expect(report.steps).toHaveLength(position);
      expect(report.rollback).toHaveLength(position);
      expect(report.rollback.every((u) => u.ok)).toBe(true);
      // The failed step changed nothing, so its undo found nothing to do; every earlier one was undone.
      expect(report.rollback[0]).toMatchObject({ step: position, attempts: 0, note: 'nothing to undo' });
      expect(report.rollback.slice(1).map((u) => u.attempts)).toEqual(Array(position - 1).fill(1));
      expect(report).toMatchObject({ ok: false, restored: true, leftovers: [] });
      expect(applyExitCode(report)).toBe(1);
      expect(after).toEqual(before);
    });
  }

  // The command takes effect and only then does virsh fail: the undo of the half-done step must really run.
  for (const position of [1, 2, 3, 4, 5, 6, 7]) {
    it(`a step that takes effect and then fails (step ${position}) is undone too`, async () => {
      const { report, before, after, journal } = await run([{ call: position, mode: 'apply-then-fail' }]);
      expect(report.failure).toMatchObject({ kind: 'step', step: position, error: `injected fault after applying at call ${position}` });
      expect(report.rollback).toHaveLength(position);
      // Not "nothing to undo": the failed step's change was found and reversed.
      expect(report.rollback.map((u) => u.attempts)).toEqual(Array(position).fill(1));
      expect(report.rollback.every((u) => u.ok)).toBe(true);
      expect(report).toMatchObject({ ok: false, restored: true, leftovers: [] });
      expect(after).toEqual(before);
      expect(journal.entries.filter((e) => e.phase === 'rollback' && e.step === position).map((e) => e.result)).toEqual(['started', 'ok']);
    });
  }

  it('a step that takes effect and then hangs times out, its virsh is killed, and it is undone', async () => {
    const { report, before, after, c } = await run([{ call: 5, mode: 'apply-then-hang' }], { stepTimeoutMs: 1500 });
    expect(report.failure).toMatchObject({ kind: 'step', step: 5, error: 'timed out after 1.5s' });
    expect(report.rollback[0]).toMatchObject({ step: 5, kind: 'detach-hostdev', ok: true, attempts: 1 });
    expect(report).toMatchObject({ restored: true, leftovers: [] });
    expect(after).toEqual(before);
    expect(await c.fake.running()).toEqual([]);
  });

  it('an undo that fails too leaves exit 3 and names what is left', async () => {
    // Step 5 fails; undos: 5 (nothing), 4 = call 6, 3 = call 7 (fails), 2 = call 8, 1 = call 9.
    const { report, before, after } = await run([
      { call: 5, mode: 'fail' },
      { call: 7, mode: 'fail' },
    ]);
    expect(summary(report)).toEqual([
      `detach-hostdev 0000:07:00.0 from "${VM}": nothing to undo`,
      'nodedev-reattach 0000:08:00.0: ok',
      'nodedev-reattach 0000:07:00.0: FAILED injected fault at call 7',
      'nodedev-detach 0000:07:00.1: ok',
      `attach-hostdev 0000:07:00.1 to "${VM}": ok`,
    ]);
    expect(report).toMatchObject({ ok: false, restored: false, leftovers: ['0000:07:00.0 is on vfio-pci (was igb)'] });
    expect(applyExitCode(report)).toBe(3);
    expect(after).toEqual({ ...before, drivers: { ...before.drivers, '0000:07:00.0': 'vfio-pci' } });
  });

  it('a step that hangs times out and is rolled back', async () => {
    const { report, before, after, c } = await run([{ call: 3, mode: 'hang' }], { stepTimeoutMs: 1500 });
    expect(report.failure).toMatchObject({ step: 3, error: 'timed out after 1.5s' });
    expect(report.steps[2]).toMatchObject({ ok: false, exitCode: null });
    expect(report).toMatchObject({ restored: true });
    expect(applyExitCode(report)).toBe(1);
    expect(after).toEqual(before);
    // The hung virsh's process group was killed, not left behind.
    expect(await c.fake.running()).toEqual([]);
  });

  // SPEC 13: a device that does not come back is a failure with the remedies, never a success.
  const settle = { driverSettle: { polls: 2, intervalMs: 20, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) } };

  it('a reattach that hangs times out: the device did not come back, with the remedies, and is rolled back', async () => {
    const { report, before, after, c } = await run([{ call: 2, mode: 'hang' }], { stepTimeoutMs: 1500 });
    expect(report.failure).toMatchObject({ step: 2, error: 'timed out after 1.5s' });
    expect(report.steps[1]?.remedies?.[0]).toBe('reset it and reattach: `virsh nodedev-reset pci_0000_07_00_1 && virsh nodedev-reattach pci_0000_07_00_1`');
    expect(renderHostReport(report, plainStyle)).toContain('nodedev-reattach 0000:07:00.1: the device did not come back. Try, in order:');
    expect(report).toMatchObject({ restored: true });
    expect(after).toEqual(before);
    expect(await c.fake.running()).toEqual([]);
  });

  it('a reattach that leaves the device unbound fails (not "released"), with the remedies', async () => {
    const { report, before, after } = await run([{ call: 2, mode: 'unbind' }], settle);
    expect(report.failure).toMatchObject({ step: 2, error: 'virsh reported success but 0000:07:00.1 has no driver (expected a host driver)' });
    expect(report.steps[1]?.remedies?.join('\n')).toContain('echo 1 > /sys/bus/pci/devices/0000:07:00.1/remove; echo 1 > /sys/bus/pci/rescan');
    // Rolled back: back on vfio-pci and in the VM, as before the apply.
    expect(report).toMatchObject({ ok: false, restored: true });
    expect(applyExitCode(report)).toBe(1);
    expect(after).toEqual(before);
  });

  it('a rollback whose reattach leaves the device unbound says so: exit 3, the device named, the remedies', async () => {
    // Step 5 fails; undos: 5 (nothing), 4 = call 6, 3 = call 7 (reattach of 0000:07:00.0, leaves it unbound), ...
    const { report, after } = await run([
      { call: 5, mode: 'fail' },
      { call: 7, mode: 'unbind' },
    ], settle);
    expect(report.rollback[2]).toMatchObject({ label: 'nodedev-reattach 0000:07:00.0', ok: false, error: 'virsh reported success but 0000:07:00.0 has no driver (expected igb)' });
    expect(report.rollback[2]?.remedies?.[1]).toContain('`modprobe igb`');
    expect(report).toMatchObject({ ok: false, restored: false, leftovers: ['0000:07:00.0 has no driver (was igb)'] });
    expect(applyExitCode(report)).toBe(3);
    expect(renderHostReport(report, plainStyle)).toMatch(/Rollback could NOT restore[\s\S]*nodedev-reattach 0000:07:00.0: the device did not come back/);
    expect(after.drivers['0000:07:00.0']).toBeNull();
  });

  it('a detach that leaves the driver once is retried (seed step 13) and succeeds', async () => {
    const { report, after } = await run([{ call: 3, mode: 'leave-driver' }]);
    expect(report.ok).toBe(true);
    expect(report.steps[2]).toMatchObject({
      kind: 'nodedev-detach',
      ok: true,
      attempts: 2,
      earlierAttempts: ['virsh reported success but 0000:07:00.0 is on igb (expected vfio-pci)'],
    });
    expect(after).toEqual(AFTER);
  });

  it('a detach that leaves the driver twice fails and is rolled back', async () => {
    const { report, before, after, journal } = await run([
      { call: 3, mode: 'leave-driver' },
      { call: 4, mode: 'leave-driver' },
    ]);
    expect(report.failure).toMatchObject({
      step: 3,
      error: 'virsh reported success but 0000:07:00.0 is on igb (expected vfio-pci)',
    });
    expect(report.steps[2]?.attempts).toBe(2);
    expect(report.restored).toBe(true);
    expect(after).toEqual(before);
    const step3 = journal.entries.filter((e) => e.step === 3 && e.phase === 'apply');
    expect(step3.map((e) => `${e.attempt}:${e.result}`)).toEqual(['1:started', '1:failed', '2:started', '2:failed']);
  });

  it('attaching a hostdev that is already there counts as done', async () => {
    const c = await newCase();
    const journal = await openJournal(path.join(c.dir, 'j.jsonl'), 'local', systemClock);
    const attach = c.plan.actions[4];
    const plan = { ...c.plan, actions: attach ? [attach, attach] : [] };
    const report = await executeHostPlan(plan, { ...c.deps, journal });
    await journal.close();
    expect(report.ok).toBe(true);
    expect(report.steps[1]?.note).toMatch(/already in the domain configuration/);
  });
});
