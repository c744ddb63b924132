import { describe, expect, it } from 'vitest';
import { closestMatch } from './suggest.js';

describe('closestMatch', () => {
  const keys = ['address', 'expect', 'managed', 'force'];
  it.each([
    ['adress', 'address'],
    ['Address', 'address'],
    ['manged', 'managed'],
    ['forse', 'force'],
    ['expcet', 'expect'],
    ['colour', null],
    ['x', null],
  ])('%s → %s', (word, suggestion) => {
    expect(closestMatch(word, keys)).toBe(suggestion);
  });
});
