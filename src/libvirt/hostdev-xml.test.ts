import { describe, expect, it } from 'vitest';
import { InternalError } from '../errors.js';
import { ROM_HOSTDEV } from '../../test/helpers/builders.js';
import { domainHostdevXml, hostdevXml, interfaceHostdevXml, withManaged } from './hostdev-xml.js';

describe('hostdev XML', () => {
  it('writes the seed runbook element with libvirt-style hex fields', () => {
    expect(hostdevXml('7:0.0', true)).toBe(
      '<hostdev mode="subsystem" type="pci" managed="yes"><source><address domain="0x0000" bus="0x07" slot="0x00" function="0x0"/></source></hostdev>',
    );
    expect(hostdevXml('0000:af:1f.7', false)).toContain('managed="no"><source><address domain="0x0000" bus="0xaf" slot="0x1f" function="0x7"/>');
  });

  it('escapes what it did not make, so a MAC cannot inject XML', () => {
    expect(interfaceHostdevXml('0000:07:10.1', true, `52:54"/><hostdev x='`)).toBe(
      '<interface type="hostdev" managed="yes"><mac address="52:54&quot;/&gt;&lt;hostdev x=&apos;"/><source><address type="pci" domain="0x0000" bus="0x07" slot="0x10" function="0x1"/></source></interface>',
    );
  });

  it('picks the element by source and refuses a VF NIC without a MAC', () => {
    expect(domainHostdevXml({ address: '0000:07:00.0', managed: true, source: 'hostdev' })).toBe(hostdevXml('0000:07:00.0', true));
    expect(domainHostdevXml({ address: '0000:07:10.1', managed: false, source: 'interface', mac: '52:54:00:11:22:33' })).toBe(
      interfaceHostdevXml('0000:07:10.1', false, '52:54:00:11:22:33'),
    );
    expect(() => domainHostdevXml({ address: '0000:07:10.1', managed: false, source: 'interface' })).toThrow(InternalError);
    expect(() => hostdevXml('0000:07:00', true)).toThrow();
  });
});

describe('withManaged', () => {

  it('rewrites only the managed attribute: every child stays byte for byte', () => {
    expect(withManaged(ROM_HOSTDEV, false)).toBe(ROM_HOSTDEV.replace("managed='yes'", "managed='no'"));
    expect(withManaged(ROM_HOSTDEV, true)).toBe(ROM_HOSTDEV);
  });

  it('adds managed where libvirt left it out, and is not fooled by a value that looks like it', () => {
    expect(withManaged("<interface type='hostdev'><mac address='52:54:00:11:22:33'/></interface>", true)).toBe(
      "<interface managed='yes' type='hostdev'><mac address='52:54:00:11:22:33'/></interface>",
    );
    expect(withManaged(`<hostdev x=" managed='no' >" managed="no" type='pci'/>`, true)).toBe(`<hostdev x=" managed='no' >" managed='yes' type='pci'/>`);
    expect(() => withManaged('no element', true)).toThrow(InternalError);
  });
});
