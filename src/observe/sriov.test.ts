import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeKernelSetNumVfs, removeFakeHost, sriovHost } from '../../test/helpers/fake-host.js';
import { parseNodeDeviceXml } from '../libvirt/nodedev-xml.js';
import { parseDomainXml } from '../libvirt/domain-xml.js';
import { sriovRuleLine } from '../model/sriov-udev-rules.js';
import { readSriovPersisted } from './sriov-rules.js';
import { readPciDevices } from './sysfs.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

describe('SR-IOV observation (SPEC 11)', () => {
  it('reads a PF\'s sriov_* attributes and its VFs in virtfn order, laid out by offset and stride', async () => {
    const root = await sriovHost().build();
    roots.push(root);
    const warnings: string[] = [];
    const before = await readPciDevices(root, { warn: (m) => warnings.push(m) });
    expect(before.find((d) => d.address === '0000:01:00.0')).toMatchObject({
      virtualFunctions: [],
      sriov: { numVfs: 0, totalVfs: 7, offset: 128, stride: 2, vfDevice: '10ca' },
    });
    expect(await fakeKernelSetNumVfs(root, '0000:01:00.0', 3)).toEqual(['0000:01:10.0', '0000:01:10.2', '0000:01:10.4']);
    const after = await readPciDevices(root, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const pf = after.find((d) => d.address === '0000:01:00.0');
    expect(pf?.virtualFunctions).toEqual(['0000:01:10.0', '0000:01:10.2', '0000:01:10.4']);
    expect(pf?.sriov?.numVfs).toBe(3);
    const vf = after.find((d) => d.address === '0000:01:10.2');
    expect(vf).toMatchObject({ vendor: '8086', product: '10ca', physFunction: '0000:01:00.0', driver: null, iommuGroup: 3 });
    expect(vf).not.toHaveProperty('sriov');
    // Back to 0: every VF is gone.
    await fakeKernelSetNumVfs(root, '0000:01:00.0', 0);
    expect((await readPciDevices(root)).map((d) => d.address)).toEqual(['0000:00:00.0', '0000:01:00.0']);
  });

  it('lists the PF\'s interfaces whose flags lack IFF_UP, and none when they are up or unreadable', async () => {
    const root = await sriovHost().build();
    roots.push(root);
    const flags = path.join(root, 'sys/bus/pci/devices/0000:01:00.0/net/enp1s0/flags');
    await mkdir(path.dirname(flags), { recursive: true });
    const pfOf = async () => (await readPciDevices(root)).find((d) => d.address === '0000:01:00.0')?.sriov;
    await writeFile(flags, '0x1002\n'); // BROADCAST|MULTICAST, not UP
    expect((await pfOf())?.linksDown).toEqual(['enp1s0']);
    await writeFile(flags, '0x1003\n');
    expect(await pfOf()).not.toHaveProperty('linksDown');
    await writeFile(flags, 'garbage\n');
    expect(await pfOf()).not.toHaveProperty('linksDown');
  });

  it('reads the persisted counts from passthru\'s udev rule file, warning about foreign lines', async () => {
    const root = await sriovHost().build();
    roots.push(root);
    const warnings: string[] = [];
    expect(readSriovPersisted(root, (m) => warnings.push(m))).toEqual([]);
    await mkdir(path.join(root, 'etc/udev/rules.d'), { recursive: true });
    await writeFile(
      path.join(root, 'etc/udev/rules.d/70-passthru-sriov.rules'),
      `# header\n${sriovRuleLine('0000:01:00.0', 2)}\nACTION=="add", RUN+="/bin/sh -c evil"\n`,
    );
    expect(readSriovPersisted(root, (m) => warnings.push(m))).toEqual([{ pf: '0000:01:00.0', numVfs: 2 }]);
    expect(warnings).toEqual([expect.stringContaining('line not written by passthru, ignored: ACTION=="add"')]);
  });

  it('reads a remote PF from its node device: virt_functions maxCount and addresses', () => {
    const node = parseNodeDeviceXml(`<device><name>pci_0000_01_00_0</name><driver><name>igb</name></driver>
      <capability type='pci'><class>0x020000</class><domain>0</domain><bus>1</bus><slot>0</slot><function>0</function>
        <product id='0x10c9'/><vendor id='0x8086'/>
        <capability type='virt_functions' maxCount='7'>
          <address domain='0x0000' bus='0x01' slot='0x10' function='0x0'/>
          <address domain='0x0000' bus='0x01' slot='0x10' function='0x2'/>
        </capability>
      </capability></device>`);
    expect(node).toMatchObject({ maxVirtualFunctions: 7, virtualFunctions: ['0000:01:10.0', '0000:01:10.2'] });
    const vf = parseNodeDeviceXml(`<device><name>pci_0000_01_10_2</name>
      <capability type='pci'><domain>0</domain><bus>1</bus><slot>16</slot><function>2</function>
        <product id='0x10ca'/><vendor id='0x8086'/>
        <capability type='phys_function'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></capability>
      </capability></device>`);
    expect(vf).toMatchObject({ physFunction: '0000:01:00.0' });
    expect(vf).not.toHaveProperty('maxVirtualFunctions');
  });

  it('reads an <interface type=\'hostdev\'>: source address, MAC, VLAN tags and trustGuestRxFilters', () => {
    const parsed = parseDomainXml(`<domain type='kvm'><name>nfv1</name><devices>
      <interface type='hostdev' managed='yes' trustGuestRxFilters='yes'>
        <mac address='52:54:00:12:34:56'/>
        <source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/></source>
        <vlan><tag id='100'/></vlan>
      </interface>
      <interface type='hostdev' managed='yes'>
        <mac address='52:54:00:12:34:57'/>
        <source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x4'/></source>
      </interface></devices></domain>`);
    expect(parsed.hostdevs.map(({ address, mac, vlan, trust }) => ({ address, mac, vlan, trust }))).toEqual([
      { address: '0000:01:10.2', mac: '52:54:00:12:34:56', vlan: [100], trust: true },
      { address: '0000:01:10.4', mac: '52:54:00:12:34:57', vlan: undefined, trust: undefined },
    ]);
    expect(() => parseDomainXml(`<interface type='hostdev'><source><address type='pci' bus='1' slot='16'/></source><vlan><tag id='5000'/></vlan></interface>`)).toThrow(
      /<vlan><tag id='5000'\/> is not a VLAN ID/,
    );
  });
});
