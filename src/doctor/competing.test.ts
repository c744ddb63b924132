import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeFakeHost, seedHost } from '../../test/helpers/fake-host.js';
import { loadDesiredState } from '../desired/load.js';
import { desiredStateChecks } from './doctor.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

async function put(root: string, rel: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
}

const FILE = `version: 1
vms:
  rhel7.3:
    devices:
      - address: "0000:07:00.0"
        managed: false
      - address: "0000:07:00.1"
release:
  - address: "0000:00:1f.6"
`;
const desired = loadDesiredState(FILE, 'passthrough.yaml');

describe('doctor: competing managers of device bindings (SPEC 10)', () => {
  it('passes on the seed host, which has none', async () => {
    const root = await seedHost().build();
    roots.push(root);
    const checks = await desiredStateChecks(root, desired);
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['driverctl-overrides', 'pass'],
      ['vfio-pci-ids', 'pass'],
      ['networkmanager-sriov', 'pass'],
      ['initramfs-drivers', 'pass'],
    ]);
  });

  it('names each competing manager with file:line and the fix, and leaves the overrides the file owns alone', async () => {
    const root = await seedHost().cmdline('BOOT_IMAGE=/vmlinuz intel_iommu=on vfio-pci.ids=10de:2330,10de:22a3 quiet').build();
    roots.push(root);
    await put(root, 'etc/driverctl.d/pci-0000:07:00.0', 'vfio-pci\n'); // owned: claimed with managed: false
    await put(root, 'etc/driverctl.d/pci-0000:00:1f.6', 'vfio-pci\n'); // owned: released (the planner removes it)
    await put(root, 'etc/driverctl.d/pci-0000:07:00.1', 'vfio-pci\n'); // foreign: claimed with managed: true
    await put(root, 'etc/driverctl.d/pci-0000:00:02.0', 'i915\n'); // foreign: not in the file
    await put(root, 'etc/modprobe.d/vfio.conf', '# bind the GPU early\noptions vfio_pci ids=10de:2330 disable_vga=1\n');
    await put(root, 'etc/modprobe.d/other.conf', 'options igb max_vfs=2\n');
    await put(root, 'etc/NetworkManager/system-connections/eth1.nmconnection', '[connection]\nid=eth1\n\n[sriov]\ntotal-vfs=4\n');
    await put(root, 'etc/NetworkManager/conf.d/90-sriov.conf', '[device-eth2]\nmatch-device=interface-name:eth2\nsriov-num-vfs=2\n');
    await put(root, 'etc/initramfs-tools/modules', '# modules for the initramfs\nigb\n');
    await put(root, 'usr/sbin/driverctl', '#!/bin/sh\n'); // installed, but without its udev rule
    await put(root, 'etc/dracut.conf.d/net.conf', 'add_drivers+=" e1000e igb "\n');

    const checks = await desiredStateChecks(root, desired);
    const warned = checks.filter((c) => c.status === 'warn');
    expect(warned.map((c) => `${c.id}: ${c.detail}`)).toEqual([
      'driverctl-overrides: /usr/sbin/driverctl is installed but its udev rule 89-driverctl.rules is in neither /usr/lib/udev/rules.d nor /lib/udev/rules.d: no override is applied at boot',
      'driverctl-overrides: /etc/driverctl.d/pci-0000:00:02.0:1 binds 0000:00:02.0 to i915 at every boot, and passthrough.yaml does not own it',
      'driverctl-overrides: /etc/driverctl.d/pci-0000:07:00.1:1 binds 0000:07:00.1 to vfio-pci at every boot, and passthrough.yaml does not own it',
      'vfio-pci-ids: /proc/cmdline:1 has vfio-pci.ids=10de:2330,10de:22a3: it binds every device of those IDs to vfio-pci at boot, whatever passthrough.yaml says',
      'vfio-pci-ids: /etc/modprobe.d/vfio.conf:2 has `options vfio_pci ids=10de:2330 disable_vga=1`: it binds every device of those IDs to vfio-pci at boot, whatever passthrough.yaml says',
      'networkmanager-sriov: /etc/NetworkManager/system-connections/eth1.nmconnection:4 has `[sriov]`: NetworkManager sets the VF count of that device when it activates it, and destroys the VFs passthru assigned when it differs',
      'networkmanager-sriov: /etc/NetworkManager/system-connections/eth1.nmconnection:5 has `total-vfs=4`: NetworkManager sets the VF count of that device when it activates it, and destroys the VFs passthru assigned when it differs',
      'networkmanager-sriov: /etc/NetworkManager/conf.d/90-sriov.conf:3 has `sriov-num-vfs=2`: NetworkManager sets the VF count of that device when it activates it, and destroys the VFs passthru assigned when it differs',
      "initramfs-drivers: 0000:07:00.0 (claimed for rhel7.3) is driven by igb, which /etc/dracut.conf.d/net.conf:1 puts into the initramfs: it binds the device at boot before driverctl's udev rule runs",
      "initramfs-drivers: 0000:07:00.1 (claimed for rhel7.3) is driven by igb, which /etc/dracut.conf.d/net.conf:1 puts into the initramfs: it binds the device at boot before driverctl's udev rule runs",
    ]);
    expect(warned[1]?.remedy).toContain('driverctl unset-override 0000:00:02.0');
    expect(warned[3]?.remedy).toContain('grubby --update-kernel=ALL --remove-args=vfio-pci.ids');
    expect(warned[4]?.remedy).toContain('update-initramfs -u');
    expect(warned.at(-1)?.remedy).toContain('remove igb from /etc/dracut.conf.d/net.conf:1');
  });
});
