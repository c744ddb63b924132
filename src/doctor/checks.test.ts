import { describe, expect, it } from 'vitest';
import type { DoctorFacts } from '../observe/platform.js';
import type { DoctorCheckId, DoctorStatus } from './checks.js';
import { DOCTOR_CHECK_IDS, doctorChecks } from './checks.js';
import { unobservableDoctorFacts } from './doctor.js';

/** A healthy Intel host; each case below changes what it tests. */
const healthy: DoctorFacts = {
  iommu: { groupsPresent: true, dmarTable: true, ivrsTable: false, cmdline: 'BOOT_IMAGE=/vmlinuz ro intel_iommu=on' },
  iommuGroupCount: 20,
  selinux: { enabled: true, virtUseSysfs: true },
  cpuVendor: 'intel',
  cpuVirtualization: 'vmx',
  kernelRelease: '6.1.0',
  vfioPci: { state: 'loaded', source: '/sys/module/vfio_pci' },
  interruptRemapping: { state: 'enabled', source: '/proc/interrupts' },
  allowUnsafeInterrupts: false,
  devVfio: true,
  devKvm: true,
};

type Patch = Partial<Omit<DoctorFacts, 'iommu'>> & { iommu?: Partial<DoctorFacts['iommu']> };
const facts = (patch: Patch): DoctorFacts => ({ ...healthy, ...patch, iommu: { ...healthy.iommu, ...patch.iommu } });

const noIommu: Patch = { iommu: { groupsPresent: false, dmarTable: false, cmdline: 'ro quiet' }, iommuGroupCount: 0 };

const cases: [string, Patch, DoctorCheckId, DoctorStatus, RegExp, RegExp?][] = [
  ['vmx', {}, 'cpu-virtualization', 'pass', /VT-x/],
  ['svm', { cpuVirtualization: 'svm', cpuVendor: 'amd' }, 'cpu-virtualization', 'pass', /AMD-V/],
  ['no flag', { cpuVirtualization: 'none' }, 'cpu-virtualization', 'fail', /neither vmx nor svm/, /BIOS\/UEFI/],
  ['flags unknown', { cpuVirtualization: null }, 'cpu-virtualization', 'skip', /could not be read/],

  ['kvm present', {}, 'kvm-device', 'pass', /\/dev\/kvm exists/],
  ['kvm missing on AMD', { devKvm: false, cpuVendor: 'amd' }, 'kvm-device', 'fail', /not loaded/, /modprobe kvm_amd/],
  ['no /dev', { devKvm: null }, 'kvm-device', 'skip', /not observable/],

  ['DMAR', {}, 'iommu-acpi-table', 'pass', /DMAR .*VT-d/],
  ['IVRS', { iommu: { dmarTable: false, ivrsTable: true } }, 'iommu-acpi-table', 'pass', /IVRS .*AMD-Vi/],
  ['no table (seed step 4)', noIommu, 'iommu-acpi-table', 'fail', /no ACPI DMAR/, /VT-d.*BIOS\/UEFI.*DMAR or IVRS/],
  ['no table but groups', { iommu: { dmarTable: false } }, 'iommu-acpi-table', 'warn', /yet IOMMU groups exist/],
  ['tables unknown', { iommu: { dmarTable: null, ivrsTable: null } }, 'iommu-acpi-table', 'skip', /not observable/],

  ['intel_iommu=on', {}, 'iommu-cmdline', 'pass', /intel_iommu=on is set/],
  ['intel_iommu=on,sm_on iommu=pt', { iommu: { cmdline: 'ro intel_iommu=on,sm_on iommu=pt' } }, 'iommu-cmdline', 'pass', /iommu=pt/],
  ['intel_iommu=off', { iommu: { cmdline: 'ro intel_iommu=off' } }, 'iommu-cmdline', 'fail', /intel_iommu=off/, /replace intel_iommu=off with intel_iommu=on.*update-grub.*grub2-mkconfig.*--remove-args=intel_iommu.*cat \/proc\/cmdline/],
  ['last value wins', { iommu: { cmdline: 'intel_iommu=off intel_iommu=on' } }, 'iommu-cmdline', 'pass', /intel_iommu=on is set/],
  ['amd_iommu=off', { cpuVendor: 'amd', iommu: { cmdline: 'ro amd_iommu=off' } }, 'iommu-cmdline', 'fail', /amd_iommu=off/, /amd_iommu=on/],
  ['iommu=off', { iommu: { cmdline: 'ro iommu=off' } }, 'iommu-cmdline', 'fail', /iommu=off/],
  ['AMD default-on', { cpuVendor: 'amd', iommu: { cmdline: 'ro quiet', dmarTable: false, ivrsTable: true } }, 'iommu-cmdline', 'pass', /AMD-Vi is on by default/],
  ['Intel default-on kernel', { iommu: { cmdline: 'ro quiet' } }, 'iommu-cmdline', 'pass', /enables the IOMMU by default/],
  ['missing (seed steps 2-3)', noIommu, 'iommu-cmdline', 'fail', /intel_iommu=on is not on the kernel command line \(\/proc\/cmdline: ro quiet\)/, /add intel_iommu=on to GRUB_CMDLINE_LINUX.*update-grub.*grub2-mkconfig -o \/boot\/grub2\/grub\.cfg.*reboot.*cat \/proc\/cmdline/],
  ['params after -- are for init', { iommu: { groupsPresent: false, cmdline: 'ro -- intel_iommu=on' } }, 'iommu-cmdline', 'fail', /not on the kernel command line/],
  ['arm64', { cpuVendor: 'other', cpuVirtualization: null, iommu: { groupsPresent: false, cmdline: 'ro' } }, 'iommu-cmdline', 'skip', /not an x86 CPU/],
  ['cmdline unknown', { iommu: { cmdline: null } }, 'iommu-cmdline', 'skip', /not observable/],

  ['groups', {}, 'iommu-groups', 'pass', /20 IOMMU groups/],
  ['no groups (seed step 5)', noIommu, 'iommu-groups', 'fail', /empty/, /ls \/sys\/kernel\/iommu_groups/],

  ['vfio loaded', {}, 'vfio-pci', 'pass', /loaded/],
  ['vfio builtin', { vfioPci: { state: 'builtin', source: 'modules.builtin' } }, 'vfio-pci', 'pass', /built into/],
  ['vfio module', { vfioPci: { state: 'module', source: 'modules.dep' } }, 'vfio-pci', 'pass', /libvirt loads it/],
  ['vfio absent', { vfioPci: { state: 'absent', source: 'x' } }, 'vfio-pci', 'fail', /no vfio-pci/, /modprobe vfio-pci/],
  ['vfio unknown', { vfioPci: { state: null, source: 'no /lib/modules' } }, 'vfio-pci', 'warn', /could not tell/, /modprobe vfio-pci/],

  ['/dev/vfio', {}, 'vfio-device', 'pass', /exists/],
  ['/dev/vfio before loading', { devVfio: false, vfioPci: { state: 'module', source: 'x' } }, 'vfio-device', 'warn', /appears when/, /modprobe vfio-pci/],
  ['/dev/vfio missing although loaded', { devVfio: false }, 'vfio-device', 'fail', /does not exist/, /devtmpfs/],
  ['/dev/vfio without vfio', { devVfio: false, vfioPci: { state: 'absent', source: 'x' } }, 'vfio-device', 'fail', /no vfio-pci/],

  ['IR on', {}, 'interrupt-remapping', 'pass', /on/],
  ['IR off', { interruptRemapping: { state: 'disabled', source: 'no IR- chips' } }, 'interrupt-remapping', 'fail', /refuses/, /intremap=off/],
  ['IR unsupported', { interruptRemapping: { state: 'unsupported', source: 'ecap' } }, 'interrupt-remapping', 'fail', /cannot remap/, /allow_unsafe_interrupts=1/],
  ['IR off, unsafe allowed', { interruptRemapping: { state: 'disabled', source: 'x' }, allowUnsafeInterrupts: true }, 'interrupt-remapping', 'warn', /spoof/],
  ['IR with IOMMU off', { ...noIommu, interruptRemapping: { state: 'disabled', source: 'x' } }, 'interrupt-remapping', 'skip', /IOMMU is off/],
  ['IR unknown', { interruptRemapping: { state: null, source: 'unreadable' } }, 'interrupt-remapping', 'skip', /could not determine/],

  ['virt_use_sysfs on', {}, 'selinux-virt-use-sysfs', 'pass', /on/],
  ['virt_use_sysfs off (seed step 14)', { selinux: { enabled: true, virtUseSysfs: false } }, 'selinux-virt-use-sysfs', 'warn', /off/, /^`setsebool -P virt_use_sysfs 1`$/],
  ['SELinux disabled', { selinux: { enabled: false, virtUseSysfs: null } }, 'selinux-virt-use-sysfs', 'skip', /disabled/],
  ['no such boolean', { selinux: { enabled: true, virtUseSysfs: null } }, 'selinux-virt-use-sysfs', 'skip', /no virt_use_sysfs/],
  ['SELinux unobservable', { selinux: null }, 'selinux-virt-use-sysfs', 'skip', /not observable/],
];

describe('doctorChecks', () => {
  it.each(cases)('%s → %s %s', (_name, patch, id, status, detail, remedy) => {
    const c = doctorChecks(facts(patch)).find((x) => x.id === id);
    expect(c?.status).toBe(status);
    expect(c?.detail).toMatch(detail);
    if (remedy) expect(c?.remedy).toMatch(remedy);
    if (status === 'fail') expect(c?.remedy, 'every failure says how to fix it').toBeTruthy();
    if (status === 'pass') expect(c?.remedy).toBeUndefined();
  });

  it('lists every check once, in order', () => {
    expect(doctorChecks(healthy).map((c) => c.id)).toEqual([...DOCTOR_CHECK_IDS]);
    expect(doctorChecks(healthy).every((c) => c.status === 'pass')).toBe(true);
  });

  it('a remote host (nothing observable) gets only skips and one warning about vfio', () => {
    const statuses = Object.fromEntries(doctorChecks(unobservableDoctorFacts()).map((c) => [c.id, c.status]));
    expect(statuses).toEqual({
      'cpu-virtualization': 'skip',
      'kvm-device': 'skip',
      'iommu-acpi-table': 'skip',
      'iommu-cmdline': 'skip',
      'iommu-groups': 'skip',
      'vfio-pci': 'warn',
      'vfio-device': 'skip',
      'interrupt-remapping': 'skip',
      'selinux-virt-use-sysfs': 'skip',
    });
  });
});
