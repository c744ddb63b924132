/**
 * The plan-time safety rules of SPEC 3. Each rule reads the resolved assignments and the host and returns
 * diagnostics; none throws, so an operator sees every reason a plan is blocked at once.
 */
import { formatPos, type DesiredHostState } from '../model/desired.js';
import { slotOf } from '../model/pci-address.js';
import type { Problem } from '../model/plan.js';
import type { PciDevice } from '../model/snapshot.js';
import type { HostView } from './host-view.js';
import { describeDevice } from './host-view.js';
import type { Assignment } from './resolve-claims.js';

/** Drivers that leave a group viable for VFIO: the device is not in use by the host. */
const VFIO_SAFE_DRIVERS = new Set(['vfio-pci', 'pci-stub']);

const IOMMU_HINT =
  'enable VT-d (Intel) or AMD-Vi/IOMMU in the BIOS/UEFI setup, add `intel_iommu=on` (Intel; AMD is on by default) to ' +
  'GRUB_CMDLINE_LINUX in /etc/default/grub, run `update-grub` (Debian/Ubuntu) or `grub2-mkconfig -o /boot/grub2/grub.cfg` ' +
  '(RHEL), reboot, then check `cat /proc/cmdline` and `ls /sys/kernel/iommu_groups`; `passthru doctor` checks it all';

/** IOMMU off or absent: nothing can be passed through safely. */
export function checkIommu(view: HostView, assignments: Assignment[]): Problem[] {
  const { iommu } = view.snapshot;
  if (iommu.groupsPresent || assignments.length === 0) return [];
  const tables = iommu.dmarTable || iommu.ivrsTable ? 'the ACPI DMAR/IVRS table is present' : 'no ACPI DMAR/IVRS table was found';
  const cmdline = iommu.cmdline === null ? '' : `; the kernel command line is: ${iommu.cmdline}`;
  return [
    {
      severity: 'block',
      code: 'iommu-disabled',
      message: `the IOMMU is off on host ${view.snapshot.host}: /sys/kernel/iommu_groups is empty and ${tables}${cmdline}`,
      hint: IOMMU_HINT,
    },
  ];
}

/**
 * Per-device rules: endpoints only, protected, host-critical, used by a VM the file does not list, IOMMU group.
 * `returnedToHost` are the devices the file gives back to a host driver (address → why): for the group rule they
 * count as bound to one, since that is where they end.
 */
export function checkAssignedDevices(
  desired: DesiredHostState,
  view: HostView,
  assignments: Assignment[],
  returnedToHost: ReadonlyMap<string, string>,
): Problem[] {
  const problems: Problem[] = [];
  const listed = new Set(desired.vms.map((v) => v.name));
  const protectedAddresses = desired.protect.map((p) => p.address);
  const vmOf = new Map(assignments.map((a) => [a.device.address, a.vm.name]));
  const reportedGroups = new Set<string>();

  for (const a of assignments) {
    const d = a.device;
    const base = { address: d.address, vm: a.vm.name };
    if (d.isBridge) {
      problems.push({
        ...base,
        severity: 'block',
        code: 'not-an-endpoint',
        message: `${describeDevice(d)} is a PCI bridge, not an endpoint device; it cannot be passed through`,
        hint: 'claim the device(s) behind the bridge instead (`lspci -t` shows what sits behind it)',
      });
      continue;
    }
    if (view.covers(protectedAddresses, d.address)) {
      problems.push({
        ...base,
        severity: 'block',
        code: 'protected',
        message: `${d.address} is listed under \`protect\` and is never detached or assigned`,
        hint: `remove it from ${a.vm.name}'s devices, or from \`protect\` if the host no longer needs it`,
      });
      continue;
    }
    if (d.hostUse.length > 0 && !a.force) {
      problems.push({
        ...base,
        severity: 'block',
        code: 'host-critical',
        message: `${describeDevice(d)} is in use by the host: ${d.hostUse.map((u) => u.detail).join('; ')}`,
        hint:
          'detaching it would cut the host off (network, disk or console). Move that use elsewhere first; if you are ' +
          `sure, add \`force: true\` to the entry at ${formatPos(a.pos)}`,
      });
    }
    const unknown = d.hostUse.length === 0 && !a.force ? view.unknownHostUse(d) : null;
    // Locally the routes and mounts were expected to be readable: that they were not is a reason to stop. A remote
    // host's are never seen, which the host-level warning says once.
    if (unknown !== null && view.snapshot.deviceSource === 'sysfs') {
      problems.push({
        ...base,
        severity: 'block',
        code: 'host-use-unknown',
        message: `${describeDevice(d)} may be in use by the host, which cannot be told: ${unknown}`,
        hint:
          'make the host\'s /proc (routes, addresses, mounts, swaps) readable under --root and plan again; if you are sure the ' +
          `host does not need this device, add \`force: true\` to the entry at ${formatPos(a.pos)}`,
      });
    }
    for (const other of view.usersOf(d.address).filter((dom) => !listed.has(dom.name))) {
      problems.push({
        ...base,
        severity: 'block',
        code: 'device-in-use',
        message: `${d.address} is already assigned to VM "${other.name}", which passthrough.yaml does not list`,
        hint: `remove it from "${other.name}" (\`virsh detach-device\`), or add "${other.name}" to the file so that passthru manages it`,
      });
    }
    if (d.iommuGroup === null) {
      if (view.snapshot.iommu.groupsPresent) {
        problems.push({
          ...base,
          severity: 'block',
          code: 'no-iommu-group',
          message: `${d.address} is in no IOMMU group although the IOMMU is on; the kernel cannot isolate it`,
          hint: 'check `dmesg | grep -i -e DMAR -e IOMMU` for why this device was left out (a broken DMAR scope or a quirk)',
        });
      }
      continue;
    }
    for (const m of view.groupMembers(d.iommuGroup)) {
      if (m.address === d.address || m.isBridge) continue;
      const owner = vmOf.get(m.address);
      if (owner === a.vm.name) continue;
      const key = `${d.iommuGroup}/${m.address}/${a.vm.name}`;
      if (reportedGroups.has(key)) continue;
      // A VM the file does not list keeps its devices, so a group member it holds is as taken as a claimed one.
      const unlisted = owner === undefined ? view.usersOf(m.address).find((dom) => !listed.has(dom.name))?.name : undefined;
      const problem = groupProblem(d, m, { owner, unlisted, returned: returnedToHost.get(m.address) }, a.vm.name);
      if (problem === null) continue;
      reportedGroups.add(key);
      problems.push({ ...base, severity: 'block', ...problem });
    }
  }
  return problems.concat(checkPfAndVf(assignments));
}

/**
 * Why `member`, another endpoint of `d`'s IOMMU group that `vm` does not get, keeps the group from being given to
 * `vm`: it goes to another VM (`owner`), it cannot be read, or it stays on a host driver. Null when it does not.
 */
function groupProblem(
  d: PciDevice,
  member: PciDevice,
  holder: { owner: string | undefined; unlisted: string | undefined; returned: string | undefined },
  vm: string,
): Pick<Problem, 'code' | 'message' | 'hint'> | null {
  const group = d.iommuGroup;
  if (holder.owner !== undefined || holder.unlisted !== undefined) {
    const other = holder.unlisted === undefined ? `goes to ${holder.owner}` : `is used by VM "${holder.unlisted}", which passthrough.yaml does not list`;
    return {
      code: 'iommu-group-split',
      message: `IOMMU group ${group} is split: ${d.address} goes to ${vm} but ${member.address} ${other}`,
      hint: 'a group is isolated only as a whole: give all its endpoint devices to the same VM',
    };
  }
  if (member.unreadable !== undefined) {
    return {
      code: 'iommu-group-not-viable',
      message:
        `IOMMU group ${group} is not viable for ${d.address}: ${member.address} is in the same group and cannot be ` +
        `read (${member.unreadable}), so which driver holds it cannot be told`,
      hint: `look at ${member.address}'s sysfs entry (\`ls -l /sys/kernel/iommu_groups/${group}/devices/\`) and \`dmesg\`, then plan again`,
    };
  }
  const hostBound =
    member.driver !== null && !VFIO_SAFE_DRIVERS.has(member.driver)
      ? `stays bound to host driver ${member.driver}`
      : holder.returned !== undefined
        ? `goes back to its host driver (${holder.returned})`
        : null;
  if (hostBound === null) return null;
  return {
    code: 'iommu-group-not-viable',
    message: `IOMMU group ${group} is not viable for ${d.address}: ${describeDevice(member)} is in the same group and ${hostBound}`,
    hint:
      `assign ${member.address} to ${vm} too (or claim the whole slot "${slotOf(member.address)}" when it is ` +
      'another function of the same card); the group can only be given to one VM as a whole',
  };
}

/** A PF and one of its VFs in VMs at once: the VF's VM could be disrupted by whoever holds the PF. */
function checkPfAndVf(assignments: Assignment[]): Problem[] {
  const assigned = new Map(assignments.map((a) => [a.device.address, a]));
  return assignments.flatMap((vf) => {
    const pf = vf.device.physFunction === null ? undefined : assigned.get(vf.device.physFunction);
    if (!pf) return [];
    return [
      {
        severity: 'block' as const,
        code: 'pf-and-vf-assigned' as const,
        message: `${pf.device.address} (SR-IOV PF, to ${pf.vm.name}) and its VF ${vf.device.address} (to ${vf.vm.name}) are both assigned`,
        hint: 'assign either the physical function or its virtual functions, not both',
        address: vf.device.address,
        vm: vf.vm.name,
      },
    ];
  });
}

/** Warnings about the host as a whole: SELinux, and host use that could not be checked (remote hosts). */
export function checkHostWarnings(view: HostView, assignments: Assignment[]): Problem[] {
  if (assignments.length === 0) return [];
  const problems: Problem[] = [];
  if (view.snapshot.selinux.virtUseSysfs === false) {
    problems.push({
      severity: 'warn',
      code: 'selinux-virt-use-sysfs',
      message: 'SELinux boolean virt_use_sysfs is off: QEMU may be denied access to the device\'s sysfs files',
      hint: 'setsebool -P virt_use_sysfs 1',
    });
  }
  if (!view.snapshot.hostUseKnown) {
    const unknown = view.snapshot.hostUseUnknown;
    const why =
      unknown === undefined
        ? 'it was not observed'
        : [unknown.network === undefined ? '' : `network: ${unknown.network}`, unknown.storage === undefined ? '' : `storage: ${unknown.storage}`]
            .filter(Boolean)
            .join('; ');
    problems.push({
      severity: 'warn',
      code: 'host-use-unknown',
      message: `cannot tell which devices host ${view.snapshot.host} itself uses (${why}); no NIC or disk controller is picked by a selector without \`force\``,
      hint: 'list the host\'s own NICs and disk controllers under `protect` so that they are never taken',
    });
  }
  return problems;
}
