/**
 * Process signals for the agent (SPEC 9: SIGTERM/SIGINT stop, SIGHUP reconciles now), behind the `Signals` port.
 * While a handler is installed Node no longer exits on SIGTERM/SIGINT by itself: the agent decides when to exit.
 */
import type { AgentSignal, Signals } from '../agent/ports.js';

const HANDLED: readonly AgentSignal[] = ['SIGHUP', 'SIGTERM', 'SIGINT'];

/** The signals of this process. */
export const processSignals: Signals = {
  on(handler) {
    const listeners = HANDLED.map((signal) => [signal, () => handler(signal)] as const);
    for (const [signal, listener] of listeners) process.on(signal, listener);
    return () => {
      for (const [signal, listener] of listeners) process.off(signal, listener);
    };
  },
};
