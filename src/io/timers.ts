/**
 * The agent loop's time: the clock and one wake-up at a time, behind the `Timers` port so that the loop can be run
 * by tests on a clock they control.
 */
import type { Timers } from '../agent/ports.js';

/** setTimeout takes at most 2^31-1 ms (~24.8 days); a later wake-up is reached in steps. */
const MAX_DELAY_MS = 2_147_483_647;

/** The real clock and timers. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  at(at, fn) {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const delay = at - Date.now();
      timer = delay > MAX_DELAY_MS ? setTimeout(arm, MAX_DELAY_MS) : setTimeout(fn, Math.max(0, delay));
    };
    arm();
    return () => clearTimeout(timer);
  },
};
