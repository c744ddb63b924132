/**
 * The process's termination signals as an AbortSignal: how an operator's Ctrl-C (SIGINT), a service manager's
 * SIGTERM or a dropped SSH session (SIGHUP) reaches the apply stage, which then starts no new step and rolls back
 * (apply/execute.ts). Node's default for these is to die on the spot, which leaves a half-changed host, the lock
 * and an orphaned virsh behind; while listening, the process lives on until the caller is done.
 */

/** A listener on the process's termination signals. */
export interface Interrupts {
  /** Aborted at the first signal; `reason` is its name (`SIGINT`). */
  readonly signal: AbortSignal;
  /** Stops listening: the signals' default (terminate) applies again. */
  dispose(): void;
}

/** What to tell the operator: on the first signal, and on each one after it (which changes nothing). */
export interface InterruptNotices {
  first(signal: NodeJS.Signals): void;
  again(signal: NodeJS.Signals): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const ignore = () => undefined;

/** Listens for SIGINT, SIGTERM and SIGHUP until `dispose()`. */
export function listenForInterrupts(notices: InterruptNotices): Interrupts {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      notices.again(signal);
      return;
    }
    // After a hangup the terminal is gone: a failed write to it must not kill the rollback that follows.
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', ignore);
    controller.abort(signal);
    notices.first(signal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, onSignal);
    },
  };
}

/** `interrupted by SIGTERM`: what stopped an operation, from its AbortSignal's reason. */
export function interruptionText(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? `interrupted by ${signal.reason}` : 'interrupted';
}
