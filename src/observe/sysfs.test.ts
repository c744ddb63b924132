import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BROKEN_SIBLING_ENTRIES,
  bind,
  fakeHost,
  iommuOffHost,
  loopLink,
  removeFakeHost,
  seedHost,
  setDriverOverride,
  sharedGroupHost,
} from '../../test/helpers/fake-host.js';
import { pciAncestor, readPciDevices } from './sysfs.js';

const roots: string[] = [];
async function build(host: { build(): Promise<string> }): Promise<string> {
  const root = await host.build();
  roots.push(root);
  return root;
}
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

const collect = () => {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => warnings.push(m) };
};

describe('readPciDevices on the seed host', () => {
  it('reads every function, sorted, with identity, driver, group and links', async () => {
    const root = await build(seedHost());
    const { warnings, warn } = collect();
    const devices = await readPciDevices(root, { warn });
    expect(warnings).toEqual([]);
    expect(devices.map((d) => d.address)).toEqual([
      '0000:00:00.0',
      '0000:00:01.0',
      '0000:00:02.0',
      '0000:00:1c.0',
      '0000:00:1f.6',
      '0000:01:00.0',
      '0000:07:00.0',
      '0000:07:00.1',
    ]);
    expect(devices.find((d) => d.address === '0000:07:00.0')).toEqual({
      address: '0000:07:00.0',
      vendor: '8086',
      product: '1521',
      class: '020000',
      driver: 'igb',
      driverOverride: null,
      iommuGroup: 17,
      isBridge: false,
      physFunction: null,
      virtualFunctions: [],
      netInterfaces: ['eth1'],
      hostUse: [],
    });
    expect(devices.find((d) => d.address === '0000:07:00.1')?.iommuGroup).toBe(18);
  });

  it('marks PCIe root ports as bridges but not the host bridge (vfio exempts header type 1 only)', async () => {
    const root = await build(seedHost());
    const byAddress = new Map((await readPciDevices(root)).map((d) => [d.address, d]));
    expect(byAddress.get('0000:00:1c.0')?.isBridge).toBe(true);
    expect(byAddress.get('0000:00:01.0')?.isBridge).toBe(true);
    expect(byAddress.get('0000:00:00.0')?.isBridge).toBe(false);
    expect(byAddress.get('0000:00:00.0')?.driver).toBeNull();
  });

  it('reports boot_vga as host use of the GPU', async () => {
    const root = await build(seedHost());
    const gpu = (await readPciDevices(root)).find((d) => d.address === '0000:00:02.0');
    expect(gpu?.hostUse).toEqual([{ kind: 'boot-vga', detail: expect.stringContaining('boot_vga') }]);
  });

  it('follows a rebind done with the fake-host helpers', async () => {
    const root = await build(seedHost());
    await setDriverOverride(root, '07:00.0', 'vfio-pci');
    await bind(root, '07:00.0', 'vfio-pci');
    const d = (await readPciDevices(root)).find((x) => x.address === '0000:07:00.0');
    expect(d).toMatchObject({ driver: 'vfio-pci', driverOverride: 'vfio-pci' });
    await bind(root, '07:00.0', null);
    expect((await readPciDevices(root)).find((x) => x.address === '0000:07:00.0')?.driver).toBeNull();
  });
});

describe('readPciDevices oddities', () => {
  it('IOMMU off: no function has a group', async () => {
    const root = await build(iommuOffHost());
    const devices = await readPciDevices(root);
    expect(devices.length).toBe(8);
    expect(devices.every((d) => d.iommuGroup === null)).toBe(true);
  });

  it('a device without driver, without iommu_group, without driver_override (old kernel)', async () => {
    const root = await build(
      fakeHost()
        .device({ address: '0000:03:00.0', vendor: '10DE', device: '1DB6', class: '30200', group: null })
        .device({ address: '0000:04:00.0', vendor: '1000', device: '0097', class: '010700', driver: 'mpt3sas', noDriverOverride: true, group: 5 }),
    );
    const [gpu, hba] = await readPciDevices(root);
    expect(gpu).toMatchObject({ vendor: '10de', product: '1db6', class: '030200', driver: null, iommuGroup: null, driverOverride: null });
    expect(hba).toMatchObject({ driver: 'mpt3sas', driverOverride: null, iommuGroup: 5 });
  });

  it('an SR-IOV PF with two VFs', async () => {
    const root = await build(
      fakeHost()
        .device({ address: '0000:00:03.0', vendor: '8086', device: '6f08', class: '060400', driver: 'pcieport', group: 30 })
        .device({ address: '0000:3b:00.0', vendor: '8086', device: '1572', class: '020000', driver: 'i40e', group: 40, parentBridge: '0000:00:03.0', net: ['ens1f0'] })
        .device({ address: '0000:3b:02.0', vendor: '8086', device: '154c', class: '020000', driver: 'iavf', group: 41, parentBridge: '0000:00:03.0', physfn: '0000:3b:00.0', net: ['ens1f0v0'] })
        .device({ address: '0000:3b:02.1', vendor: '8086', device: '154c', class: '020000', driver: 'vfio-pci', driverOverride: 'vfio-pci', group: 42, parentBridge: '0000:00:03.0', physfn: '0000:3b:00.0' }),
    );
    const byAddress = new Map((await readPciDevices(root)).map((d) => [d.address, d]));
    expect(byAddress.get('0000:3b:00.0')).toMatchObject({ physFunction: null, virtualFunctions: ['0000:3b:02.0', '0000:3b:02.1'] });
    expect(byAddress.get('0000:3b:02.0')).toMatchObject({ physFunction: '0000:3b:00.0', virtualFunctions: [], netInterfaces: ['ens1f0v0'] });
    expect(byAddress.get('0000:3b:02.1')).toMatchObject({ physFunction: '0000:3b:00.0', driver: 'vfio-pci', driverOverride: 'vfio-pci' });
    expect(byAddress.get('0000:00:03.0')?.isBridge).toBe(true);
  });

  it('finds netdevs nested under a virtio child, as virtio-pci lays them out', async () => {
    const root = await build(
      fakeHost().device({ address: '0000:00:03.0', vendor: '1af4', device: '1041', class: '020000', driver: 'virtio-pci', group: 3, virtio: 2, net: ['eth0'] }),
    );
    expect((await readPciDevices(root))[0]?.netInterfaces).toEqual(['eth0']);
  });

  it('a bridge is recognised by its pci_bus directory whatever its class says', async () => {
    const root = await build(fakeHost().device({ address: '0000:00:1d.0', vendor: '8086', device: 'a298', class: '060400', driver: 'pcieport', group: 9 }));
    // Rewrite the class: a vendor-specific class but still a bridge with a secondary bus.
    await writeFile(path.join(root, 'sys/devices/pci0000:00/0000:00:1d.0/class'), '0xff0000\n');
    const [d] = await readPciDevices(root);
    expect(d).toMatchObject({ class: 'ff0000', isBridge: true });
  });

  it('skips a vanished device that is in no IOMMU group, and warns about unreadable or malformed files', async () => {
    const root = await build(seedHost().update('0000:07:00.1', { group: null }));
    // A dangling bus link: the device directory was removed (hot-unplug).
    await rm(path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.1'), { recursive: true });
    // vendor unreadable (EISDIR) and class malformed: the device is still listed, as ffff.
    const dev = path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0');
    await rm(path.join(dev, 'vendor'));
    await mkdir(path.join(dev, 'vendor'));
    await writeFile(path.join(dev, 'class'), 'garbage\n');
    // A stray entry that is no PCI address.
    await writeFile(path.join(root, 'sys/bus/pci/devices/README'), '');
    const { warnings, warn } = collect();
    const devices = await readPciDevices(root, { warn });
    expect(devices.map((d) => d.address)).not.toContain('0000:07:00.1');
    expect(devices.find((d) => d.address === '0000:07:00.0')).toMatchObject({ vendor: 'ffff', product: '1521', class: 'ffffff', driver: 'igb', iommuGroup: 17 });
    expect(devices.find((d) => d.address === '0000:07:00.0')).not.toHaveProperty('unreadable');
    expect(warnings.join('\n')).toMatch(/0000:07:00.0\/vendor: EISDIR/);
    expect(warnings.join('\n')).toMatch(/0000:07:00.0: class is unreadable or malformed/);
    expect(warnings.join('\n')).toMatch(/README is not a PCI address/);
  });

  it('a vanished device that its IOMMU group still lists stays, as unreadable: its group must not look viable', async () => {
    const root = await build(seedHost());
    await rm(path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.1'), { recursive: true });
    const d = (await readPciDevices(root)).find((x) => x.address === '0000:07:00.1');
    expect(d).toMatchObject({ vendor: 'ffff', product: 'ffff', driver: null, iommuGroup: 18 });
    expect(d?.unreadable).toMatch(/listed in IOMMU group 18 but cannot be read \(\/sys\/bus\/pci\/devices\/0000:07:00.1: ENOENT; \/sys\/kernel\/iommu_groups\/18\/devices\/0000:07:00.1: ENOENT\)/);
  });

  it('resolves absolute symlinks inside the root, never on this machine', async () => {
    const root = await build(seedHost());
    // 0000:00:02.0 exists on most real machines too; an absolute link must still land in the fake tree.
    const link = path.join(root, 'sys/bus/pci/devices/0000:00:02.0');
    await rm(link);
    await symlink('/sys/devices/pci0000:00/0000:00:02.0', link);
    const gpu = (await readPciDevices(root)).find((d) => d.address === '0000:00:02.0');
    expect(gpu).toMatchObject({ vendor: '8086', product: '3e92', driver: 'i915', iommuGroup: 2 });
  });

  it('an empty tree has no devices', async () => {
    const root = await build(fakeHost());
    expect(await readPciDevices(root)).toEqual([]);
    const { warnings, warn } = collect();
    expect(await readPciDevices(path.join(root, 'does-not-exist'), { warn })).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/does-not-exist\/sys\/bus\/pci does not exist.*--root/)]);
  });
});

const dev071 = 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.1';

describe('IOMMU group membership comes from /sys/kernel/iommu_groups/N/devices (defect 4)', () => {
  it.each(BROKEN_SIBLING_ENTRIES)('07:00.1 with %s: 07:00.1 is still seen in group 17, on igb', async (_name, edit) => {
    const root = await build(sharedGroupHost());
    await edit(root);
    const d = (await readPciDevices(root)).find((x) => x.address === '0000:07:00.1');
    expect(d).toMatchObject({ vendor: '8086', product: '1521', driver: 'igb', iommuGroup: 17 });
    expect(d).not.toHaveProperty('unreadable');
  });

  it('a member that cannot be read either way is listed as unreadable in its group', async () => {
    const root = await build(sharedGroupHost());
    await loopLink(root, 'sys/bus/pci/devices/0000:07:00.1');
    await loopLink(root, 'sys/kernel/iommu_groups/17/devices/0000:07:00.1');
    const { warnings, warn } = collect();
    const d = (await readPciDevices(root, { warn })).find((x) => x.address === '0000:07:00.1');
    expect(d).toMatchObject({ vendor: 'ffff', product: 'ffff', class: 'ffffff', driver: null, iommuGroup: 17, isBridge: false });
    expect(d?.unreadable).toBe(
      'listed in IOMMU group 17 but cannot be read (/sys/bus/pci/devices/0000:07:00.1: ELOOP; /sys/kernel/iommu_groups/17/devices/0000:07:00.1: ELOOP)',
    );
    expect(warnings).toContain(`0000:07:00.1: ${d?.unreadable}`);
  });

  it('a driver link that is there but cannot be read is not "unbound"', async () => {
    const root = await build(sharedGroupHost());
    await rm(path.join(root, dev071, 'driver'));
    await writeFile(path.join(root, dev071, 'driver'), 'igb\n');
    const d = (await readPciDevices(root)).find((x) => x.address === '0000:07:00.1');
    expect(d).toMatchObject({ driver: null, iommuGroup: 17, unreadable: 'its driver link cannot be read (EINVAL)' });
  });

  it('a directory with no identity files at all is not trusted either', async () => {
    const root = await build(sharedGroupHost());
    for (const f of ['vendor', 'device', 'class']) await rm(path.join(root, dev071, f));
    const d = (await readPciDevices(root)).find((x) => x.address === '0000:07:00.1');
    expect(d?.unreadable).toMatch(/^none of vendor, device, class can be read/);
  });

  it('a group whose devices/ cannot be listed makes its functions unreadable', async () => {
    const root = await build(sharedGroupHost());
    await rm(path.join(root, 'sys/kernel/iommu_groups/17/devices'), { recursive: true });
    await symlink('devices', path.join(root, 'sys/kernel/iommu_groups/17/devices'));
    const devices = await readPciDevices(root);
    for (const a of ['0000:07:00.0', '0000:07:00.1']) {
      expect(devices.find((x) => x.address === a)?.unreadable).toBe(
        'the members of its IOMMU group 17 are unknown: /sys/kernel/iommu_groups/17/devices cannot be listed (ELOOP)',
      );
    }
    expect(devices.find((x) => x.address === '0000:00:1f.6')).not.toHaveProperty('unreadable');
  });
});

describe('identities read from sysfs (defect 12)', () => {
  it('are exactly 4 (class 6) lowercase hex digits, however sysfs spells them; an impossible one is ffff with a warning', async () => {
    const root = await build(seedHost());
    const dev = path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0');
    await writeFile(path.join(dev, 'vendor'), '0x00008086\n');
    await writeFile(path.join(dev, 'device'), '0x123456\n');
    await writeFile(path.join(dev, 'class'), '0X00020000\n');
    const { warnings, warn } = collect();
    const d = (await readPciDevices(root, { warn })).find((x) => x.address === '0000:07:00.0');
    expect(d).toMatchObject({ vendor: '8086', product: 'ffff', class: '020000' });
    expect(warnings).toEqual(['0000:07:00.0: device is unreadable or malformed ("0x123456\\n"); using ffff']);
  });

  it('a FIFO in place of vendor is refused at once (read as ffff with a warning), never read', async () => {
    const root = await build(seedHost());
    const vendor = path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/vendor');
    await rm(vendor);
    execFileSync('mkfifo', [vendor]);
    const { warnings, warn } = collect();
    const d = (await readPciDevices(root, { warn })).find((x) => x.address === '0000:07:00.0');
    expect(d).toMatchObject({ vendor: 'ffff', product: '1521', driver: 'igb' });
    expect(warnings[0]).toMatch(/\/0000:07:00.0\/vendor: \/sys\/devices\/.*\/vendor is a FIFO, not a regular file$/);
  }, 10_000);
});

describe('helpers', () => {
  it('pciAncestor finds the nearest known function: a USB NIC belongs to its xHCI controller', () => {
    const known = new Set(['0000:00:14.0', '0000:00:1c.0', '0000:07:00.0']);
    expect(pciAncestor('/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/net/enx00e04c680001', known)).toBe('0000:00:14.0');
    expect(pciAncestor('/sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/net/eth1', known)).toBe('0000:07:00.0');
    expect(pciAncestor('/sys/devices/virtual/net/br0', known)).toBeNull();
    expect(pciAncestor('/elsewhere/0000:07:00.0', known)).toBeNull();
  });
});
