import { describe, expect, it } from 'vitest';
import { render } from '../cli/reporters.js';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { renderPlanDiff } from './plan-diff.js';
import { plainStyle } from './style.js';

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
});
