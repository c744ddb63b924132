import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bind, kernelLinkText, removeFakeHost, seedHost, setDriverOverride } from './fake-host.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

describe('fake host layout', () => {
  it('writes links exactly as the kernel prints them (seed runbook step 13)', async () => {
    const root = await seedHost().build();
    roots.push(root);
    const dev = path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0');
    expect(await readlink(path.join(dev, 'driver'))).toBe('../../../../bus/pci/drivers/igb');
    expect(await readlink(path.join(dev, 'iommu_group'))).toBe('../../../../kernel/iommu_groups/17');
    expect(await readlink(path.join(dev, 'net/eth1/device'))).toBe('../../../0000:07:00.0');
    expect(await readlink(path.join(root, 'sys/bus/pci/devices/0000:07:00.0'))).toBe('../../../devices/pci0000:00/0000:00:1c.0/0000:07:00.0');
    await bind(root, '0000:07:00.0', 'vfio-pci');
    expect(await readlink(path.join(dev, 'driver'))).toBe('../../../../bus/pci/drivers/vfio-pci');
    expect(await readlink(path.join(root, 'sys/bus/pci/drivers/vfio-pci/0000:07:00.0'))).toBe(
      '../../../../devices/pci0000:00/0000:00:1c.0/0000:07:00.0',
    );
  });

  it('kernelLinkText climbs to the nearest strict ancestor of the target', () => {
    expect(kernelLinkText('/sys/devices/p/0000:07:10.0/physfn', '/sys/devices/p/0000:07:00.0')).toBe('../0000:07:00.0');
    expect(kernelLinkText('/sys/class/net/eth0', '/sys/devices/p/net/eth0')).toBe('../../devices/p/net/eth0');
  });

  it('mutation helpers refuse anything that is not a built fake tree', async () => {
    await expect(bind('/', '0000:00:00.0', 'vfio-pci')).rejects.toThrow(/refusing/);
    const plain = await mkdtemp(path.join(tmpdir(), 'passthru-not-fake-'));
    await expect(setDriverOverride(plain, '0000:00:00.0', 'vfio-pci')).rejects.toThrow(/no \.passthru-fake-host marker/);
    await expect(removeFakeHost(plain)).rejects.toThrow(/refusing/);
    await rm(plain, { recursive: true });
  });
});
