import { afterAll, describe, expect, it } from 'vitest';
import { iommuOffHost, removeFakeHost, seedHost } from '../../test/helpers/fake-host.js';
import { doctorExitCode, formatDoctorText, runDoctor } from './doctor.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

describe('runDoctor on fake hosts', () => {
  it('the seed host passes every check', async () => {
    const root = await seedHost().build();
    roots.push(root);
    const { checks } = await runDoctor(root);
    expect(checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(doctorExitCode(checks)).toBe(0);
  });

  it('the seed host with the IOMMU off and SELinux virt_use_sysfs off fails with the runbook remedies', async () => {
    const root = await iommuOffHost().selinux({ enforce: 1, virtUseSysfs: 0 }).vfio('module').build();
    roots.push(root);
    const { checks } = await runDoctor(root);
    expect(Object.fromEntries(checks.map((c) => [c.id, c.status]))).toEqual({
      'cpu-virtualization': 'pass',
      'kvm-device': 'pass',
      'iommu-acpi-table': 'fail',
      'iommu-cmdline': 'fail',
      'iommu-groups': 'fail',
      'vfio-pci': 'pass',
      'vfio-device': 'warn',
      'interrupt-remapping': 'skip',
      'selinux-virt-use-sysfs': 'warn',
    });
    expect(doctorExitCode(checks)).toBe(1);
    const text = formatDoctorText(checks);
    expect(text).toContain('FAIL  IOMMU on the kernel command line: intel_iommu=on is not on the kernel command line');
    expect(text).toContain('fix: in /etc/default/grub, add intel_iommu=on to GRUB_CMDLINE_LINUX');
    expect(text).toContain('fix: `setsebool -P virt_use_sysfs 1`');
    expect(text).toMatch(/\n3 passed, 3 failed, 2 warnings, 1 skipped\n$/);
  });
});
