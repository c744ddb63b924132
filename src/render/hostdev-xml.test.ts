import { describe, expect, it } from 'vitest';
import { InternalError } from '../errors.js';
import { domainHostdevXml, hostdevXml, interfaceHostdevXml } from './hostdev-xml.js';

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
