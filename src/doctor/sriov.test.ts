import { afterAll, describe, expect, it } from 'vitest';
import { fakeHost, removeFakeHost, sriovHost } from '../../test/helpers/fake-host.js';
import { loadDesiredState } from '../desired/load.js';
import { desiredStateChecks } from './doctor.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

const PF = '0000:01:00.0';
const desired = loadDesiredState(['version: 1', 'sriov:', `  - { pf: "${PF}", numVfs: 2 }`, ''].join('\n'), 'passthrough.yaml');

/** The lab's igb PF (as sriovHost has it), bound to `driver` (null: none). */
const pfHost = (driver: string | null) =>
  fakeHost()
    .device({ address: '0000:00:00.0', vendor: '8086', device: '29c0', class: '060000', group: 0 })
    .device({ address: PF, vendor: '8086', device: '10c9', class: '020000', driver, group: 1, sriov: { totalVfs: 7, offset: 128, stride: 2, vfDevice: '10ca' } })
    .build();

describe('doctor: the drivers of the sriov: PFs (SPEC 11)', () => {
  it('passes for a PF on its driver', async () => {
    const root = await sriovHost().build();
    roots.push(root);
    const checks = (await desiredStateChecks(root, desired)).filter((c) => c.id === 'sriov-pf-driver');
    expect(checks).toEqual([{ id: 'sriov-pf-driver', title: 'SR-IOV PF driver', status: 'pass', detail: `${PF} is on igb: its VF count can be set` }]);
  });

  it('fails for a PF bound to no driver (the kernel refuses sriov_numvfs writes), with the fix', async () => {
    const root = await pfHost(null);
    roots.push(root);
    const checks = (await desiredStateChecks(root, desired)).filter((c) => c.id === 'sriov-pf-driver');
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ status: 'fail', detail: `${PF} (sriov: 2 VFs) is bound to no driver: the kernel refuses writes to its sriov_numvfs, so no VF can be created` });
    expect(checks[0]?.remedy).toContain(`echo ${PF} > /sys/bus/pci/drivers_probe`);
  });

  it('says nothing without sriov: entries, or for a PF that is not there (the planner reports it)', async () => {
    const root = await fakeHost().device({ address: '0000:00:00.0', vendor: '8086', device: '29c0', class: '060000', group: 0 }).build();
    roots.push(root);
    expect((await desiredStateChecks(root, desired)).filter((c) => c.id === 'sriov-pf-driver')).toEqual([]);
    expect((await desiredStateChecks(root, loadDesiredState('version: 1\n', 'passthrough.yaml'))).filter((c) => c.id === 'sriov-pf-driver')).toEqual([]);
  });
});
