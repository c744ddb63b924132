/**
 * Retry delays after a failed apply or observation (SPEC 9): 10 s doubling up to 15 min, with jitter so that many
 * hosts failing together (a remote down, a libvirtd restart) do not retry in lockstep.
 *
 * The jitter comes from a seeded generator whose state lives in the agent's state, so the decision function stays
 * pure and a test that gives the seed knows every delay exactly.
 */

/** The shape of the retry schedule. */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** Each delay is cut by up to this fraction of its nominal length (0.2 = between 80 % and 100 %). */
  jitter: number;
}

/** SPEC 9: 10 s doubling to 15 min; jitter takes off at most a fifth, so the nominal schedule is an upper bound. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 10_000, maxMs: 15 * 60_000, jitter: 0.2 };

/**
 * The delay before retry number `failures` (1 = after the first failure), for a random `r` in [0, 1): the nominal
 * `initialMs · 2^(failures-1)` capped at `maxMs`, shortened by `r · jitter` of itself. Jitter only ever shortens a
 * delay, so the cap holds exactly and a retry never comes later than the documented schedule.
 */
export function backoffDelay(failures: number, r: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, failures - 1);
  // 2^exponent overflows to Infinity long after it passed the cap; Math.min keeps it finite.
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(exponent, 60));
  return Math.round(nominal * (1 - policy.jitter * r));
}

/** A random number in [0, 1) and the generator's next state. */
export interface Draw {
  value: number;
  seed: number;
}

/**
 * mulberry32: a tiny, well-mixed 32-bit generator. Not for secrets — only to spread retries — but fully determined
 * by its seed, which is what a pure decision function needs.
 */
export function drawRandom(seed: number): Draw {
  const next = (seed + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296, seed: next };
}
