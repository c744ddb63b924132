/**
 * `status.json` (SPEC 9): what the agent last found on each host, written after every reconcile and read by
 * `passthru status`, dashboards and scripts. Its field names and state names are a public contract; fields may be
 * added, none may change meaning without a new `format_version`.
 */
import { ExitCode, InputError } from '../errors.js';
import type { Problem, ProblemCode } from '../model/plan.js';

export const STATUS_FORMAT_VERSION = '1';

/** The files the agent writes in its state dir (SPEC 9). */
export const STATUS_FILE = 'status.json';
export const METRICS_FILE = 'passthru.prom';

/** The states of a host, exactly SPEC 9's names. */
export const HOST_STATES = ['in-sync', 'applied', 'drifted', 'blocked', 'invalid', 'failed', 'unreachable'] as const;
/** Where a host stands after its last reconcile. */
export type HostState = (typeof HOST_STATES)[number];

/** Problem codes the agent adds to the planner's (SPEC 3) for what goes wrong around a plan. */
export type AgentProblemCode =
  /** The source file does not exist or cannot be read. */
  | 'source-missing'
  /** The desired state does not load (YAML, schema, semantics): the message is the positioned error. */
  | 'source-invalid'
  /** The git remote did not answer (network, ssh, a repository that is not there). */
  | 'source-unreachable'
  /** The remote answered that REF does not exist. */
  | 'ref-not-found'
  /** The fetched commit has no file at PATH. */
  | 'path-not-in-commit'
  /** `--verify-signatures`: `git verify-commit` did not accept the commit. */
  | 'signature-rejected'
  /** SIGTERM/SIGINT stopped the agent's apply: no new step started, what was done was rolled back (SPEC 9). */
  | 'interrupted'
  /** The host could not be observed (libvirt down, ssh refused, virsh missing). */
  | 'host-unreachable'
  /** An apply failed and was rolled back. */
  | 'apply-failed'
  /** An apply failed and rollback could not restore the host (`passthru apply` exit 3). */
  | 'rollback-incomplete'
  /** Another apply kept the host's lock past `--lock-timeout`. */
  | 'lock-timeout';

/** A problem as status.json lists it: a plan problem, or one of the agent's own. */
export interface StatusProblem extends Omit<Problem, 'code'> {
  code: ProblemCode | AgentProblemCode;
}

/** One host in status.json. Times are ISO 8601 (UTC); null = never / not scheduled. */
export interface HostStatus {
  name: string;
  state: HostState;
  /** When the host entered `state`. */
  since: string;
  /** When the host was last reconciled (observed and planned, or found unreadable). */
  lastReconcile: string | null;
  /** When an apply to this host last ended (applied or failed). */
  lastApply: string | null;
  /** The source revision the state refers to: a commit id, `sha256:<hex>` of a file, or null when none was read. */
  revision: string | null;
  /** Actions of the plan: pending when drifted or blocked, carried out when applied; 0 otherwise. */
  changes: number;
  /** Every problem found: the plan's (blocks and warnings), or why the source, the host or the apply failed. */
  problems: StatusProblem[];
  /** Failed reconciles in a row (apply failed, host or source unreachable); reset by a success or a new revision. */
  consecutiveFailures: number;
  /** When the agent next tries this host: a backoff retry after a failure, else its next interval; null with --once. */
  nextAttempt: string | null;
}

/** The whole status.json. */
export interface AgentStatus {
  format_version: typeof STATUS_FORMAT_VERSION;
  agent: { pid: number; mode: 'check' | 'apply'; started: string };
  /** `location` as given (passwords in URLs hidden); `revision` of the last read, null when none could be read. */
  source: { location: string; revision: string | null };
  hosts: HostStatus[];
}

/**
 * SPEC 9's exit code for a status (`passthru status`, `passthru agent --once`): 0 when every host is in-sync or
 * applied, 2 when any is drifted and none is worse, 1 for any other state — and for no host at all, since nothing
 * is then known to be converged.
 */
export function statusExitCode(hosts: readonly Pick<HostStatus, 'state'>[]): ExitCode {
  if (hosts.length === 0) return ExitCode.error;
  if (hosts.some((h) => h.state !== 'in-sync' && h.state !== 'applied' && h.state !== 'drifted')) return ExitCode.error;
  return hosts.some((h) => h.state === 'drifted') ? ExitCode.changes : ExitCode.ok;
}

/**
 * Reads a status.json. Only what `passthru status` relies on is checked — the version and the hosts' states — so
 * that a newer agent's additive fields pass through.
 */
export function parseStatusFile(text: string, file: string): AgentStatus {
  const fail = (message: string): never => {
    throw new InputError([{ file, line: 1, col: 1, message, hint: 'it is written by passthru agent; run the agent (or passthru agent --once) to write it anew' }]);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
  const status = value as Partial<AgentStatus> | null;
  if (status === null || typeof status !== 'object' || status.format_version !== STATUS_FORMAT_VERSION) {
    return fail(`not a passthru status (format_version "${STATUS_FORMAT_VERSION}" expected)`);
  }
  if (!Array.isArray(status.hosts) || !status.hosts.every((h) => (HOST_STATES as readonly string[]).includes((h as Partial<HostStatus>)?.state ?? ''))) {
    return fail('its hosts are missing or have an unknown state');
  }
  return status as AgentStatus;
}
