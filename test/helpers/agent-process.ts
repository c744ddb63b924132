/**
 * `passthru agent` as a real child process, for end-to-end tests: the built CLI (cli-bundle.ts) started with
 * node, its stderr log collected line by line, its status.json read as the agent wrote it, signals sent for real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentStatus } from '../../src/agent/status.js';

/** A running (or finished) agent. */
export interface AgentProcess {
  proc: ChildProcess;
  /** stderr so far, one entry per line, without the time stamp a text log line starts with off journald. */
  lines: string[];
  /** stderr so far, as written. */
  raw: string[];
  /** Resolves with the exit code (or the signal's name) once the process ends. */
  exited: Promise<number | string>;
  /** status.json as it is now, or null while there is none. */
  status(): Promise<AgentStatus | null>;
  /** Polls status.json until `ok` holds; fails with the log after `ms`. */
  waitForStatus(what: string, ok: (s: AgentStatus) => boolean, ms?: number): Promise<AgentStatus>;
  /** Waits for a log line matching `pattern`. */
  waitForLine(pattern: RegExp, ms?: number): Promise<string>;
  /**
   * Test cleanup: SIGTERM if it still runs, so that it closes its event streams (their own process groups, which a
   * SIGKILL would orphan); SIGKILL after 10 s.
   */
  kill(): Promise<void>;
}

/** Starts `passthru ARGS` (ARGS starting with `agent`) with `env` added to a minimal environment. */
export function startAgent(launcher: string, args: string[], stateDir: string, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const proc = spawn(process.execPath, [launcher, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, LC_ALL: 'C', ...env },
  });
  const lines: string[] = [];
  const raw: string[] = [];
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    raw.push(l);
    lines.push(l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, ''));
  });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const status = async () => {
    const text = await readFile(path.join(stateDir, 'status.json'), 'utf8').catch(() => null);
    return text === null ? null : (JSON.parse(text) as AgentStatus);
  };
  const until = async <T>(what: string, probe: () => Promise<T | null>, ms: number): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = await probe();
      if (found !== null) return found;
      if (Date.now() > deadline || proc.exitCode !== null) {
        throw new Error(`agent: ${what} did not happen within ${ms} ms (exit ${proc.exitCode}); its log:\n${lines.join('\n')}`);
      }
      await sleep(50);
    }
  };
  return {
    proc,
    lines,
    raw,
    exited,
    status,
    waitForStatus: (what, ok, ms = 20_000) =>
      until(what, async () => {
        const s = await status();
        return s && ok(s) ? s : null;
      }, ms),
    waitForLine: (pattern, ms = 20_000) => until(`a log line ${pattern}`, async () => lines.find((l) => pattern.test(l)) ?? null, ms),
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
