/**
 * The flags of `passthru agent` and `passthru status` (SPEC 9), parsed purely from what `parseArgs` found. Kept
 * apart from args.ts so that the agent's options are one field of the invocation.
 */
import { UsageError } from '../errors.js';
import type { LogFormat } from '../render/log-line.js';

/** SPEC 9's default state directory (status.json, passthru.prom, the git source's cache). */
export const DEFAULT_AGENT_STATE_DIR = '/var/lib/passthru';

/** What an agent waits for another apply's lock before recording `failed` (a manual apply may take minutes). */
export const DEFAULT_AGENT_LOCK_TIMEOUT = '5m';

/** Options of `passthru agent` (and `--state-dir` of `passthru status`). */
export interface AgentOptions {
  /** `--source SRC`; null = `-f FILE` or the default file. */
  source: string | null;
  mode: 'check' | 'apply';
  /** `--interval DUR`, as given. */
  interval: string;
  stateDir: string;
  once: boolean;
  verifySignatures: boolean;
  logFormat: LogFormat;
  /** `--lock-timeout DUR` for the agent's applies, as given. */
  lockTimeout: string;
}

/** The parsed values this file reads. */
export interface AgentFlagValues {
  source?: string;
  mode?: string;
  interval?: string;
  'state-dir'?: string;
  once?: boolean;
  'verify-signatures'?: boolean;
  'log-format'?: string;
  'lock-timeout'?: string;
  file?: string;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`unknown --${flag} "${value}"`, { hint: `use one of: ${allowed.join(', ')}` });
}

/** The agent's options; throws a UsageError for a bad value or a contradiction. */
export function agentOptions(v: AgentFlagValues): AgentOptions {
  if (v.source !== undefined && v.file !== undefined) {
    throw new UsageError('give the desired state once: --source SRC or -f FILE, not both', { hint: '--source takes a file too: --source ./passthrough.yaml' });
  }
  if (v['verify-signatures'] && !(v.source ?? '').startsWith('git+')) {
    throw new UsageError('--verify-signatures needs a git source (--source git+URL#REF:PATH)', { hint: 'a local file has no signature to check' });
  }
  return {
    source: v.source ?? null,
    mode: oneOf('mode', v.mode, ['check', 'apply'], 'check'),
    interval: v.interval ?? '60s',
    stateDir: v['state-dir'] ?? DEFAULT_AGENT_STATE_DIR,
    once: v.once ?? false,
    verifySignatures: v['verify-signatures'] ?? false,
    logFormat: oneOf('log-format', v['log-format'], ['text', 'json'], 'text'),
    lockTimeout: v['lock-timeout'] ?? DEFAULT_AGENT_LOCK_TIMEOUT,
  };
}
