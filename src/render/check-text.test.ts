import { describe, expect, it } from 'vitest';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { assemblePlan } from '../plan/plan-all.js';
import { renderCheckText } from './check-text.js';
import { plainStyle } from './style.js';

describe('renderCheckText', () => {
  it('quiet: one verdict line naming every host, the worst first', () => {
    const { plan, snapshots } = hostilePlanCase();
    expect(renderCheckText(plan, snapshots, plainStyle, true)).toMatchInlineSnapshot(`
      "passthru check: error: not observed, blocked (hv1: 4 change(s), hv2: blocked, hv3: not observed)
      "
    `);
  });

  it('drifted and in sync', () => {
    const { plan, snapshots } = hostilePlanCase();
    const hv1 = plan.hosts[0]!;
    expect(renderCheckText(assemblePlan([{ ...hv1, problems: [] }]), snapshots, plainStyle, true)).toMatchInlineSnapshot(`
      "passthru check: drifted (hv1: 4 change(s))
      "
    `);
    expect(renderCheckText(assemblePlan([{ ...hv1, actions: [], problems: [] }]), snapshots, plainStyle, false)).toMatchInlineSnapshot(`
      "passthru check: in sync (hv1: 0 change(s))
      "
    `);
  });
});
