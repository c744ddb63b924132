import { describe, expect, it } from 'vitest';
import { at, desired, device, domain, hostdev, snapshot } from '../../test/helpers/builders.js';
import { assemblePlan } from './plan-all.js';
import { planHost } from './plan-host.js';
import { planDrifted } from './not-back.js';

describe('a released device without a driver (SPEC 13: it did not come back)', () => {
  it('is drift: a warning with the remedies, no action, and check counts it', () => {
    const devs = [device('0000:07:00.0', { driver: null }), device('0000:07:00.1', { iommuGroup: 18 })];
    const plan = planHost(desired([], { release: [at('0000:07:00')] }), snapshot(devs, []));
    expect(plan.actions).toEqual([]);
    expect(plan.problems).toMatchObject([
      {
        severity: 'warn',
        code: 'device-not-back',
        address: '0000:07:00.0',
        message: '0000:07:00.0 is listed under `release` but is bound to no driver: it did not come back to its host driver',
      },
    ]);
    expect(plan.problems[0]?.hint).toMatch(/virsh nodedev-reset pci_0000_07_00_0.*\/sys\/bus\/pci\/rescan.*vendor-reset/);
    expect(planDrifted(assemblePlan([plan]))).toBe(true);
  });

  it('is not reported for a device a VM holds (libvirt binds it at start), nor for one on a host driver', () => {
    const held = planHost(desired([], { release: [at('0000:07:00.0')] }), snapshot([device('0000:07:00.0', { driver: null })], [domain('x', { hostdevs: [hostdev('0000:07:00.0')] })]));
    expect(held.problems.map((p) => p.code)).not.toContain('device-not-back');
    const bound = planHost(desired([], { release: [at('0000:07:00.0')] }), snapshot([device('0000:07:00.0')], []));
    expect(bound.problems).toEqual([]);
    expect(planDrifted(assemblePlan([bound]))).toBe(false);
  });
});
