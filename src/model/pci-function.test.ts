import { describe, expect, it } from 'vitest';
import { normalisePciId } from './pci-function.js';

describe('normalisePciId', () => {
  it('gives exactly the width in lowercase hex, however the id is spelled', () => {
    expect(normalisePciId('0x8086\n', 4)).toBe('8086');
    expect(normalisePciId('0x00008086', 4)).toBe('8086');
    expect(normalisePciId('0X0000', 4)).toBe('0000');
    expect(normalisePciId('0x20000\n', 6)).toBe('020000');
    expect(normalisePciId('0xABCD', 4)).toBe('abcd');
  });

  it('is null for what is no id of that width', () => {
    expect(normalisePciId('nope', 4)).toBeNull();
    expect(normalisePciId('0x18086', 4)).toBeNull();
    expect(normalisePciId('', 4)).toBeNull();
    expect(normalisePciId('0x', 4)).toBeNull();
  });
});
