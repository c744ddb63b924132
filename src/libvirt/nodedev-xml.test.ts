import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import { parseNetNodeDevice, parseNodeDeviceXml } from './nodedev-xml.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/virsh/${name}`, import.meta.url), 'utf8');

describe('parseNodeDeviceXml on real libvirt 9.0 output', () => {
  it('reads a bound virtio NIC (no IOMMU on the recording machine)', () => {
    expect(parseNodeDeviceXml(fixture('nodedev-pci_0000_00_03_0.xml'))).toEqual({
      name: 'pci_0000_00_03_0',
      address: '0000:00:03.0',
      parent: 'computer',
      driver: 'virtio-pci',
      vendor: '1af4',
      product: '1041',
      class: '020000',
      vendorName: 'Red Hat, Inc.',
      productName: 'Virtio 1.0 network device',
      iommuGroup: null,
      iommuGroupMembers: [],
      physFunction: null,
      virtualFunctions: [],
      isBridge: false,
      warnings: [],
    });
  });

  it('reads an unbound host bridge without product name; a host bridge (0600) is not a PCI bridge', () => {
    const d = parseNodeDeviceXml(fixture('nodedev-pci_0000_00_00_0.xml'));
    expect(d).toMatchObject({ address: '0000:00:00.0', driver: null, class: '060000', product: '0d57', isBridge: false });
    expect(d).not.toHaveProperty('productName');
  });

  it.each(['nodedev-net_eth0_02_fc_00_00_00_01.xml', 'nodedev-computer.xml', 'nodedev-block_vda.xml'])(
    'returns null for a device that is not PCI (%s)',
    (file) => {
      expect(parseNodeDeviceXml(fixture(file))).toBeNull();
    },
  );
});

describe('parseNodeDeviceXml on hand-written libvirt 9.0 format', () => {
  it('reads the seed runbook device: no <class> printed, an SR-IOV PF with no VF enabled', () => {
    expect(parseNodeDeviceXml(fixture('hand-written-nodedev-seed-runbook-pci_0000_07_00_0.xml'))).toEqual({
      name: 'pci_0000_07_00_0',
      address: '0000:07:00.0',
      parent: 'pci_0000_00_1c_0',
      driver: 'igb',
      vendor: '8086',
      product: '1521',
      class: null,
      vendorName: 'Intel Corporation',
      productName: 'I350 Gigabit Network Connection',
      iommuGroup: 17,
      iommuGroupMembers: ['0000:07:00.0'],
      physFunction: null,
      virtualFunctions: [],
      maxVirtualFunctions: 7,
      isBridge: false,
      warnings: [],
    });
  });

  it('reads an SR-IOV PF with its VFs and a VF with its PF', () => {
    expect(parseNodeDeviceXml(fixture('hand-written-nodedev-sriov-pf-pci_0000_07_00_1.xml'))).toMatchObject({
      address: '0000:07:00.1',
      virtualFunctions: ['0000:08:10.1', '0000:08:10.5'],
      physFunction: null,
      iommuGroup: 18,
    });
    expect(parseNodeDeviceXml(fixture('hand-written-nodedev-sriov-vf-pci_0000_08_10_1.xml'))).toMatchObject({
      address: '0000:08:10.1',
      driver: 'igbvf',
      product: '1520',
      physFunction: '0000:07:00.1',
      virtualFunctions: [],
      iommuGroup: 40,
      iommuGroupMembers: ['0000:08:10.1'],
    });
    expect(parseNodeDeviceXml(fixture('hand-written-nodedev-vf-vfio-pci_0000_08_10_5.xml'))).toMatchObject({
      driver: 'vfio-pci',
      physFunction: '0000:07:00.1',
    });
  });

  it('reads both functions of a multifunction GPU sharing a group with its root port', () => {
    const gpu = parseNodeDeviceXml(fixture('hand-written-nodedev-multifunction-gpu-pci_0000_01_00_0.xml'));
    const audio = parseNodeDeviceXml(fixture('hand-written-nodedev-multifunction-audio-pci_0000_01_00_1.xml'));
    const members = ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1'];
    expect(gpu).toMatchObject({ address: '0000:01:00.0', class: '030000', vendor: '10de', product: '2330', iommuGroup: 1, iommuGroupMembers: members });
    expect(audio).toMatchObject({ address: '0000:01:00.1', class: '040300', driver: 'snd_hda_intel', iommuGroup: 1, iommuGroupMembers: members });
    expect(audio).not.toHaveProperty('productName');
  });

  it('recognises a PCIe root port as a bridge, by class and by capability', () => {
    const xml = fixture('hand-written-nodedev-pci-bridge-pci_0000_00_1c_0.xml');
    expect(parseNodeDeviceXml(xml)).toMatchObject({ address: '0000:00:1c.0', class: '060400', isBridge: true });
    expect(parseNodeDeviceXml(xml.replace('<class>0x060400</class>', ''))).toMatchObject({ class: null, isBridge: true });
    expect(parseNodeDeviceXml(xml.replace("<capability type='pci-bridge'/>", ''))).toMatchObject({ isBridge: true });
  });

  it.each(['hand-written-nodedev-usb_1_2.xml', 'hand-written-nodedev-net_enp7s0f1_a0_36_9f_00_00_01.xml'])(
    'returns null for %s',
    (file) => {
      expect(parseNodeDeviceXml(fixture(file))).toBeNull();
    },
  );

  it.each([
    ['<device><name>x</name>', /malformed device XML/],
    ['<domain><name>x</name></domain>', /not a libvirt device XML/],
  ])('throws a HostError for text that is no node device XML: %j', (xml, message) => {
    expect(() => parseNodeDeviceXml(xml)).toThrow(HostError);
    expect(() => parseNodeDeviceXml(xml)).toThrow(message);
  });
});

/** A PCI node device of libvirt's format with these address fields (and a vendor/product unless replaced). */
const pciDevice = (fields: string, ids = "<product id='0x1521'/><vendor id='0x8086'/>") =>
  `<device><name>pci_odd</name><parent>computer</parent><capability type='pci'>${fields}${ids}` +
  `<iommuGroup number='5'><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></iommuGroup></capability></device>`;

describe('parseNodeDeviceXml: one odd device is reported on, not thrown (defect 15)', () => {
  it("returns libvirt's own test device with <bus>4294967295</bus> with a null address, saying why", () => {
    const d = parseNodeDeviceXml(pciDevice('<domain>0</domain><bus>4294967295</bus><slot>0</slot><function>0</function>'));
    expect(d).toMatchObject({ name: 'pci_odd', address: null, vendor: '8086', product: '1521', iommuGroup: 5 });
    expect(d?.unreadable).toBe('node device pci_odd: its PCI address is out of range: bus 0xffffffff is above 0xff');
  });

  it.each([
    ['<domain>0</domain><bus>0x7</bus><slot>0</slot><function>0</function>', 'PCI capability <bus> is "0x7", not a decimal number'],
    ['<domain>0</domain><bus>7</bus><slot>32</slot><function>0</function>', 'its PCI address is out of range: slot 0x20 is above 0x1f'],
    ['<domain>0</domain><bus>7</bus><slot>0</slot>', 'PCI capability <function> is "", not a decimal number'],
  ])('an address it cannot read is null: %s', (fields, why) => {
    expect(parseNodeDeviceXml(pciDevice(fields))).toMatchObject({ address: null, unreadable: `node device pci_odd: ${why}` });
  });

  it('ids are exactly 4 lowercase hex digits; an absent or impossible one is ffff with a warning', () => {
    const fields = '<domain>0</domain><bus>7</bus><slot>0</slot><function>0</function>';
    expect(parseNodeDeviceXml(pciDevice(fields, "<product id='0x00001521'/><vendor id='0X8086'/><class>0x00020000</class>"))).toMatchObject({
      address: '0000:07:00.0',
      vendor: '8086',
      product: '1521',
      class: '020000',
      warnings: [],
    });
    const odd = parseNodeDeviceXml(pciDevice(fields, "<vendor id='0x123456'/>"));
    expect(odd).toMatchObject({ vendor: 'ffff', product: 'ffff', address: '0000:07:00.0' });
    expect(odd).not.toHaveProperty('unreadable');
    expect(odd?.warnings).toEqual([
      'node device pci_odd: vendor id "0x123456" is not 4 hex digits; using ffff',
      'node device pci_odd: product id "" is not 4 hex digits; using ffff',
    ]);
  });

  it('an IOMMU group it cannot read makes the device unreadable', () => {
    const xml = pciDevice('<domain>0</domain><bus>7</bus><slot>0</slot><function>0</function>')
      .replace("number='5'", "number='five'")
      .replace("<address domain='0x0000' bus='0x07'", "<address domain='0x0000' bus='0x7g'");
    const d = parseNodeDeviceXml(xml);
    expect(d).toMatchObject({ address: '0000:07:00.0', iommuGroup: null, iommuGroupMembers: [] });
    expect(d?.unreadable).toBe(
      'node device pci_odd: its IOMMU group number "five" is not a decimal number; IOMMU group member: address bus=\'0x7g\' is not an integer',
    );
  });
});

describe('parseNetNodeDevice', () => {
  it('ties an interface name to its parent PCI node device; null for anything else', () => {
    expect(parseNetNodeDevice(fixture('hand-written-nodedev-net_enp7s0f1_a0_36_9f_00_00_01.xml'))).toEqual({ interface: 'enp7s0f1', parent: 'pci_0000_07_00_1' });
    expect(parseNetNodeDevice(fixture('nodedev-pci_0000_00_00_0.xml'))).toBeNull();
  });
});
