import { describe, expect, it } from 'vitest';
import { ROM_HOSTDEV } from '../../test/helpers/builders.js';
import { canonicalElement, elementDifferences } from './element-match.js';


const VLAN_NIC = `<interface type='hostdev' managed='yes'>
      <mac address='52:54:00:11:22:33'/>
      <source>
        <address type='pci' domain='0x0000' bus='0x08' slot='0x10' function='0x1'/>
      </source>
      <vlan>
        <tag id='42'/>
      </vlan>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>`;

describe('elementDifferences', () => {
  it('finds nothing between spellings of the same element: quotes, attribute and child order, whitespace, hex', () => {
    const respelled =
      '<hostdev managed="yes" type="pci" mode="subsystem"><address function="0" slot="9" bus="0" domain="0" type="pci"/>' +
      '<rom file="/x.rom" bar="off"/><boot order="2"/><source><address function="0x0" slot="0x00" bus="07" domain="0"/></source></hostdev>';
    expect(elementDifferences(ROM_HOSTDEV, respelled)).toEqual([]);
  });

  it('lets libvirt add what it assigns: a guest address, an alias, a driver, a MAC', () => {
    const minimal = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></source></hostdev>";
    const live = ROM_HOSTDEV.replace('<boot', "<driver name='vfio'/><alias name='hostdev0'/><boot");
    expect(elementDifferences(minimal, ROM_HOSTDEV)).toEqual([]);
    expect(elementDifferences(ROM_HOSTDEV, live)).toEqual([]);
    // The live XML's generated alias is not expected back: libvirt names the re-added device anew.
    expect(elementDifferences(live.replace('hostdev0', 'hostdev1'), live)).toEqual([]);
    expect(elementDifferences(VLAN_NIC.replace(/<mac[^>]*>/, ''), VLAN_NIC)).toEqual([]);
  });

  it('names every child that was lost or changed, and a managed flip', () => {
    const stripped = ROM_HOSTDEV.replace(/<rom[^>]*>/, '').replace(/<boot[^>]*>/, '');
    expect(elementDifferences(ROM_HOSTDEV, stripped)).toEqual(["lacks <boot order='2'/>", "lacks <rom bar='off' file='/x.rom'/>"]);
    expect(elementDifferences(ROM_HOSTDEV, ROM_HOSTDEV.replace("managed='yes'", "managed='no'"))).toEqual(["has managed='no' (not 'yes')"]);
    expect(elementDifferences(ROM_HOSTDEV, ROM_HOSTDEV.replace("slot='0x09'", "slot='0x0a'"))).toEqual([
      "has <address bus='0' domain='0' function='0' slot='10' type='pci'/> instead of <address bus='0' domain='0' function='0' slot='9' type='pci'/>",
    ]);
    expect(elementDifferences(VLAN_NIC, VLAN_NIC.replace(/<vlan>[\s\S]*<\/vlan>/, ''))).toEqual(["lacks <vlan><tag id='42'/></vlan>"]);
    expect(elementDifferences(VLAN_NIC, VLAN_NIC.replace("id='42'", "id='43'"))).toEqual(["has <vlan><tag id='43'/></vlan> instead of <vlan><tag id='42'/></vlan>"]);
  });

  it('reads an absent managed as no, as libvirt does (it prints interfaces without one)', () => {
    const unmanaged = VLAN_NIC.replace(" managed='yes'", '');
    expect(elementDifferences(unmanaged.replace('<interface', "<interface managed='no'"), unmanaged)).toEqual([]);
    expect(elementDifferences(VLAN_NIC, unmanaged)).toEqual(["has managed='no' (not 'yes')"]);
  });

  it('writes the canonical form on one line', () => {
    expect(canonicalElement(VLAN_NIC)).toBe(
      "<interface managed='yes' type='hostdev'><mac address='52:54:00:11:22:33'/><source><address bus='8' domain='0' function='1' slot='16' type='pci'/></source>" +
        "<vlan><tag id='42'/></vlan><address bus='0' domain='0' function='0' slot='3' type='pci'/></interface>",
    );
  });
});
