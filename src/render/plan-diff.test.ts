import { describe, expect, it } from 'vitest';
import { render } from '../cli/reporters.js';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { renderPlanDiff } from './plan-diff.js';
import { plainStyle } from './style.js';
import { byAddress, desired, device, domain, hostdev, ROM_HOSTDEV, snapshot, vm } from '../../test/helpers/builders.js';
import { assemblePlan } from '../plan/plan-all.js';
import { planHost } from '../plan/plan-host.js';

describe('renderPlanDiff', () => {
  it('diffs the persistent XML of each changed VM of the hosts observed (as printed: names escaped)', () => {
    const c = hostilePlanCase();
    expect(renderPlanDiff(c.plan, c.snapshots)).toContain('--- a/hv1/web "prod";$(reboot).xml\tobserved');
    expect(render('plan', 'diff', c, { style: plainStyle, quiet: false })).toMatchInlineSnapshot(`
      "===================================================================
      --- a/hv1/web "prod";$(reboot).xml	observed
      +++ b/hv1/web "prod";$(reboot).xml	planned
      @@ -1,7 +1,11 @@
       <domain type='kvm'>
         <name>web &quot;prod&quot;;$(reboot)</name>
         <uuid>11111111-1111-4111-8111-111111111111</uuid>
         <devices>
      -    <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/></interface>
      +    <hostdev mode="subsystem" type="pci" managed="yes">
      +      <source>
      +        <address domain="0x0000" bus="0x07" slot="0x00" function="0x0"/>
      +      </source>
      +    </hostdev>
         </devices>
       </domain>
      ===================================================================
      --- a/hv1/db\\u001b]0;pwned\\u0007\\u202egnp.exe.xml	observed
      +++ b/hv1/db\\u001b]0;pwned\\u0007\\u202egnp.exe.xml	planned
      @@ -1,11 +1,6 @@
       <domain type='kvm'>
         <name>db&#x1b;]0;pwned&#x7;\\u202egnp.exe</name>
         <uuid>22222222-2222-4222-8222-222222222222</uuid>
         <devices>
      -    <hostdev mode='subsystem' type='pci' managed='yes'>
      -      <source>
      -        <address domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>
      -      </source>
      -    </hostdev>
         </devices>
       </domain>
      "
    `);
  });

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
