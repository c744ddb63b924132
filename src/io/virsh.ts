/**
 * The one door to libvirt: every virsh process passthru starts goes through a `Virsh`. Observation batches many
 * commands into one process (SPEC 8); apply steps run one command each so that their exit code is theirs.
 */
import type { VirshBatchResult } from '../libvirt/virsh-batch.js';

/** Outcome of a single virsh process. */
export interface VirshRunResult {
  /** -1 when the process was killed by a signal (see `signal`). */
  exitCode: number;
  /** The signal that killed the process (`SIGKILL`, …), or null when it exited by itself. */
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The argv that ran, for the journal and error messages. */
  command: string[];
  durationMs: number;
}

export interface VirshOptions {
  timeoutMs?: number;
}

export interface Virsh {
  /**
   * Runs `commands` (each an argv, e.g. `['dumpxml', '--inactive', '--domain', uuid]`) in ONE virsh process
   * connected to `uri`, and returns one result per command, in order. Rejects with a HostError only when the
   * process itself could not run or connect.
   */
  batch(uri: string, commands: string[][], options?: VirshOptions): Promise<VirshBatchResult[]>;
  /** Runs one command as its own virsh process (argv, never a shell). Never rejects for a non-zero exit. */
  run(uri: string, args: string[], options?: VirshOptions): Promise<VirshRunResult>;
}

/** How a virsh process that failed ended, for messages: `exited with 1`, `was killed by SIGKILL`. */
export function describeExit(r: Pick<VirshRunResult, 'exitCode' | 'signal'>): string {
  return r.signal !== null ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`;
}

/** virsh's own short message: its last `error:` line without the prefix (the first one is generic: "Failed to ..."). */
export function virshError(stderr: string): string | null {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('error:'))
    .map((l) => l.slice('error:'.length).trim());
  return lines.at(-1) ?? (stderr.trim() || null);
}
