import { describe, expect, it } from 'vitest';
import { printable } from './printable.js';
import { colorStyle } from './style.js';

describe('printable', () => {
  it.each([
    ['rhel7.3', 'rhel7.3'],
    ['web "prod";$(reboot) ü 日本', 'web "prod";$(reboot) ü 日本'],
    ['\u001b]0;pwned\u0007', '\\u001b]0;pwned\\u0007'],
    ['\u001b[2J\u001b[H', '\\u001b[2J\\u001b[H'],
    ['a\u0000b\u007fc', 'a\\u0000b\\u007fc'],
    ['C1 CSI \u009b31m, NEL \u0085', 'C1 CSI \\u009b31m, NEL \\u0085'],
    ['bidi \u202a\u202b\u202c\u202d\u202e \u2066\u2067\u2068\u2069', 'bidi \\u202a\\u202b\\u202c\\u202d\\u202e \\u2066\\u2067\\u2068\\u2069'],
    ['line\nbreak\ttab\rreturn', 'line\\u000abreak\\u0009tab\\u000dreturn'],
  ])('escapes %j', (input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it('keeps newlines and tabs for layout, never a carriage return', () => {
    expect(printable('a\n\tb\rc', { layout: true })).toBe('a\n\tb\\u000dc');
  });

  it('keeps passthru\'s own colours with { style: true }, and only those', () => {
    const styled = colorStyle.red(colorStyle.bold('Error:'));
    expect(printable(`${styled} \u001b]0;x\u0007 \u001b[2J \u001b[8m`, { style: true })).toBe(`${styled} \\u001b]0;x\\u0007 \\u001b[2J \\u001b[8m`);
  });

  it('leaves JSON text meaning the same', () => {
    const value = { name: 'db\u001b]0;x\u0007\u202e\u009b', list: ['\u2066'] };
    const text = printable(JSON.stringify(value, null, 2), { layout: true });
    expect(text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(JSON.parse(text)).toEqual(value);
  });
});
