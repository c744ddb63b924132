/**
 * `passthru doctor`: whether each PF listed under `sriov:` (SPEC 11) for this machine can have its VF count set.
 * The kernel creates VFs through the PF's driver: with no driver bound, a write to `sriov_numvfs` fails (ENOENT or
 * EINVAL, depending on the kernel), so `apply` would fail at its first step. Pure: it judges plain data.
 */
import type { DesiredState } from '../model/desired.js';
import type { PciDevice } from '../model/snapshot.js';
import type { DoctorCheck } from './checks.js';

const TITLE = 'SR-IOV PF driver';

/**
 * One check per `sriov:` PF of a local host: pass when a driver is bound, fail when none is. A PF that is not on the
 * machine or not SR-IOV capable is left to the planner (`device-not-found`, `not-sriov-capable`).
 */
export function sriovPfChecks(desired: DesiredState, devices: readonly PciDevice[]): DoctorCheck[] {
  const local = new Set(desired.hosts.filter((h) => h.local).map((h) => h.name));
  return (desired.sriov ?? [])
    .filter((entry) => local.has(entry.host))
    .flatMap((entry): DoctorCheck[] => {
      const pf = devices.find((d) => d.address === entry.pf);
      if (!pf?.sriov) return [];
      if (pf.driver !== null) {
        return [{ id: 'sriov-pf-driver', title: TITLE, status: 'pass', detail: `${pf.address} is on ${pf.driver}: its VF count can be set` }];
      }
      return [
        {
          id: 'sriov-pf-driver',
          title: TITLE,
          status: 'fail',
          detail: `${pf.address} (sriov: ${entry.numVfs} VFs) is bound to no driver: the kernel refuses writes to its sriov_numvfs, so no VF can be created`,
          remedy:
            `load its driver and let the kernel bind it: \`lspci -k -s ${pf.address}\` names the module ("Kernel modules"); ` +
            `\`modprobe MODULE\`, then \`echo ${pf.address} > /sys/bus/pci/drivers_probe\`; check with \`readlink /sys/bus/pci/devices/${pf.address}/driver\``,
        },
      ];
    });
}
