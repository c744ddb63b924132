import { describe, expect, it } from 'vitest';
import { XMLValidator } from 'fast-xml-parser';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { PLAN_FORMAT_VERSION, type Plan, type Problem } from '../model/plan.js';
import { renderCheckJunit } from './check-junit.js';

const vmsByHost = (c: ReturnType<typeof hostilePlanCase>) =>
  new Map(c.desired.hosts.map((h) => [h.name, c.desired.vms.filter((v) => v.host === h.name).map((v) => v.name)]));

describe('renderCheckJunit', () => {
  it('one suite per host: drift as failures, blocks as errors, an unobserved host as an error with its VMs skipped', () => {
    const c = hostilePlanCase();
    const xml = renderCheckJunit(c.plan, vmsByHost(c));
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toMatchInlineSnapshot(`
      "<?xml version="1.0" encoding="UTF-8"?>
      <testsuites name="passthru check">
        <testsuite name="passthru check hv1" tests="3" failures="3" errors="0" skipped="0">
          <testcase classname="passthru.hv1" name="host driver bindings">
            <failure type="drift" message="1 change(s) pending">nodedev-detach 0000:07:00.0: newly assigned to web &quot;prod&quot;;$(reboot)</failure>
          </testcase>
          <testcase classname="passthru.hv1" name="vm web &quot;prod&quot;;$(reboot)">
            <failure type="drift" message="2 change(s) pending">attach-hostdev 0000:07:00.0: claimed for web &quot;prod&quot;;$(reboot) at passthrough.yaml:1:1
      remove-interface 52:54:00:00:00:01: replaced by a passed-through device (removeInterfaces at passthrough.yaml:1:1)</failure>
          </testcase>
          <testcase classname="passthru.hv1" name="vm db\\u001b]0;pwned\\u0007\\u202egnp.exe">
            <failure type="drift" message="1 change(s) pending">detach-hostdev 0000:08:00.0: not claimed for db\\u001b]0;pwned\\u0007\\u202egnp.exe in passthrough.yaml</failure>
          </testcase>
        </testsuite>
        <testsuite name="passthru check hv2" tests="2" failures="0" errors="1" skipped="0">
          <testcase classname="passthru.hv2" name="host driver bindings"/>
          <testcase classname="passthru.hv2" name="vm ghost">
            <error type="device-not-found" message="0000:09:00.0 (claimed for ghost at passthrough.yaml:1:1) does not exist on host hv2">list the host&apos;s PCI devices with \`lspci -Dnn\` or \`virsh nodedev-list --cap pci\` and correct the address</error>
            <error type="unknown-vm" message="VM &quot;ghost&quot; (passthrough.yaml:1:1) is not defined on host hv2">names are case-sensitive: check \`virsh list --all --name\`, or define the VM first</error>
          </testcase>
        </testsuite>
        <testsuite name="passthru check hv3" tests="2" failures="0" errors="1" skipped="1">
          <testcase classname="passthru.hv3" name="observe host">
            <error type="host-not-observed" message="cannot connect to qemu+ssh://root@hv3/system: Cannot recv data: ssh: connect to host hv3\\u001b[1A
      port 22: No route to host">check the URI</error>
          </testcase>
          <testcase classname="passthru.hv3" name="vm far">
            <skipped message="the host could not be observed"/>
          </testcase>
        </testsuite>
      </testsuites>
      "
    `);
  });

  it('a device not back (SPEC 13) fails the host driver bindings case, with no action pending', () => {
    const notBack: Problem = {
      severity: 'warn',
      code: 'device-not-back',
      message: '0000:07:00.1 is listed under `release` but is bound to no driver',
      hint: 'reset it: passthru recover 0000:07:00.1',
      address: '0000:07:00.1',
    };
    const plan: Plan = { format_version: PLAN_FORMAT_VERSION, changes: false, applyable: true, hosts: [{ name: 'hv1', uri: 'test:///default', fingerprint: 'sha256:f1', actions: [], problems: [notBack] }] };
    const xml = renderCheckJunit(plan, new Map([['hv1', ['web']]]));
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('<testsuite name="passthru check hv1" tests="2" failures="1" errors="0" skipped="0">');
    expect(xml).toContain(
      [
        '    <testcase classname="passthru.hv1" name="host driver bindings">',
        '      <failure type="drift" message="0000:07:00.1 is listed under `release` but is bound to no driver">device-not-back: reset it: passthru recover 0000:07:00.1</failure>',
        '    </testcase>',
        '    <testcase classname="passthru.hv1" name="vm web"/>',
      ].join('\n'),
    );
  });
});
