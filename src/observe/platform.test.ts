import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { FakeHost } from '../../test/helpers/fake-host.js';
import { fakeHost, iommuOffHost, removeFakeHost, seedHost } from '../../test/helpers/fake-host.js';
import { observeLocalHost, parseCpuinfo, readDoctorFacts, readIommuFacts, readSelinuxFacts } from './platform.js';

const roots: string[] = [];
async function build(host: FakeHost, edit?: (root: string) => Promise<void>): Promise<string> {
  const root = await host.build();
  roots.push(root);
  if (edit) await edit(root);
  return root;
}
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

describe('readIommuFacts', () => {
  it('seed host: groups, DMAR and intel_iommu=on', async () => {
    const facts = await readIommuFacts(await build(seedHost()));
    expect(facts).toEqual({ groupsPresent: true, dmarTable: true, ivrsTable: false, cmdline: expect.stringContaining('intel_iommu=on') });
  });

  it('IOMMU off: no groups, no table', async () => {
    const facts = await readIommuFacts(await build(iommuOffHost()));
    expect(facts).toMatchObject({ groupsPresent: false, dmarTable: false, ivrsTable: false });
    expect(facts.cmdline).not.toContain('iommu');
  });

  it('tables unknown when the tree has no ACPI tables directory; cmdline unknown without /proc', async () => {
    const root = await build(seedHost(), async (r) => {
      await rm(path.join(r, 'sys/firmware'), { recursive: true });
      await rm(path.join(r, 'proc/cmdline'));
    });
    expect(await readIommuFacts(root)).toEqual({ groupsPresent: true, dmarTable: null, ivrsTable: null, cmdline: null });
  });
});

describe('readSelinuxFacts', () => {
  it.each([
    ['enforcing, boolean on', { enforce: 1, virtUseSysfs: 1 } as const, { enabled: true, virtUseSysfs: true }],
    ['permissive, boolean off', { enforce: 0, virtUseSysfs: 0 } as const, { enabled: true, virtUseSysfs: false }],
    ['policy without the boolean', { enforce: 1, virtUseSysfs: null } as const, { enabled: true, virtUseSysfs: null }],
    ['no SELinux', null, { enabled: false, virtUseSysfs: null }],
  ])('%s', async (_name, state, expected) => {
    expect(await readSelinuxFacts(await build(seedHost().selinux(state)))).toEqual(expected);
  });
});

describe('readDoctorFacts', () => {
  it('seed host: everything a passthrough host needs', async () => {
    expect(await readDoctorFacts(await build(seedHost()))).toEqual({
      iommu: { groupsPresent: true, dmarTable: true, ivrsTable: false, cmdline: expect.any(String) },
      iommuGroupCount: 7,
      selinux: { enabled: true, virtUseSysfs: true },
      cpuVendor: 'intel',
      cpuVirtualization: 'vmx',
      kernelRelease: '5.14.0-362.el9.x86_64',
      vfioPci: { state: 'loaded', source: expect.stringContaining('/sys/module/vfio_pci') },
      interruptRemapping: { state: 'enabled', source: expect.stringContaining('/proc/interrupts') },
      allowUnsafeInterrupts: false,
      devVfio: true,
      devKvm: true,
    });
  });

  it.each([
    ['builtin', 'builtin', /built into the kernel/],
    ['module', 'module', /modules\.dep/],
    ['absent', 'absent', /neither .*modules\.builtin nor modules\.dep/],
  ] as const)('vfio-pci %s', async (_name, state, source) => {
    const facts = await readDoctorFacts(await build(seedHost().vfio(state)));
    expect(facts.vfioPci.state).toBe(state);
    expect(facts.vfioPci.source).toMatch(source);
  });

  it('vfio-pci built in, known from modules.builtin only', async () => {
    const root = await build(seedHost().vfio('builtin'), (r) => rm(path.join(r, 'sys/module/vfio_pci'), { recursive: true }));
    expect((await readDoctorFacts(root)).vfioPci).toEqual({ state: 'builtin', source: '/lib/modules/5.14.0-362.el9.x86_64/modules.builtin' });
  });

  it('vfio-pci unknown without the kernel module directory', async () => {
    const root = await build(seedHost().vfio('module'), (r) => rm(path.join(r, 'lib'), { recursive: true }));
    expect((await readDoctorFacts(root)).vfioPci.state).toBeNull();
  });

  it('interrupt remapping: capable but not in effect, unsupported, switched off, allowed unsafe', async () => {
    const off = await readDoctorFacts(await build(seedHost().interruptRemapping(false, true)));
    expect(off.interruptRemapping).toEqual({ state: 'disabled', source: expect.stringMatching(/no IR- .* although .*dmar0\/intel-iommu\/ecap/) });

    const unsupported = await readDoctorFacts(await build(seedHost().interruptRemapping(false, false)));
    expect(unsupported.interruptRemapping.state).toBe('unsupported');

    const cmdline = await readDoctorFacts(await build(seedHost().interruptRemapping(false, true).cmdline('ro intel_iommu=on intremap=off')));
    expect(cmdline.interruptRemapping).toEqual({ state: 'disabled', source: 'intremap=off on the kernel command line' });

    const unsafe = await readDoctorFacts(
      await build(seedHost().interruptRemapping(false, false), (r) =>
        writeFile(path.join(r, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts'), 'Y\n'),
      ),
    );
    expect(unsafe.allowUnsafeInterrupts).toBe(true);
  });

  it('AMD host: IVRS, svm, AMD-Vi units remap interrupts', async () => {
    const root = await build(
      seedHost().cpu('amd').iommu({ dmar: false, ivrs: true }).cmdline('ro quiet').interruptRemapping(false),
      async (r) => rm(path.join(r, 'proc/interrupts')),
    );
    const facts = await readDoctorFacts(root);
    expect(facts).toMatchObject({ cpuVendor: 'amd', cpuVirtualization: 'svm', iommu: { dmarTable: false, ivrsTable: true } });
    // Hardware can, but /proc/interrupts is unreadable: in effect or not is unknown.
    expect(facts.interruptRemapping.state).toBeNull();
  });

  it('IOMMU off, no /dev in the tree', async () => {
    const root = await build(iommuOffHost().vfio('module').cpu('intel', false), (r) => rm(path.join(r, 'dev'), { recursive: true }));
    expect(await readDoctorFacts(root)).toMatchObject({
      iommuGroupCount: 0,
      cpuVirtualization: 'none',
      interruptRemapping: { state: 'disabled' },
      devVfio: null,
      devKvm: null,
    });
  });
});

describe('parseCpuinfo', () => {
  it('a recorded AMD VM without svm', async () => {
    const text = await readFile(fileURLToPath(new URL('../../test/fixtures/sysfs/vm-virtio/cpuinfo', import.meta.url)), 'utf8');
    expect(parseCpuinfo(text)).toEqual({ cpuVendor: 'amd', cpuVirtualization: 'none' });
  });

  it('arm64 has no x86 flags; unreadable is unknown', () => {
    expect(parseCpuinfo('processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n')).toEqual({
      cpuVendor: 'other',
      cpuVirtualization: null,
    });
    expect(parseCpuinfo(null)).toEqual({ cpuVendor: null, cpuVirtualization: null });
  });
});

describe('observeLocalHost', () => {
  it('seed host: devices with names and host use, platform facts', async () => {
    const obs = await observeLocalHost(await build(seedHost()));
    expect(obs.hostUseKnown).toBe(true);
    expect(obs.iommu.groupsPresent).toBe(true);
    expect(obs.selinux).toEqual({ enabled: true, virtUseSysfs: true });
    const byAddress = new Map(obs.devices.map((d) => [d.address, d]));
    expect(byAddress.get('0000:07:00.0')).toMatchObject({
      vendorName: 'Intel Corporation',
      productName: 'I350 Gigabit Network Connection',
      hostUse: [],
    });
    expect(byAddress.get('0000:00:1f.6')?.hostUse.map((u) => u.kind)).toEqual(['default-route', 'address']);
    expect(byAddress.get('0000:01:00.0')?.hostUse.map((u) => u.kind)).toEqual(['mount', 'mount']);
    expect(byAddress.get('0000:00:02.0')?.hostUse.map((u) => u.kind)).toEqual(['boot-vga']);
  });

  it('without pci.ids there are no names', async () => {
    const obs = await observeLocalHost(await build(fakeHost().device({ address: '0000:05:00.0', vendor: '8086', device: '1521', class: '020000' })));
    expect(obs.devices[0]).not.toHaveProperty('vendorName');
  });
});
