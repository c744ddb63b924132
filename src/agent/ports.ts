/**
 * What the agent's loop needs from the world, as small interfaces. The loop (`loop.ts`) knows only these; the CLI
 * wires them to the real source, observation, apply, files, timers and signals (`cli/agent-ports.ts`), and tests to
 * whatever they need. Each port is the smallest verb the loop uses, so that a re-wiring touches one adapter.
 */
import type { DesiredState } from '../model/desired.js';
import type { HostPlan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import type { AgentStatus, StatusProblem } from './status.js';
import type { ApplyOutcome, HostCounters, LogLevel } from './decide.js';

/** What reading the source gave, before the desired state is loaded from it. */
export type SourceFetch =
  /** The text of the desired state at `revision`; `file` names it in positioned errors. */
  | { kind: 'content'; revision: string; text: string; file: string }
  | { kind: 'invalid'; revision: string | null; problems: StatusProblem[] }
  | { kind: 'unreachable'; problems: StatusProblem[] };

/** Where the desired state comes from: a file or a git repository. */
export interface DesiredSource {
  /** Reads the current revision (for git: fetches first). Never rejects for a problem of the source itself. */
  fetch(): Promise<SourceFetch>;
  /** Calls `onChange` when the source may have changed (a file written); returns the unsubscribe. */
  watch?(onChange: () => void): () => void;
}

/** One host observed, or why it could not be (as the CLI's observeHosts gives it, keyed by host name). */
export type HostObservation = { host: string; snapshot: HostSnapshot } | { host: string; error: Error };

/** Observes hosts of a desired state, independently: one failing host does not hide the others. */
export interface HostObserver {
  observe(desired: DesiredState, hosts: readonly string[]): Promise<HostObservation[]>;
}

/** Applies one host's plan exactly like `passthru apply --yes`: the same lock, journal, verification, rollback. */
export interface HostApplier {
  applyHostPlan(desired: DesiredState, plan: HostPlan): Promise<ApplyOutcome>;
}

/** Writes status.json and passthru.prom (atomically, each). */
export interface StatusSink {
  write(status: AgentStatus, counters: readonly HostCounters[]): Promise<void>;
}

/** Follows libvirt's domain events of hosts. */
export interface DomainEvents {
  /** Follows exactly these hosts from now on (starting and stopping streams as needed). */
  follow(hosts: readonly { name: string; uri: string }[]): void;
  /** Stops every stream. */
  close(): Promise<void>;
}

/** Creates the domain-event streams; `onEvent` is called with the host's name on each relevant event. */
export type DomainEventsFactory = (onEvent: (host: string) => void) => DomainEvents;

/** Time for the loop: the clock, and one wake-up at a time. */
export interface Timers {
  now(): number;
  /** Calls `fn` at `at` (epoch ms); returns the cancel. */
  at(at: number, fn: () => void): () => void;
}

/** The signals the agent handles (SPEC 9). */
export type AgentSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT';

/** Delivers process signals; returns the unsubscribe. */
export interface Signals {
  on(handler: (signal: AgentSignal) => void): () => void;
}

/** Writes one log event (stderr in the CLI). */
export type Logger = (level: LogLevel, message: string, fields: Record<string, string | number | null>) => void;
