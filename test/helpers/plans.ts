/**
 * Plans for renderer tests, as the planner makes them (planObservations over builder snapshots), with the names
 * a renderer must survive: quotes and shell syntax, a terminal escape (`ESC ] 0 ; … BEL` retitles a terminal), a
 * bidi override, a pci.ids name with a CSI sequence — and three kinds of host: one with changes, one blocked with
 * nothing to do, one that could not be observed (virsh's stderr of two lines in its error).
 */
import { HostError } from '../../src/errors.js';
import type { DesiredState } from '../../src/model/desired.js';
import type { HostObservation } from '../../src/model/observation.js';
import type { Plan } from '../../src/model/plan.js';
import type { DomainSnapshot, HostSnapshot } from '../../src/model/snapshot.js';
import { planObservations } from '../../src/plan/plan-all.js';
import { bridgeNic, byAddress, device, domain, hostdev, removeNic, snapshot, vm } from './builders.js';

/** A VM name with quotes, `;`, `$(…)`. */
export const ODD_VM = `web "prod";$(reboot)`;
/** A VM name that retitles the terminal and reverses the rest of the line. */
export const HOSTILE_VM = 'db\u001b]0;pwned\u0007\u202egnp.exe';

export interface RenderCase {
  desired: DesiredState;
  plan: Plan;
  snapshots: Map<string, HostSnapshot>;
}

/** The domain with a persistent XML as libvirt prints it: `name` element, then `devices` holding `device`. */
function withXml(dom: DomainSnapshot, name: string, device: string): DomainSnapshot {
  const persistentXml = `<domain type='kvm'>\n  ${name}\n  <uuid>${dom.uuid}</uuid>\n  <devices>\n    ${device}\n  </devices>\n</domain>\n`;
  return { ...dom, persistentXml };
}

export function hostilePlanCase(): RenderCase {
  const nic = bridgeNic('br0', '52:54:00:00:00:01');
  const hosts = [
    { name: 'hv1', uri: 'qemu:///system', local: true },
    { name: 'hv2', uri: 'qemu+ssh://root@hv2/system', local: false },
    { name: 'hv3', uri: 'qemu+ssh://root@hv3/system', local: false },
  ];
  const hv1 = snapshot(
    [
      device('0000:07:00.0', { vendorName: 'Evil\u001b[2J Corp', productName: 'NIC\u009b31m' }),
      device('0000:08:00.0', { iommuGroup: 18, driver: 'vfio-pci' }),
    ],
    [
      withXml(domain(ODD_VM, { uuid: '11111111-1111-4111-8111-111111111111', interfaces: [nic] }), `<name>web &quot;prod&quot;;$(reboot)</name>`, nic.xml),
      withXml(
        domain(HOSTILE_VM, { uuid: '22222222-2222-4222-8222-222222222222', state: 'running', hostdevs: [hostdev('0000:08:00.0')] }),
        // No XML can hold the ESC and BEL of this name: libvirt itself would print it as character references.
        '<name>db&#x1b;]0;pwned&#x7;\u202egnp.exe</name>',
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n        <address domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>\n      </source>\n    </hostdev>",
      ),
    ],
    { host: 'hv1' },
  );
  const hv2 = snapshot([], [], { host: 'hv2', uri: 'qemu+ssh://root@hv2/system', deviceSource: 'nodedev', hostUseKnown: false });
  const desired: DesiredState = {
    file: 'passthrough.yaml',
    hosts,
    vms: [
      vm(ODD_VM, [byAddress('0000:07:00.0')], { host: 'hv1', removeInterfaces: [removeNic('bridge', 'br0')] }),
      vm(HOSTILE_VM, [], { host: 'hv1' }),
      vm('ghost', [byAddress('0000:09:00.0')], { host: 'hv2' }),
      vm('far', [], { host: 'hv3' }),
    ],
    release: [],
    protect: [],
  };
  const unreachable = new HostError('cannot connect to qemu+ssh://root@hv3/system: Cannot recv data: ssh: connect to host hv3\u001b[1A\nport 22: No route to host', {
    hint: 'check the URI',
  });
  const observations: HostObservation[] = [
    { host: hosts[0]!, snapshot: hv1 },
    { host: hosts[1]!, snapshot: hv2 },
    { host: hosts[2]!, error: unreachable },
  ];
  return { desired, plan: planObservations(desired, observations), snapshots: new Map([['hv1', hv1], ['hv2', hv2]]) };
}
