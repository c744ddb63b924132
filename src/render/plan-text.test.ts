import { describe, expect, it } from 'vitest';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { UNSAFE, withoutOwnColours } from '../../test/helpers/terminal-text.js';
import { renderPlanText } from './plan-text.js';
import { colorStyle, plainStyle } from './style.js';

describe('renderPlanText', () => {
  it('shows every host: changes, blocked, not observed; every name from the host escaped', () => {
    const { plan, snapshots } = hostilePlanCase();
    expect(renderPlanText(plan, snapshots, plainStyle)).toMatchInlineSnapshot(`
      "Host hv1 (qemu:///system)

        # host driver bindings
          2. ~ 0000:07:00.0 Evil\\u001b[2J Corp NIC\\u009b31m [8086:1521]: igb → vfio-pci
             newly assigned to web "prod";$(reboot)

        # VM "db\\u001b]0;pwned\\u0007\\u202egnp.exe" (running)
          1. - hostdev 0000:08:00.0 (config)
             not claimed for db\\u001b]0;pwned\\u0007\\u202egnp.exe in passthrough.yaml

        # VM "web "prod";$(reboot)" (shut off)
          3. + hostdev 0000:07:00.0 managed=yes (config)
             claimed for web "prod";$(reboot) at passthrough.yaml:1:1
          4. - interface type=bridge source=br0 mac=52:54:00:00:00:01 (config)
             replaced by a passed-through device (removeInterfaces at passthrough.yaml:1:1)

      Warning: VM "db\\u001b]0;pwned\\u0007\\u202egnp.exe" is running: its config changes take effect at the next VM start (\`live: false\`)
        on host hv1 [takes-effect-at-next-start]
        fix: restart the VM when convenient, or set \`live: true\` to also hot-plug/unplug on the running domain

      Warning: 0000:08:00.0 stays in use by running VM "db\\u001b]0;pwned\\u0007\\u202egnp.exe" until it stops; list it under \`release\` to have the next apply after that return it to its host driver (once in no config, nothing names it)
        on host hv1 [takes-effect-at-next-start]

      Host hv2 (qemu+ssh://root@hv2/system)
        No changes planned: blocked by the problems below.

      Error: 0000:09:00.0 (claimed for ghost at passthrough.yaml:1:1) does not exist on host hv2
        on host hv2 [device-not-found]
        fix: list the host's PCI devices with \`lspci -Dnn\` or \`virsh nodedev-list --cap pci\` and correct the address

      Error: VM "ghost" (passthrough.yaml:1:1) is not defined on host hv2
        on host hv2 [unknown-vm]
        fix: names are case-sensitive: check \`virsh list --all --name\`, or define the VM first

      Host hv3 (qemu+ssh://root@hv3/system)
      Error: host hv3 could not be observed: cannot connect to qemu+ssh://root@hv3/system: Cannot recv data: ssh: connect to host hv3\\u001b[1A
          port 22: No route to host
        fix: check the URI

      Plan: 1 to bind to vfio-pci, 0 to return to the host, 1 hostdev(s) to attach, 1 to detach, 1 interface(s) to remove.
      Not observed: 1 host(s) (hv3) could not be observed; their plan is unknown.
      Blocked: 2 problem(s) must be fixed before this plan can be applied.
      "
    `);
  });

  it('lets only its own colours through', () => {
    const { plan, snapshots } = hostilePlanCase();
    const text = renderPlanText(plan, snapshots, colorStyle);
    expect(text).toContain('\u001b[1mHost hv1 (qemu:///system)\u001b[22m');
    expect(withoutOwnColours(text)).not.toMatch(UNSAFE);
  });
});

describe('renderPlanText: boot-time bindings (SPEC 10)', () => {
  it('lists persist-binding and unpersist-binding with the host bindings, and counts them in the summary', () => {
    const plan = {
      format_version: '1' as const,
      applyable: true,
      changes: true,
      hosts: [
        {
          name: 'local',
          uri: 'qemu:///system',
          fingerprint: null,
          actions: [
            { kind: 'persist-binding' as const, address: '0000:01:00.0', fromDriver: null, reason: 'managed: false for a' },
            { kind: 'unpersist-binding' as const, address: '0000:02:00.0', fromDriver: 'vfio-pci', reason: 'listed under `release`' },
          ],
          problems: [],
        },
      ],
    };
    const text = renderPlanText(plan, new Map(), plainStyle);
    expect(text).toContain('  # host driver bindings\n    1. + 0000:01:00.0 boot-time binding (driverctl): none → vfio-pci\n');
    expect(text).toContain('    2. - 0000:02:00.0 boot-time binding (driverctl): vfio-pci → none\n');
    expect(text).toContain('0 interface(s) to remove, 1 boot-time binding(s) to persist, 1 to remove.');
  });
});
