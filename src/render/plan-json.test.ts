import { describe, expect, it } from 'vitest';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import { assemblePlan } from '../plan/plan-all.js';
import { renderPlanJson } from './plan-json.js';

describe('renderPlanJson', () => {
  it('is the plan itself, with every host and the names exactly as they are', () => {
    const { plan } = hostilePlanCase();
    expect(JSON.parse(renderPlanJson(plan))).toEqual(plan);
    expect(plan.hosts.map((h) => h.name)).toEqual(['hv1', 'hv2', 'hv3']);
  });

  it('a blocked host and a host not observed: no actions; the latter with its error and no fingerprint', () => {
    const { plan } = hostilePlanCase();
    expect(renderPlanJson(assemblePlan(plan.hosts.slice(1)))).toMatchInlineSnapshot(`
      "{
        "format_version": "1",
        "applyable": false,
        "changes": false,
        "hosts": [
          {
            "name": "hv2",
            "uri": "qemu+ssh://root@hv2/system",
            "fingerprint": "sha256:4968d4b5cd13164b22a8fa89bc71ba2c1ba06653dfc7e8b0656761984e422156",
            "actions": [],
            "problems": [
              {
                "severity": "block",
                "code": "device-not-found",
                "message": "0000:09:00.0 (claimed for ghost at passthrough.yaml:1:1) does not exist on host hv2",
                "hint": "list the host's PCI devices with \`lspci -Dnn\` or \`virsh nodedev-list --cap pci\` and correct the address",
                "address": "0000:09:00.0",
                "vm": "ghost"
              },
              {
                "severity": "block",
                "code": "unknown-vm",
                "message": "VM \\"ghost\\" (passthrough.yaml:1:1) is not defined on host hv2",
                "hint": "names are case-sensitive: check \`virsh list --all --name\`, or define the VM first",
                "vm": "ghost"
              }
            ]
          },
          {
            "name": "hv3",
            "uri": "qemu+ssh://root@hv3/system",
            "fingerprint": null,
            "actions": [],
            "problems": [],
            "error": {
              "message": "cannot connect to qemu+ssh://root@hv3/system: Cannot recv data: ssh: connect to host hv3\\u001b[1A\\nport 22: No route to host",
              "hint": "check the URI"
            }
          }
        ]
      }
      "
    `);
  });
});
