import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay, drawRandom } from './backoff.js';

describe('backoffDelay', () => {
  it.each([
    // failures, r, delay (ms)
    [1, 0, 10_000],
    [2, 0, 20_000],
    [3, 0, 40_000],
    [4, 0, 80_000],
    [7, 0, 640_000],
    [8, 0, 900_000], // 1280 s nominal, capped at 15 min
    [50, 0, 900_000],
    [10_000, 0, 900_000], // no overflow to Infinity/NaN
    [1, 0.5, 9_000], // jitter shortens by r · 20 %
    [1, 0.999999, 8_000],
    [8, 0.5, 810_000], // jitter applies below the cap, never above it
  ])('failure %i with r=%f waits %i ms', (failures, r, expected) => {
    expect(backoffDelay(failures, r)).toBe(expected);
  });

  it('never exceeds the cap nor drops below 80 % of the nominal delay', () => {
    for (let n = 1; n <= 20; n++) {
      const nominal = Math.min(DEFAULT_BACKOFF.maxMs, 10_000 * 2 ** (n - 1));
      for (const r of [0, 0.25, 0.5, 0.75, 0.9999]) {
        const d = backoffDelay(n, r);
        expect(d).toBeLessThanOrEqual(nominal);
        expect(d).toBeGreaterThanOrEqual(nominal * 0.8);
      }
    }
  });
});

describe('drawRandom', () => {
  it('is determined by its seed and stays in [0, 1)', () => {
    let a = 42;
    let b = 42;
    const values: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const x = drawRandom(a);
      const y = drawRandom(b);
      expect(x).toEqual(y);
      expect(x.value).toBeGreaterThanOrEqual(0);
      expect(x.value).toBeLessThan(1);
      values.push(x.value);
      a = x.seed;
      b = y.seed;
    }
    // Spread, not a constant: the mean of 1000 uniform draws is near 0.5.
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(drawRandom(1).value).not.toBe(drawRandom(2).value);
  });
});
