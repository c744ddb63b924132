import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bind, fakeHost, iommuOffHost, removeFakeHost, seedHost, setDriverOverride } from '../../test/helpers/fake-host.js';
import { HostFs, normaliseHex, pciAncestor, readPciDevices } from './sysfs.js';

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

  it('skips a device that vanished between readdir and read, and warns about unreadable or malformed files', async () => {
    const root = await build(seedHost());
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
    expect(warnings.join('\n')).toMatch(/0000:07:00.0\/vendor: EISDIR/);
    expect(warnings.join('\n')).toMatch(/0000:07:00.0: class is unreadable or malformed/);
    expect(warnings.join('\n')).toMatch(/README is not a PCI address/);
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

describe('HostFs', () => {
  it('clamps .. at the root and re-roots absolute targets', async () => {
    const root = await build(fakeHost());
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await symlink('../../../../../a', path.join(root, 'a/b/up'));
    await symlink('/a/b', path.join(root, 'abs'));
    const fs = new HostFs(root);
    expect(await fs.realpath('/a/b/up/b')).toBe('/a/b');
    expect(await fs.realpath('/abs/up')).toBe('/a');
    expect(await fs.realpath('/../../a')).toBe('/a');
  });

  it('reports a symlink loop as ELOOP and a missing path as ENOENT', async () => {
    const root = await build(fakeHost());
    await symlink('loop2', path.join(root, 'loop1'));
    await symlink('loop1', path.join(root, 'loop2'));
    const fs = new HostFs(root);
    await expect(fs.realpath('/loop1')).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(fs.realpath('/nope/x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fs.exists('/loop1')).toBe(false);
    expect(await fs.readOptional('/nope')).toBeNull();
    expect(await fs.list('/nope')).toEqual([]);
    expect(await fs.readlink('/nope')).toBeNull();
  });
});

describe('helpers', () => {
  it('normaliseHex pads and lowercases', () => {
    expect(normaliseHex('0x8086\n', 4)).toBe('8086');
    expect(normaliseHex('0x20000\n', 6)).toBe('020000');
    expect(normaliseHex('0xABCD', 4)).toBe('abcd');
    expect(normaliseHex('nope', 4)).toBeNull();
  });

  it('pciAncestor finds the nearest known function: a USB NIC belongs to its xHCI controller', () => {
    const known = new Set(['0000:00:14.0', '0000:00:1c.0', '0000:07:00.0']);
    expect(pciAncestor('/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/net/enx00e04c680001', known)).toBe('0000:00:14.0');
    expect(pciAncestor('/sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/net/eth1', known)).toBe('0000:07:00.0');
    expect(pciAncestor('/sys/devices/virtual/net/br0', known)).toBeNull();
    expect(pciAncestor('/elsewhere/0000:07:00.0', known)).toBeNull();
  });
});
