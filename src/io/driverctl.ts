/**
 * The one door to driverctl (SPEC 10): apply's `persist-binding` / `unpersist-binding` steps run through a
 * `Driverctl`. Like virsh's: an argv (never a shell), `LC_ALL=C`, a timeout that kills the process group, and
 * bounded output — driverctl prints a line or two, so more than {@link DRIVERCTL_OUTPUT_BYTES} is a HostError.
 *
 * It runs on the machine passthru runs on: driverctl has no remote mode, which is why the planner plans binding
 * steps only for a local host.
 */
import { execa } from 'execa';
import { HostError } from '../errors.js';
import { withTimeout } from './execa-virsh.js';
import type { VirshRunResult } from './virsh.js';

/** The outcome of one driverctl process: the same fields as a virsh process's. */
export type DriverctlRunResult = VirshRunResult;

/** Runs driverctl commands. */
export interface Driverctl {
  /** Runs `driverctl ARGS` (e.g. `['set-override', '0000:01:00.0', 'vfio-pci']`). Never rejects for a non-zero exit. */
  run(args: string[], options?: { timeoutMs?: number }): Promise<DriverctlRunResult>;
}

/** How `createDriverctl` finds and runs driverctl. */
export interface CreateDriverctlOptions {
  /** A name looked up on PATH or a path. Default `driverctl`. */
  binary?: string;
  /** The PATH a bare name is looked up in (the CLI's environment's). Default: this process's. */
  searchPath?: string;
  /** Receives one line per process (`--debug`). */
  debug?: (line: string) => void;
  /** Timeout when a call gives none. Default 60 s. */
  timeoutMs?: number;
}

/** driverctl prints a line or two (its `driverctl: …` messages): more is not driverctl. */
export const DRIVERCTL_OUTPUT_BYTES = 64 * 1024;

const DEFAULT_TIMEOUT_MS = 60_000;

const MISSING_HINT =
  'install driverctl (`apt-get install driverctl` on Debian/Ubuntu, `dnf install driverctl` on RHEL/Fedora), or point ' +
  'PASSTHRU_DRIVERCTL at the driverctl executable';

/** Creates the {@link Driverctl} that runs the real executable. */
export function createDriverctl(options: CreateDriverctlOptions = {}): Driverctl {
  const binary = options.binary ?? 'driverctl';
  const env = { LC_ALL: 'C', ...(options.searchPath !== undefined ? { PATH: options.searchPath } : {}) };
  const debug = options.debug ?? (() => {});
  return {
    async run(args, callOptions) {
      const command = [binary, ...args];
      debug(`$ ${command.join(' ')}`);
      const { result: r, timedOut } = await withTimeout(
        execa(binary, args, { stdin: 'ignore', env, reject: false, stripFinalNewline: false, detached: true, maxBuffer: DRIVERCTL_OUTPUT_BYTES }),
        callOptions?.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      if (r.failed && r.exitCode === undefined && r.signal === undefined && !timedOut) {
        const why = r.code === 'ENOENT' ? `"${binary}" was not found` : `"${binary}": ${r.code ?? r.message}`;
        throw new HostError(`cannot run driverctl: ${why}`, { hint: MISSING_HINT });
      }
      if (r.isMaxBuffer) throw new HostError(`driverctl ${args.join(' ')} printed more than ${DRIVERCTL_OUTPUT_BYTES} bytes; it is not driverctl`, { hint: MISSING_HINT });
      debug(`  exit ${r.exitCode ?? r.signal ?? '?'} in ${Math.round(r.durationMs)} ms${timedOut ? ' (timed out)' : ''}`);
      return { exitCode: r.exitCode ?? -1, signal: r.signal ?? null, stdout: r.stdout, stderr: r.stderr, timedOut, command, durationMs: r.durationMs };
    },
  };
}
