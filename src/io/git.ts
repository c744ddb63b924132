/**
 * The system `git`, for the agent's git source (SPEC 9). Always an argv through execa (never a shell), `LC_ALL=C`
 * (the messages classified by the source are the untranslated ones), no terminal prompt (an agent has no one to
 * ask for a password: a missing credential must fail, not hang), and a timeout that kills git's whole process
 * group — over ssh, a hung ssh child would otherwise keep git's pipes open past the kill.
 */
import { execa } from 'execa';
import { HostError } from '../errors.js';
import { withTimeout } from './execa-virsh.js';

/** What one git command gave. */
export interface GitResult {
  /** -1 when git was killed (timeout). */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs git commands. */
export interface Git {
  /** Runs `git ARGS` in `cwd`. Never rejects for a non-zero exit; rejects with a HostError when git cannot run. */
  run(args: readonly string[], options?: { cwd?: string; timeoutMs?: number }): Promise<GitResult>;
}

/** How `createGit` runs git. */
export interface CreateGitOptions {
  /** Default `git` on PATH. */
  binary?: string;
  /** Added to the environment (tests isolate HOME and the git config with it). */
  env?: NodeJS.ProcessEnv;
  /** Default timeout of one command: a fetch over a slow link. */
  timeoutMs?: number;
  /** Receives one line per command (`--debug`). */
  debug?: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** The real git. */
export function createGit(options: CreateGitOptions = {}): Git {
  const binary = options.binary ?? 'git';
  const env = { ...options.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  return {
    async run(args, o = {}) {
      options.debug?.(`$ ${binary} ${args.join(' ')}`);
      const { result: r, timedOut } = await withTimeout(
        execa(binary, [...args], { cwd: o.cwd, env, stdin: 'ignore', reject: false, stripFinalNewline: false, detached: true }),
        o.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      if (r.failed && r.exitCode === undefined && r.signal === undefined) {
        throw new HostError(`cannot run git ("${binary}"): ${r.code === 'ENOENT' ? 'not found' : (r.code ?? r.message)}`, {
          hint: 'a git source needs git: apt-get install git (Debian/Ubuntu), dnf install git (RHEL/Fedora)',
        });
      }
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, timedOut };
    },
  };
}
