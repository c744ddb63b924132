/**
 * `passthru doctor`: the seed runbook's preflight (BIOS VT-d, `intel_iommu=on`, `/proc/cmdline`, the DMAR table,
 * IOMMU groups, vfio, SELinux's `virt_use_sysfs`) plus what it took for granted (CPU virtualisation, `/dev/kvm`,
 * interrupt remapping), as pass/fail/warn/skip with a concrete remedy for anything not passing.
 *
 * Pure: it judges a `DoctorFacts` object and touches nothing, so every branch is a table test and a remote host
 * (facts mostly null) simply gets `skip`s.
 */
import type { DoctorFacts } from '../observe/platform.js';

/** Outcome of one check. `skip` = could not be judged (fact not observable) or does not apply. */
export type DoctorStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** One line of doctor's report. `id` is stable (scripts may match on it); `remedy` holds commands to run. */
export interface DoctorCheck {
  id: DoctorCheckId;
  /** For a check of one host of the file (`libvirt`): that host's name. */
  host?: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  remedy?: string;
}

/** The stable check ids, in report order. */
export const DOCTOR_CHECK_IDS = [
  'cpu-virtualization',
  'kvm-device',
  'iommu-acpi-table',
  'iommu-cmdline',
  'iommu-groups',
  'vfio-pci',
  'vfio-device',
  'interrupt-remapping',
  'selinux-virt-use-sysfs',
] as const;
/** The ids of the competing managers of device bindings (SPEC 10, doctor/competing.ts), in report order. */
export const COMPETING_CHECK_IDS = ['driverctl-overrides', 'vfio-pci-ids', 'networkmanager-sriov', 'initramfs-drivers'] as const;

/**
 * One of {@link DOCTOR_CHECK_IDS} (judged from the machine's files), one of {@link COMPETING_CHECK_IDS} (the
 * machine's files and the desired state; there may be one per finding), `sriov-pf-driver` (one per `sriov:` PF of
 * this machine, doctor/sriov.ts), or `libvirt`: one per host of the run,
 * judged from what libvirt answered (doctor/libvirt.ts), after the others.
 */
export type DoctorCheckId = (typeof DOCTOR_CHECK_IDS)[number] | (typeof COMPETING_CHECK_IDS)[number] | 'sriov-pf-driver' | 'libvirt';

/** How to put a parameter on the kernel command line, for both distribution families (seed steps 2-3). */
function kernelCmdlineRemedy(param: string, remove?: string): string {
  const edit = remove
    ? `in /etc/default/grub, replace ${remove} with ${param} in GRUB_CMDLINE_LINUX`
    : `in /etc/default/grub, add ${param} to GRUB_CMDLINE_LINUX`;
  const grubby = remove
    ? `grubby --update-kernel=ALL --remove-args=${remove.split('=')[0]} --args=${param}`
    : `grubby --update-kernel=ALL --args=${param}`;
  return (
    `${edit}; then run \`update-grub\` (Debian/Ubuntu) or \`grub2-mkconfig -o /boot/grub2/grub.cfg\` ` +
    `(RHEL/Fedora; or simply \`${grubby}\`); reboot and check with \`cat /proc/cmdline\``
  );
}

const FIRMWARE_IOMMU =
  'enable Intel VT-d ("Intel Virtualization Technology for Directed I/O") or AMD-Vi ("IOMMU") in the BIOS/UEFI ' +
  'setup, reboot, then check `ls /sys/firmware/acpi/tables/` (DMAR or IVRS) or `dmesg | grep -e DMAR -e IVRS`';

/** Kernel parameters as a map; a repeated parameter keeps its last value, as the kernel does. */
function kernelParams(cmdline: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const word of cmdline.split(/\s+/)) {
    if (word === '--') break; // what follows is for init
    if (word === '') continue;
    const eq = word.indexOf('=');
    out.set(eq < 0 ? word : word.slice(0, eq), eq < 0 ? '' : word.slice(eq + 1));
  }
  return out;
}

function check(id: DoctorCheckId, title: string, status: DoctorStatus, detail: string, remedy?: string): DoctorCheck {
  return remedy === undefined ? { id, title, status, detail } : { id, title, status, detail, remedy };
}

function cpuVirtualization(f: DoctorFacts): DoctorCheck {
  const title = 'CPU virtualisation (VT-x / AMD-V)';
  switch (f.cpuVirtualization) {
    case 'vmx':
      return check('cpu-virtualization', title, 'pass', 'Intel VT-x is enabled (vmx in /proc/cpuinfo)');
    case 'svm':
      return check('cpu-virtualization', title, 'pass', 'AMD-V is enabled (svm in /proc/cpuinfo)');
    case 'none':
      return check(
        'cpu-virtualization',
        title,
        'fail',
        'neither vmx nor svm is in the /proc/cpuinfo flags: virtualisation is off in the firmware (or this is a VM without nested virtualisation)',
        'enable Intel Virtualization Technology (VT-x) / AMD SVM in the BIOS/UEFI setup, then check `grep -c -w -e vmx -e svm /proc/cpuinfo`',
      );
    default:
      return check('cpu-virtualization', title, 'skip', 'the CPU flags could not be read (or the CPU is not x86)');
  }
}

function kvmDevice(f: DoctorFacts): DoctorCheck {
  const title = 'KVM (/dev/kvm)';
  if (f.devKvm === null) return check('kvm-device', title, 'skip', 'the host\'s /dev is not observable');
  if (f.devKvm) return check('kvm-device', title, 'pass', '/dev/kvm exists');
  const mod = f.cpuVendor === 'amd' ? 'kvm_amd' : f.cpuVendor === 'intel' ? 'kvm_intel' : 'kvm_intel (Intel) or kvm_amd (AMD)';
  return check('kvm-device', title, 'fail', '/dev/kvm does not exist: the KVM modules are not loaded', `\`modprobe ${mod}\`, then check \`ls -l /dev/kvm\` and \`dmesg | grep -i kvm\``);
}

function acpiTable(f: DoctorFacts): DoctorCheck {
  const title = 'IOMMU in firmware (ACPI DMAR / IVRS table)';
  const { dmarTable, ivrsTable, groupsPresent } = f.iommu;
  if (dmarTable) return check('iommu-acpi-table', title, 'pass', 'the ACPI DMAR table is present: Intel VT-d is enabled in the firmware');
  if (ivrsTable) return check('iommu-acpi-table', title, 'pass', 'the ACPI IVRS table is present: AMD-Vi is enabled in the firmware');
  if (dmarTable === null && ivrsTable === null) {
    return check('iommu-acpi-table', title, 'skip', 'the ACPI tables are not observable (/sys/firmware/acpi/tables)');
  }
  if (groupsPresent) {
    return check(
      'iommu-acpi-table',
      title,
      'warn',
      'no DMAR or IVRS table, yet IOMMU groups exist: an IOMMU described otherwise (virtual IOMMU, non-x86 firmware)',
    );
  }
  return check('iommu-acpi-table', title, 'fail', 'no ACPI DMAR (Intel VT-d) or IVRS (AMD-Vi) table: the IOMMU is disabled in the firmware or absent', FIRMWARE_IOMMU);
}

function iommuCmdline(f: DoctorFacts): DoctorCheck {
  const title = 'IOMMU on the kernel command line';
  const { cmdline, groupsPresent, ivrsTable, dmarTable } = f.iommu;
  if (cmdline === null) return check('iommu-cmdline', title, 'skip', '/proc/cmdline is not observable');
  const params = kernelParams(cmdline);
  const values = (name: string) => (params.get(name) ?? '').split(',');
  const pt = params.get('iommu') === 'pt' ? ' (iommu=pt: host devices bypass translation, fine)' : '';
  if (params.has('intel_iommu') && values('intel_iommu').includes('off')) {
    return check('iommu-cmdline', title, 'fail', 'intel_iommu=off is on the kernel command line: VT-d is disabled', kernelCmdlineRemedy('intel_iommu=on', 'intel_iommu=off'));
  }
  if (params.has('amd_iommu') && values('amd_iommu').includes('off')) {
    return check('iommu-cmdline', title, 'fail', 'amd_iommu=off is on the kernel command line: AMD-Vi is disabled', kernelCmdlineRemedy('amd_iommu=on', 'amd_iommu=off'));
  }
  if (params.get('iommu') === 'off') {
    return check('iommu-cmdline', title, 'fail', 'iommu=off is on the kernel command line: the IOMMU is disabled', kernelCmdlineRemedy('iommu=pt', 'iommu=off'));
  }
  if (values('intel_iommu').includes('on')) return check('iommu-cmdline', title, 'pass', `intel_iommu=on is set${pt}`);
  const amd = f.cpuVendor === 'amd' || (ivrsTable === true && !dmarTable);
  if (amd) return check('iommu-cmdline', title, 'pass', `AMD-Vi is on by default: no parameter is needed${pt}`);
  if (groupsPresent) {
    return check('iommu-cmdline', title, 'pass', `intel_iommu=on is not set, but the kernel enables the IOMMU by default (IOMMU groups exist)${pt}`);
  }
  if (f.cpuVendor === 'other') {
    return check('iommu-cmdline', title, 'skip', 'not an x86 CPU: its IOMMU is not switched on from the kernel command line');
  }
  return check('iommu-cmdline', title, 'fail', `intel_iommu=on is not on the kernel command line (/proc/cmdline: ${cmdline})`, kernelCmdlineRemedy('intel_iommu=on'));
}

function iommuGroups(f: DoctorFacts): DoctorCheck {
  const title = 'IOMMU groups (/sys/kernel/iommu_groups)';
  if (f.iommu.groupsPresent) {
    const n = f.iommuGroupCount;
    return check('iommu-groups', title, 'pass', n === null ? 'IOMMU groups exist: the IOMMU is active' : `${n} IOMMU group${n === 1 ? '' : 's'}: the IOMMU is active`);
  }
  if (f.iommuGroupCount === null && f.iommu.cmdline === null) return check('iommu-groups', title, 'skip', 'not observable on this host');
  return check(
    'iommu-groups',
    title,
    'fail',
    '/sys/kernel/iommu_groups is empty: the IOMMU is not active, so no device can be passed through safely',
    'fix the firmware and kernel command line checks above, reboot, then check `ls /sys/kernel/iommu_groups` and ' +
      '`dmesg | grep -e DMAR -e "Directed I/O" -e AMD-Vi`',
  );
}

function vfioPci(f: DoctorFacts): DoctorCheck {
  const title = 'vfio-pci driver';
  const { state, source } = f.vfioPci;
  switch (state) {
    case 'loaded':
      return check('vfio-pci', title, 'pass', `vfio-pci is loaded (${source})`);
    case 'builtin':
      return check('vfio-pci', title, 'pass', `vfio-pci is built into the kernel (${source})`);
    case 'module':
      return check('vfio-pci', title, 'pass', `vfio-pci is available as a module; libvirt loads it on the first detach (${source})`);
    case 'absent':
      return check(
        'vfio-pci',
        title,
        'fail',
        `this kernel has no vfio-pci (${source})`,
        'install the kernel\'s extra modules (Ubuntu: `apt install linux-modules-extra-$(uname -r)`), or boot a kernel built with CONFIG_VFIO_PCI; then `modprobe vfio-pci`',
      );
    default:
      return check('vfio-pci', title, 'warn', `could not tell whether vfio-pci is available: ${source}`, 'run `modprobe vfio-pci && lsmod | grep vfio_pci`');
  }
}

function vfioDevice(f: DoctorFacts): DoctorCheck {
  const title = 'VFIO container device (/dev/vfio/vfio)';
  if (f.devVfio === null) return check('vfio-device', title, 'skip', 'the host\'s /dev is not observable');
  if (f.devVfio) return check('vfio-device', title, 'pass', '/dev/vfio/vfio exists');
  const state = f.vfioPci.state;
  if (state === 'module' || state === null) {
    return check('vfio-device', title, 'warn', '/dev/vfio/vfio does not exist yet: it appears when the vfio modules are loaded', 'run `modprobe vfio-pci`, then `ls -l /dev/vfio`');
  }
  if (state === 'absent') return check('vfio-device', title, 'fail', '/dev/vfio/vfio does not exist: this kernel has no vfio-pci', 'see the vfio-pci check');
  return check(
    'vfio-device',
    title,
    'fail',
    'vfio is in the kernel but /dev/vfio/vfio does not exist',
    'check that devtmpfs is mounted on /dev and udev is running (`ls -l /dev/vfio`); `modprobe vfio` recreates it',
  );
}

function interruptRemapping(f: DoctorFacts): DoctorCheck {
  const title = 'Interrupt remapping';
  const { state, source } = f.interruptRemapping;
  if (state === 'enabled') return check('interrupt-remapping', title, 'pass', `interrupt remapping is on (${source})`);
  if (f.allowUnsafeInterrupts) {
    return check(
      'interrupt-remapping',
      title,
      'warn',
      `interrupt remapping is not in effect (${source}); vfio_iommu_type1 allow_unsafe_interrupts=1 lets assignment proceed, but a guest can then spoof interrupts (MSI attacks)`,
      'enable interrupt remapping (BIOS/UEFI: VT-d with "Interrupt Remapping"/x2APIC; remove intremap=off), then drop allow_unsafe_interrupts from /etc/modprobe.d',
    );
  }
  if (!f.iommu.groupsPresent) {
    return check('interrupt-remapping', title, 'skip', `the IOMMU is off; check again once it is on (${source})`);
  }
  if (state === 'disabled') {
    return check(
      'interrupt-remapping',
      title,
      'fail',
      `interrupt remapping is not in effect (${source}): vfio refuses to assign devices without it`,
      'remove intremap=off from the kernel command line and enable "Interrupt Remapping" (often with x2APIC) in the BIOS/UEFI setup; ' +
        'check with `dmesg | grep -i remapping`',
    );
  }
  if (state === 'unsupported') {
    return check(
      'interrupt-remapping',
      title,
      'fail',
      `the IOMMU cannot remap interrupts (${source}): vfio refuses to assign devices`,
      'use hardware with interrupt remapping; only if you accept that guests can spoof interrupts: ' +
        '`echo "options vfio_iommu_type1 allow_unsafe_interrupts=1" > /etc/modprobe.d/vfio-unsafe.conf` and reload vfio_iommu_type1',
    );
  }
  return check('interrupt-remapping', title, 'skip', `could not determine: ${source}`);
}

function selinux(f: DoctorFacts): DoctorCheck {
  const title = 'SELinux virt_use_sysfs';
  if (f.selinux === null) return check('selinux-virt-use-sysfs', title, 'skip', 'SELinux is not observable on this host');
  if (!f.selinux.enabled) return check('selinux-virt-use-sysfs', title, 'skip', 'SELinux is disabled: nothing to do');
  if (f.selinux.virtUseSysfs === null) return check('selinux-virt-use-sysfs', title, 'skip', 'this SELinux policy has no virt_use_sysfs boolean');
  if (f.selinux.virtUseSysfs) return check('selinux-virt-use-sysfs', title, 'pass', 'virt_use_sysfs is on');
  return check(
    'selinux-virt-use-sysfs',
    title,
    'warn',
    'SELinux is enabled and virt_use_sysfs is off: libvirt may be denied access to the device\'s sysfs files',
    '`setsebool -P virt_use_sysfs 1`',
  );
}

/** Judges the facts: one check per id of {@link DOCTOR_CHECK_IDS}, in that order. */
export function doctorChecks(facts: DoctorFacts): DoctorCheck[] {
  return [
    cpuVirtualization(facts),
    kvmDevice(facts),
    acpiTable(facts),
    iommuCmdline(facts),
    iommuGroups(facts),
    vfioPci(facts),
    vfioDevice(facts),
    interruptRemapping(facts),
    selinux(facts),
  ];
}
