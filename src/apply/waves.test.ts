import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseBatches, splitWaves } from './waves.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `hv${i + 1}`);
const sizes = (n: number, text: string) => splitWaves(hosts(n), parseBatches(text)).map((w) => w.length);

describe('parseBatches', () => {
  it('reads counts and percentages', () => {
    expect(parseBatches('1,10%,100%')).toEqual([{ hosts: 1 }, { percent: 10 }, { percent: 100 }]);
    expect(parseBatches(' 2 , 12.5% ')).toEqual([{ hosts: 2 }, { percent: 12.5 }]);
  });

  it.each([[''], ['0'], ['1,,2'], ['-1'], ['0%'], ['101%'], ['10 %'], ['abc'], ['1.5'], ['1;2'], ['%']])('refuses "%s" as a UsageError', (text) => {
    expect(() => parseBatches(text)).toThrow(UsageError);
    expect(() => parseBatches(text)).toThrow(/--batches .*is neither a number of hosts/);
  });
});

describe('splitWaves (Ansible serial semantics: sizes, last one repeats)', () => {
  it('1,10%,100% on 40 hosts: 1, 4, then the remaining 35', () => {
    expect(sizes(40, '1,10%,100%')).toEqual([1, 4, 35]);
  });

  it('a percentage rounds down but is at least one host', () => {
    expect(sizes(3, '1,10%,100%')).toEqual([1, 1, 1]);
    expect(sizes(9, '50%')).toEqual([4, 4, 1]);
  });

  it('the last entry repeats; a wave never takes more hosts than are left', () => {
    expect(sizes(7, '2')).toEqual([2, 2, 2, 1]);
    expect(sizes(2, '1,5')).toEqual([1, 1]);
  });

  it('keeps the order of the hosts and puts each in one wave', () => {
    expect(splitWaves(hosts(4), parseBatches('1,2'))).toEqual([['hv1'], ['hv2', 'hv3'], ['hv4']]);
  });

  it('without batches: one wave of every host; no hosts: no waves', () => {
    expect(splitWaves(hosts(3), null)).toEqual([['hv1', 'hv2', 'hv3']]);
    expect(splitWaves([], parseBatches('1'))).toEqual([]);
  });
});
