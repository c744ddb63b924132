import { describe, expect, it } from 'vitest';
import { canonicalAddress, canonicalOverlaps, comparePciAddress, formatPciAddress, nodedevName, parseLibvirtInt, parsePciAddress, pciFunction } from './pci-address.js';

describe('PCI addresses', () => {
  it.each([
    ['0000:07:00.0', '0000:07:00.0'],
    ['07:00.0', '0000:07:00.0'],
    ['pci_0000_07_00_0', '0000:07:00.0'],
    ['0x0000:0x07:0x00.0x0', '0000:07:00.0'],
    ['7:0.0', '0000:07:00.0'],
    ['0000:01:00', '0000:01:00'],
    ['ABCD:FF:1F.7', 'abcd:ff:1f.7'],
  ])('reads %s as %s', (text, canonical) => {
    const r = parsePciAddress(text);
    expect(r.ok && formatPciAddress(r.address)).toBe(canonical);
  });

  it.each([
    ['0000:07:20.0', 'slot 0x20 is above 0x1f'],
    ['0000:07:00.8', 'function 8 is above 7'],
    ['0000:100:00.0', 'bus 0x100 is above 0xff'],
    ['10000:07:00.0', 'domain 0x10000 is above 0xffff'],
    ['07-00-0', 'is not a PCI address'],
    ['0000:0g:00.0', 'bus "0g" is not hexadecimal'],
  ])('rejects %s (%s)', (text, reason) => {
    const r = parsePciAddress(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });

  it('compares numerically whatever the spelling', () => {
    expect(comparePciAddress(pciFunction('0x10:0.0'), pciFunction('0000:0f:1f.7'))).toBeGreaterThan(0);
    expect(canonicalAddress('0x07:0x00.0')).toBe(canonicalAddress('7:0.0'));
  });

  it('names node devices as libvirt does', () => {
    expect(nodedevName(pciFunction('0000:07:00.1'))).toBe('pci_0000_07_00_1');
  });

  it('parses XML integers like libvirt (0x hex, leading 0 octal, else decimal)', () => {
    expect([parseLibvirtInt('0x10'), parseLibvirtInt('010'), parseLibvirtInt('10'), parseLibvirtInt('0'), parseLibvirtInt('x')]).toEqual([16, 8, 10, 0, null]);
  });

  it('tells whether a slot and a function overlap', () => {
    expect(canonicalOverlaps('0000:01:00', '0000:01:00.1')).toBe(true);
    expect(canonicalOverlaps('0000:01:00.1', '0000:01:00')).toBe(true);
    expect(canonicalOverlaps('0000:01:00.0', '0000:01:00.1')).toBe(false);
    expect(canonicalOverlaps('0000:01:00', '0000:01:01.0')).toBe(false);
  });
});
