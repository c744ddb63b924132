import { describe, expect, it } from 'vitest';
import { vfAddress } from './sriov-address.js';

describe('vfAddress (the kernel\'s pci_iov_virtfn_bus/devfn)', () => {
  it.each([
    // igb (82576) in the lab: offset 128, stride 2 — VF n at slot 0x10 + n/4, functions 0, 2, 4, 6 then 1, 3, ...
    ['0000:01:00.0', 128, 2, 0, '0000:01:10.0'],
    ['0000:01:00.0', 128, 2, 1, '0000:01:10.2'],
    ['0000:01:00.0', 128, 2, 6, '0000:01:11.4'],
    // The second port of a two-port card: its own offset from function 1.
    ['0000:3b:00.1', 128, 2, 3, '0000:3b:10.7'],
    // Intel X710 style: offset 16, stride 1 → 3b:02.0 onwards; VF 3 is 3b:02.3.
    ['0000:3b:00.0', 16, 1, 3, '0000:3b:02.3'],
    // A routing ID past devfn 255 carries into the next bus.
    ['0000:05:00.0', 128, 1, 130, '0000:06:00.2'],
  ])('%s offset %i stride %i: VF %i is %s', (pf, offset, stride, index, expected) => {
    expect(vfAddress(pf, offset, stride, index)).toBe(expected);
  });

  it('is null past bus 255', () => {
    expect(vfAddress('0000:ff:00.0', 256, 1, 0)).toBeNull();
  });
});
