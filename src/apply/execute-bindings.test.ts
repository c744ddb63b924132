/**
 * The binding steps (SPEC 10) carried out for real: the scripted driverctl (test/helpers/fake-driverctl) writing into
 * a fake host tree, the real driverctl runner, the real target observer reading the override files back. Never the
 * real driverctl.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeDriverctl, type FakeDriverctl } from '../../test/helpers/fake-driverctl/index.js';
import { fakeHost, removeFakeHost } from '../../test/helpers/fake-host.js';
import { createDriverctl } from '../io/driverctl.js';
import type { Virsh } from '../io/virsh.js';
import type { Action, HostPlan } from '../model/plan.js';
import { executeHostPlan } from './execute.js';
import type { JournalRecord } from './journal.js';
import { hostTarget } from './target.js';

const GPU = '0000:01:00.0';
const AUDIO = '0000:01:00.1';
const noVirsh: Virsh = { batch: () => Promise.reject(new Error('virsh is not used')), run: () => Promise.reject(new Error('virsh is not used')) };

let root: string;
let work: string;
let fake: FakeDriverctl;
beforeEach(async () => {
  root = await fakeHost()
    .device({ address: GPU, vendor: '10de', device: '2330', class: '030000', driver: 'vfio-pci', group: 1 })
    .device({ address: AUDIO, vendor: '10de', device: '22a3', class: '040300', driver: 'vfio-pci', group: 1 })
    .build();
  work = await mkdtemp(path.join(tmpdir(), 'passthru-driverctl-exec-'));
  fake = await createFakeDriverctl(work, root);
});
afterEach(async () => {
  await removeFakeHost(root);
  await rm(work, { recursive: true, force: true });
});

const override = (address: string) => readFile(path.join(root, 'etc/driverctl.d', `pci-${address}`), 'utf8').catch(() => null);
const persist = (address: string, fromDriver: string | null = null): Action => ({ kind: 'persist-binding', address, fromDriver, reason: 'test' });
const unpersist = (address: string): Action => ({ kind: 'unpersist-binding', address, fromDriver: 'vfio-pci', reason: 'test' });

async function run(actions: Action[]) {
  const plan: HostPlan = { name: 'local', uri: 'qemu:///system', fingerprint: null, actions, problems: [] };
  const journal: JournalRecord[] = [];
  const report = await executeHostPlan(plan, {
    virsh: noVirsh,
    driverctl: createDriverctl({ binary: fake.binary }),
    target: hostTarget({ uri: plan.uri, virsh: noVirsh, root }),
    journal: { record: async (e) => void journal.push(e) },
    clock: { now: () => new Date(0) },
    stepTimeoutMs: 20_000,
  });
  return { report, journal };
}

describe('persist-binding / unpersist-binding through driverctl', () => {
  it('persists with `driverctl set-override ADDR vfio-pci` and verifies the file; journals the driverctl argv', async () => {
    const { report, journal } = await run([persist(GPU)]);
    expect(report.ok).toBe(true);
    expect(await override(GPU)).toBe('vfio-pci\n');
    expect(await fake.calls()).toEqual([['set-override', GPU, 'vfio-pci']]);
    expect(journal.map((j) => j.command)).toEqual([
      ['driverctl', 'set-override', GPU, 'vfio-pci'],
      ['driverctl', 'set-override', GPU, 'vfio-pci'],
    ]);
  });

  it('unpersists with `driverctl unset-override ADDR`', async () => {
    await mkdir(path.join(root, 'etc/driverctl.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/driverctl.d', `pci-${GPU}`), 'vfio-pci\n');
    const { report } = await run([unpersist(GPU)]);
    expect(report.ok).toBe(true);
    expect(await override(GPU)).toBeNull();
    expect(await fake.calls()).toEqual([['unset-override', GPU]]);
  });

  it('fails a driverctl that says it worked but persisted nothing', async () => {
    await fake.setControl({ noop: `set-override ${GPU} vfio-pci` });
    const { report } = await run([persist(GPU)]);
    expect(report.ok).toBe(false);
    expect(report.failure?.error).toBe(`driverctl reported success but no driverctl override is persisted for ${GPU} (expected an override to vfio-pci)`);
  });

  it('rolls back the overrides it changed when a later step fails: the foreign one is put back, the new one removed', async () => {
    await mkdir(path.join(root, 'etc/driverctl.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/driverctl.d', `pci-${GPU}`), 'nouveau\n');
    await fake.setControl({ fail: `set-override ${AUDIO} vfio-pci` });
    const { report } = await run([persist(GPU, 'nouveau'), persist(AUDIO)]);
    expect(report.ok).toBe(false);
    expect(report.failure?.error).toBe(`driverctl: failed to bind device ${AUDIO} to driver vfio-pci`);
    expect(report.restored).toBe(true);
    expect(await override(GPU)).toBe('nouveau\n');
    expect(await override(AUDIO)).toBeNull();
    // The failed step changed nothing, so its undo was skipped; the first one's undo restored nouveau.
    expect(await fake.calls()).toEqual([
      ['set-override', GPU, 'vfio-pci'],
      ['set-override', AUDIO, 'vfio-pci'],
      ['set-override', GPU, 'nouveau'],
    ]);
  });

  it('fails the step, not the process, when driverctl cannot be run, and names the install command', async () => {
    const plan: HostPlan = { name: 'local', uri: 'qemu:///system', fingerprint: null, actions: [persist(GPU)], problems: [] };
    const report = await executeHostPlan(plan, {
      virsh: noVirsh,
      driverctl: createDriverctl({ binary: path.join(work, 'no-such-driverctl') }),
      target: hostTarget({ uri: plan.uri, virsh: noVirsh, root }),
      journal: { record: async () => {} },
      clock: { now: () => new Date(0) },
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.error).toContain('cannot run driverctl');
    expect(report.restored).toBe(true);
  });
});
