import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { locateJson, parseJsonText, pointerPath } from './json-source.js';

const text = '{\n  "a": [1, {"b": "x\\"y"}],\n  "c\\u0064": {}\n}\n';

describe('locateJson', () => {
  it.each([
    [[], 1, 1],
    [['a'], 2, 8],
    [['a', 1], 2, 12],
    [['a', 1, 'b'], 2, 18],
    [['cd'], 3, 14],
    // a path that does not exist: the deepest part that does
    [['a', 5], 2, 8],
    [['a', 1, 'z'], 2, 12],
    [['nope'], 1, 1],
  ] as const)('%j at %i:%i', (path, line, col) => {
    expect(locateJson(text, 'f.json', path)).toEqual({ file: 'f.json', line, col });
  });
});

describe('parseJsonText', () => {
  it('parses JSON as JSON.parse does', () => {
    expect(parseJsonText(text, 'f.json', 'h')).toEqual({ a: [1, { b: 'x"y' }], cd: {} });
  });

  it.each([
    ['{"a": 1, "\\u0061": 2}', 1, 10, 'key "a" is written twice in this object (first at 1:2)'],
    ['{"a": tru}', 1, 7, 'not JSON: unexpected "t"'],
    ['{"a": 1', 1, 8, 'not JSON: expected "," or "}"'],
    ['{"a": "\\x"}', 1, 8, 'not JSON: unknown escape in a string'],
    ['[1] [2]', 1, 5, 'not JSON: unexpected text after the end of the value'],
    ['', 1, 1, 'not JSON: the text ends where a value should be'],
  ])('refuses %j at %i:%i', (bad, line, col, message) => {
    let error: unknown;
    try {
      parseJsonText(bad, 'f.json', 'write it again');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).diagnostics).toEqual([{ file: 'f.json', line, col, message, hint: 'write it again' }]);
  });
});

describe('pointerPath', () => {
  it('turns list indexes into numbers and unescapes ~1 and ~0', () => {
    expect(pointerPath({ vms: { 'a/b~': { devices: [{}] } } }, '/vms/a~1b~0/devices/0')).toEqual(['vms', 'a/b~', 'devices', 0]);
  });
});
