import { describe, expect, it } from 'vitest';
import { byAddress, desired, device, domain, hostdev, ROM_HOSTDEV, snapshot, vm } from '../../test/helpers/builders.js';
import { assemblePlan } from '../plan/plan-all.js';
import { planHost } from '../plan/plan-host.js';
import { renderPlanDiff } from './plan-diff.js';

describe('renderPlanDiff', () => {
  it('shows a managed change as apply makes it: the same element, every child kept, only managed changed', () => {
    const element = ROM_HOSTDEV.replace("managed='yes'", "managed='no'");
    const persistentXml = `<domain>\n  <name>a</name>\n  <devices>\n    <disk><boot order='1'/></disk>\n    ${element}\n  </devices>\n</domain>\n`;
    const a = { ...domain('a', { hostdevs: [hostdev('0000:07:00.0', { managed: false, xml: element })] }), persistentXml };
    const snap = snapshot([device('0000:07:00.0', { driver: 'vfio-pci' })], [a]);
    const host = planHost(desired([vm('a', [byAddress('0000:07:00.0')])]), snap);
    const diff = renderPlanDiff(assemblePlan([host]), new Map([['local', snap]]));
    const changed = diff.split('\n').filter((l) => /^[-+]\s/.test(l));
    expect(changed).toEqual(["-    <hostdev mode='subsystem' type='pci' managed='no'>", "+    <hostdev mode='subsystem' type='pci' managed='yes'>"]);
  });
});
