import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import type { ParsedDomain } from '../model/snapshot.js';
import { hostdevXml, interfaceHostdevXml } from './hostdev-xml.js';
import { parseDomainXml } from './domain-xml.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/virsh/${name}`, import.meta.url), 'utf8');

/** The parsed fields of each hostdev, without the element text (asserted on its own). */
const fields = (d: ParsedDomain) => d.hostdevs.map(({ xml: _x, ...rest }) => rest);

describe('parseDomainXml on real libvirt 9.0 output', () => {
  it('reads PCI hostdevs, a hostdev interface and the other NICs (rhel7.3)', () => {
    const xml = fixture('domain-rhel7.3.inactive.xml');
    const d = parseDomainXml(xml);
    expect(d.name).toBe('rhel7.3');
    expect(d.uuid).toBe('163d5689-4729-4571-aa6a-27716cf47003');
    expect(fields(d)).toEqual([
      { address: '0000:07:00.0', managed: true, driver: null, source: 'hostdev' },
      { address: '0000:07:00.1', managed: false, driver: 'vfio', source: 'hostdev' },
      // Attached as bus='010' slot='31' function='7' (octal, decimal): libvirt printed it back in hex.
      { address: '0000:08:1f.7', managed: false, driver: null, source: 'hostdev' },
      { address: '0000:08:10.1', managed: true, driver: null, source: 'interface', mac: '52:54:00:6d:90:02' },
    ]);
    expect(d.interfaces.map(({ xml: _x, ...rest }) => rest)).toEqual([
      { type: 'bridge', source: 'br0', mac: '52:54:00:aa:bb:01', model: 'virtio' },
      { type: 'network', source: 'default', mac: '52:54:00:aa:bb:02', model: 'e1000' },
    ]);
  });

  it('keeps each hostdev exactly as printed, so it can be re-added with every child', () => {
    const xml = fixture('domain-rhel7.3.inactive.xml');
    const d = parseDomainXml(xml);
    for (const h of d.hostdevs) expect(xml).toContain(h.xml);
    expect(d.hostdevs.map((h) => h.xml.split('\n')[0])).toEqual([
      "<hostdev mode='subsystem' type='pci' managed='yes'>",
      "<hostdev mode='subsystem' type='pci' managed='no'>",
      "<hostdev mode='subsystem' type='pci' managed='no'>",
      "<interface type='hostdev' managed='yes'>",
    ]);
    expect(d.hostdevs[0]?.xml).toMatch(/<\/hostdev>$/);
    expect(d.hostdevs[3]?.xml).toMatch(/<\/interface>$/);
  });

  it('keeps each interface exactly as printed, so detach-device finds it', () => {
    const xml = fixture('domain-rhel7.3.inactive.xml');
    const [bridge] = parseDomainXml(xml).interfaces;
    expect(bridge?.xml).toBe(
      [
        "<interface type='bridge'>",
        "      <mac address='52:54:00:aa:bb:01'/>",
        "      <source bridge='br0'/>",
        "      <model type='virtio'/>",
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>",
        '    </interface>',
      ].join('\n'),
    );
    expect(xml).toContain(bridge?.xml);
  });

  it('ignores USB, SCSI and mdev hostdevs; an interface hostdev without managed is unmanaged (win10-gpu)', () => {
    const d = parseDomainXml(fixture('domain-win10-gpu.inactive.xml'));
    expect(fields(d)).toEqual([
      { address: '0000:01:00.0', managed: true, driver: null, source: 'hostdev' },
      { address: '0000:01:00.1', managed: true, driver: null, source: 'hostdev' },
      { address: '0000:08:10.3', managed: false, driver: null, source: 'interface', mac: '52:54:00:6d:90:03', vlan: [42] },
    ]);
    expect(d.interfaces).toEqual([]);
  });

  it('decodes entities in the name and is not fooled by an `error:` line in the description', () => {
    const xml = fixture('domain-odd-name.inactive.xml');
    const d = parseDomainXml(xml);
    expect(d.name).toBe(`--it's "odd"; $x & \\y`);
    expect(d.interfaces.map((i) => [i.type, i.source, i.model])).toEqual([
      ['direct', 'eth0', 'virtio'],
      ['bridge', 'br0', 'rtl8139'],
    ]);
    // The OVS <virtualport> libvirt filled in is part of the element.
    expect(d.interfaces[1]?.xml).toMatch(/<virtualport type='openvswitch'>\n\s+<parameters interfaceid='[0-9a-f-]+'\/>/);
    for (const i of d.interfaces) expect(xml).toContain(i.xml);
  });

  it('reads live XML of a running domain (aliases) and the test driver domain', () => {
    const live = parseDomainXml(fixture('domain-web-01.live.xml'));
    expect(live).toMatchObject({ name: 'web 01', hostdevs: [] });
    expect(live.interfaces).toEqual([
      expect.objectContaining({ type: 'user', source: null, mac: '52:54:00:aa:bb:03', model: 'virtio' }),
    ]);
    expect(live.interfaces[0]?.xml).toContain("<alias name='net0'/>");
    const test = parseDomainXml(fixture('domain-test-default.xml'));
    expect(test).toMatchObject({ name: 'test', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', hostdevs: [] });
    expect(test.interfaces.map((i) => [i.type, i.source, i.model])).toEqual([['network', 'default', null]]);
  });
});

describe('parseDomainXml on what users write', () => {
  it('reads absent managed as false, addresses as libvirt does, and skips comments and foreign elements', () => {
    const xml = fixture('hand-written-domain-spellings.xml');
    const d = parseDomainXml(xml);
    expect(d.name).toBe('hand written');
    expect(d.uuid).toBe('');
    expect(fields(d)).toEqual([
      { address: '0000:07:00.1', managed: false, driver: null, source: 'hostdev' },
      { address: '0000:08:1f.7', managed: false, driver: null, source: 'hostdev' },
      { address: '0000:08:10.2', managed: false, driver: null, source: 'interface' },
    ]);
    expect(d.interfaces.map(({ xml: _x, ...rest }) => rest)).toEqual([
      { type: 'bridge', source: 'br0', mac: '52:54:00:00:00:0a', model: null },
      { type: 'ethernet', source: null, mac: null, model: null },
    ]);
    expect(d.interfaces[0]?.xml).toMatch(/^<interface type="bridge"><!-- a comment with <interface> in it -->[\s\S]*<\/interface>$/);
    expect(d.interfaces[1]?.xml).toBe("<interface type='ethernet'/>");
  });

  it('parses a bare <hostdev> wrapped in a minimal domain (how the diff renderer uses it)', () => {
    const d = parseDomainXml(
      `<domain><name>x</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>` +
        `<source><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></source></hostdev></devices></domain>`,
    );
    expect(fields(d)).toEqual([{ address: '0000:07:00.0', managed: true, driver: 'vfio', source: 'hostdev' }]);
  });

  it('reads only the name, uuid and devices of a domain, whatever surrounds them in the text', () => {
    // What is parsed is cut out of the text: a <hostdev> in a comment, a CDATA section or a nested element of
    // another kind is not one of the domain's, and an entity in the name is decoded as before.
    const hostdev = (bus: string) =>
      `<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='${bus}' slot='0x00' function='0x0'/></source></hostdev>`;
    const xml =
      `<domain type='kvm'><!-- <devices>${hostdev('0x01')}</devices> --><name>a&amp;b &#39;c&#39;</name>` +
      `<description><![CDATA[<devices>${hostdev('0x02')}</devices>]]></description><uuid> 163d5689-4729-4571-aa6a-27716cf47003 </uuid>` +
      `<metadata><devices>${hostdev('0x03')}</devices></metadata><os><type>hvm</type></os>` +
      `<devices><disk type='file'><source file="/a>b"/></disk>${hostdev('0x04')}<controller type='pci'>${hostdev('0x05')}</controller>` +
      `<interface type='bridge'><source bridge='br0'/></interface>${hostdev('0x06')}</devices></domain>`;
    const d = parseDomainXml(xml);
    expect([d.name, d.uuid]).toEqual(["a&b 'c'", '163d5689-4729-4571-aa6a-27716cf47003']);
    expect(fields(d).map((h) => h.address)).toEqual(['0000:04:00.0', '0000:06:00.0']);
    expect(d.hostdevs[1]?.xml).toBe(hostdev('0x06'));
    expect(d.interfaces.map((i) => i.source)).toEqual(['br0']);
  });

  it('refuses a domain with two <devices> whose second holds a hostdev, as it did when it parsed the whole text', () => {
    const hostdev = `<hostdev mode='subsystem' type='pci'><source><address bus='0x01'/></source></hostdev>`;
    expect(() => parseDomainXml(`<domain><name>x</name><devices/><devices>${hostdev}</devices></domain>`)).toThrow(
      /found 1 <hostdev> elements in the text but parsed 0/,
    );
  });

  it.each([
    ['<domain><name>x</name>', /malformed domain XML: .*line 1/],
    ['<domain><name>x</name></domian>', /malformed domain XML/],
    ['', /not a libvirt domain XML|malformed/],
    ['<device><name>pci_0000_00_00_0</name></device>', /not a libvirt domain XML: the root element is <device>/],
    ['<domain><uuid>u</uuid></domain>', /has no <name>/],
    [
      "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source/></hostdev></devices></domain>",
      /domain "x": <hostdev> has no <source><address\/>/,
    ],
    [
      "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address bus='0x100'/></source></hostdev></devices></domain>",
      /bus 0x100 is above 0xff/,
    ],
    [
      "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address slot='09'/></source></hostdev></devices></domain>",
      /slot='09' is not an integer/,
    ],
  ])('throws a HostError for %j', (xml, message) => {
    expect(() => parseDomainXml(xml)).toThrow(HostError);
    expect(() => parseDomainXml(xml)).toThrow(message);
  });
});

describe('parseDomainXml on a bare device element, what attach-device takes (defect 15)', () => {
  it('returns the one hostdev of a <hostdev> element, as a nameless domain', () => {
    const xml = hostdevXml('0000:07:00.0', true);
    expect(parseDomainXml(xml)).toEqual({
      name: '',
      uuid: '',
      hostdevs: [{ address: '0000:07:00.0', managed: true, driver: null, source: 'hostdev', xml }],
      interfaces: [],
    });
  });

  it("returns the one hostdev of an <interface type='hostdev'> element, with its MAC", () => {
    const xml = interfaceHostdevXml('0000:08:10.1', false, '52:54:00:6d:90:02');
    expect(parseDomainXml(xml).hostdevs).toEqual([
      { address: '0000:08:10.1', managed: false, driver: null, source: 'interface', mac: '52:54:00:6d:90:02', xml },
    ]);
  });

  it('returns any other bare <interface> as an interface, exactly as written', () => {
    const xml = "<interface type='bridge'><mac address='52:54:00:aa:bb:01'/><source bridge='br0'/></interface>";
    expect(parseDomainXml(xml)).toMatchObject({ hostdevs: [], interfaces: [{ type: 'bridge', source: 'br0', xml }] });
  });

  it('still refuses other root elements', () => {
    expect(() => parseDomainXml('<disk/>')).toThrow(/not a libvirt domain XML: the root element is <disk>/);
  });
});

describe('parseDomainXml refuses a DOCTYPE instead of expanding its entities (defect 12)', () => {
  const seed = fixture('domain-rhel7.3.inactive.xml');
  it('an entity that would conjure a hostdev address out of plain text', () => {
    const xml = `<!DOCTYPE domain [<!ENTITY bus "0x09">]>\n${seed.replace("bus='0x07' slot='0x00' function='0x0'", "bus='&bus;' slot='0x00' function='0x0'")}`;
    expect(() => parseDomainXml(xml)).toThrow(HostError);
    expect(() => parseDomainXml(xml)).toThrow('domain XML has a <!DOCTYPE>, which libvirt never prints: refused rather than expanding its entities');
  });

  it('an entity that would hide a hostdev driver', () => {
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY none "">]>\n${seed.replace("<driver name='vfio'/>", "<driver name='&none;'/>")}`;
    expect(() => parseDomainXml(xml)).toThrow(/<!DOCTYPE>/);
  });

  it('the word in a comment or CDATA section is only text', () => {
    const xml = seed.replace('<devices>', '<devices><!-- <!DOCTYPE x> --><![CDATA[<!DOCTYPE y>]]>');
    expect(parseDomainXml(xml).hostdevs).toHaveLength(4);
  });
});
