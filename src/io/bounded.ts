/**
 * A bound on work in flight: `--parallelism N` (SPEC 12) lets a fleet of a hundred hypervisors be observed without
 * a hundred ssh handshakes and virsh processes at once. Every item is settled whatever the others do, because hosts
 * are independent machines and one host's failure must never stop or hide another's result.
 */

/**
 * Runs `fn` on every item with at most `limit` calls in flight, and resolves when every call has settled. Results
 * are in the order of `items`, not of completion. A call that throws (even synchronously) is a `rejected` entry; the
 * next item starts in its place.
 */
export async function settleBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`settleBounded: limit must be an integer >= 1, got ${limit}`);
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  // Each worker takes the next item when its previous one settles; `next++` is safe because JS runs one worker at a
  // time between awaits.
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
