import { describe, expect, it } from 'vitest';
import { HOSTILE_VM, ODD_VM, hostilePlanCase } from '../../test/helpers/plans.js';
import { assemblePlan } from '../plan/plan-all.js';
import { createTwoFilesPatch } from 'diff';
import { renderPlanDiff } from './plan-diff.js';
import { renderPlanJson, type PlanJson } from './plan-json.js';

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

  it('with the snapshots: each observed host has xmlChanges, the whole XML before and after (the texts of --format diff)', () => {
    const c = hostilePlanCase();
    const json = JSON.parse(renderPlanJson(c.plan, c.snapshots)) as PlanJson;
    expect(json.hosts.map((h) => [h.name, h.xmlChanges?.map((x) => x.vm)])).toEqual([
      ['hv1', [ODD_VM, HOSTILE_VM]],
      ['hv2', []],
      ['hv3', undefined],
    ]);
    const diff = renderPlanDiff(c.plan, c.snapshots);
    for (const x of json.hosts[0]?.xmlChanges ?? []) {
      const dom = c.snapshots.get('hv1')?.domains.find((d) => d.name === x.vm);
      expect(x.before).toBe(dom?.persistentXml);
      expect(x.after).not.toBe(x.before);
      expect(diff).toContain(createTwoFilesPatch(`a/hv1/${x.vm}.xml`, `b/hv1/${x.vm}.xml`, x.before, x.after, 'observed', 'planned'));
    }
    expect(json.hosts[0]?.xmlChanges?.[0]?.after).toContain('<address domain="0x0000" bus="0x07" slot="0x00" function="0x0"/>');
    // Every other field is the plan itself.
    expect(json.hosts.map(({ xmlChanges: _, ...h }) => h)).toEqual(c.plan.hosts);
  });
});
