import { describe, expect, it } from 'vitest';
import { settleBounded } from './bounded.js';

/** A call that stays in flight until the test releases it, recording how many were in flight at once. */
function gate() {
  let inFlight = 0;
  let maxInFlight = 0;
  const started: number[] = [];
  const pending = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const fn = (item: number) =>
    new Promise<string>((resolve, reject) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      started.push(item);
      pending.set(item, {
        resolve: (v) => {
          inFlight -= 1;
          resolve(v);
        },
        reject: (e) => {
          inFlight -= 1;
          reject(e);
        },
      });
    });
  return { fn, started, pending, max: () => maxInFlight, inFlight: () => inFlight };
}

/** Lets every settled promise's continuation run. */
const tick = () => new Promise((r) => setImmediate(r));

describe('settleBounded', () => {
  it('never has more than `limit` calls in flight, and starts the next one as soon as one settles', async () => {
    const g = gate();
    const done = settleBounded([0, 1, 2, 3, 4, 5, 6], 3, g.fn);
    await tick();
    expect(g.started).toEqual([0, 1, 2]);
    g.pending.get(1)?.resolve('one');
    await tick();
    expect(g.started).toEqual([0, 1, 2, 3]);
    expect(g.inFlight()).toBe(3);
    for (const i of [0, 2, 3, 4, 5, 6]) {
      g.pending.get(i)?.resolve(String(i));
      await tick();
    }
    await done;
    expect(g.max()).toBe(3);
  });

  it('returns results in the order of the items, not of completion', async () => {
    const delays = [30, 5, 20, 0, 10];
    const r = await settleBounded(delays, 2, (ms, i) => new Promise<string>((res) => setTimeout(() => res(`#${i}`), ms)));
    expect(r).toEqual(delays.map((_, i) => ({ status: 'fulfilled', value: `#${i}` })));
  });

  it('settles every item when some fail, synchronously or not', async () => {
    const r = await settleBounded(['a', 'bad', 'c', 'throws', 'e'], 2, (s) => {
      if (s === 'throws') throw new Error('sync');
      return s === 'bad' ? Promise.reject(new Error('async')) : Promise.resolve(s.toUpperCase());
    });
    expect(r.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message))).toEqual(['A', 'async', 'C', 'sync', 'E']);
  });

  it('runs everything at once when the limit exceeds the items, and nothing for no items', async () => {
    const g = gate();
    const done = settleBounded([0, 1], 10, g.fn);
    await tick();
    expect(g.started).toEqual([0, 1]);
    g.pending.forEach((p) => p.resolve('x'));
    expect(await done).toHaveLength(2);
    expect(await settleBounded([], 3, async () => 1)).toEqual([]);
  });

  it('a limit of 1 runs the items one after the other', async () => {
    const g = gate();
    const done = settleBounded([0, 1, 2], 1, g.fn);
    for (const i of [0, 1, 2]) {
      await tick();
      expect(g.started).toEqual([0, 1, 2].slice(0, i + 1));
      g.pending.get(i)?.reject(new Error(`no ${i}`));
    }
    expect((await done).every((x) => x.status === 'rejected')).toBe(true);
    expect(g.max()).toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %s (a bug: the CLI validates --parallelism)', async (limit) => {
    await expect(settleBounded([1], limit, async () => 1)).rejects.toThrow(RangeError);
  });
});
