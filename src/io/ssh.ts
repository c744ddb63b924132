/**
 * The one door to a remote host's shell: ONE `ssh` process per call (SPEC 12), argv only (never a local shell), the
 * script on stdin (`sh -s`, so that nothing of it is quoted into the remote command line), `BatchMode=yes` (a
 * prompt for a password or an unknown host key fails instead of hanging), a connect timeout, a timeout on the whole
 * call (the process group is killed, as virsh's is) and a bound on what it may print.
 */
import { execa } from 'execa';
import { HostError } from '../errors.js';
import type { SshTarget } from '../desired/ssh-target.js';
import { withTimeout } from './execa-virsh.js';

/** Runs a script on a host. */
export interface Ssh {
  /** The script's stdout. Rejects with a HostError naming ssh's own message when ssh or the script fails. */
  run(target: SshTarget, script: string): Promise<string>;
}

/** How {@link createSsh} runs ssh. */
export interface CreateSshOptions {
  /** The ssh binary. Default: `$PASSTHRU_SSH`, else `ssh` on PATH. */
  binary?: string;
  /** The whole call. Default 60 s. */
  timeoutMs?: number;
  /** ssh's `ConnectTimeout`, in seconds. Default 10. */
  connectTimeoutSeconds?: number;
  /** The most the script may print. Default 16 MiB (a big host's tables print well under 1 MiB). */
  maxBytes?: number;
  /** Receives one line per process (`--debug`). */
  debug?: (line: string) => void;
}

const HINT =
  'check that `ssh` reaches the host without a prompt as the URI\'s user (key in ?keyfile= or the ssh agent, host key ' +
  'in known_hosts); until it does, passthru takes no NIC or disk controller of that host without force: true';

/** The argv of `ssh` for `target` (without the binary): options, `--`, the host, and the remote `sh -s`. */
export function sshArgv(target: SshTarget, connectTimeoutSeconds: number): string[] {
  return [
    '-T',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${connectTimeoutSeconds}`,
    ...(target.user === null ? [] : ['-l', target.user]),
    ...(target.port === null ? [] : ['-p', String(target.port)]),
    ...(target.keyfile === null ? [] : ['-i', target.keyfile]),
    '--',
    target.host,
    'sh -s',
  ];
}

/** What ssh said last on stderr: its own error (`ssh: connect to host ... Connection refused`), bounded. */
function lastWords(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines.slice(-2).join('; ');
  return last.length > 300 ? `${last.slice(0, 300)}...` : last;
}

/** Creates the {@link Ssh} that runs the real binary. */
export function createSsh(options: CreateSshOptions = {}): Ssh {
  const binary = options.binary ?? process.env.PASSTHRU_SSH ?? 'ssh';
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const argvOf = (t: SshTarget) => sshArgv(t, options.connectTimeoutSeconds ?? 10);
  return {
    async run(target, script) {
      const argv = argvOf(target);
      options.debug?.(`$ ${binary} ${argv.join(' ')} <script>`);
      const { result: r, timedOut } = await withTimeout(
        execa(binary, argv, { input: script, env: { LC_ALL: 'C' }, reject: false, stripFinalNewline: false, detached: true, maxBuffer: maxBytes }),
        timeoutMs,
      );
      const where = `ssh to ${target.user === null ? '' : `${target.user}@`}${target.host}${target.port === null ? '' : ` port ${target.port}`}`;
      if (r.failed && r.exitCode === undefined && r.signal === undefined) {
        throw new HostError(`${where} could not run "${binary}": ${r.code ?? r.message}`, { hint: 'install openssh-client, or point PASSTHRU_SSH at ssh' });
      }
      if (r.isMaxBuffer) throw new HostError(`${where} printed more than ${maxBytes} bytes; not read`, { hint: HINT });
      if (timedOut) throw new HostError(`${where} timed out after ${timeoutMs} ms`, { hint: HINT });
      if (r.exitCode !== 0) {
        const how = r.signal ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`;
        throw new HostError(`${where} failed (${how}): ${lastWords(r.stderr) || 'no message'}`, { hint: HINT });
      }
      return r.stdout;
    },
  };
}
