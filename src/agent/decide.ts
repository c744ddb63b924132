/**
 * The agent's brain (SPEC 9), as one pure function: `decide(state, event)` → the next state and the actions to
 * take. Everything that happens to the agent is an event — a timer, a signal, a domain event, the result of a step
 * it asked for — and everything it does is an action the thin loop (`loop.ts`) carries out, feeding each result back
 * as the next event. So every rule — when to reconcile, what to retry and when, what to record, when to exit — is
 * decided here and tested as a table, without timers, processes or files.
 *
 * One reconcile is a cycle of three steps, each an action whose result comes back as an event:
 * `read-source` → `observe` (the hosts that are due, observed and planned) → `apply` (apply mode, hosts with changes)
 * → `record` (status.json and metrics). Only one cycle runs at a time; a trigger during a cycle runs another
 * right after it (SIGHUP), or waits for its debounce or interval as usual.
 */
import { DEFAULT_HOST } from '../desired/normalise.js';
import { formatDuration } from '../model/duration.js';
import type { DesiredState } from '../model/desired.js';
import type { HostPlan } from '../model/plan.js';
import { driftProblems, hostDrifted } from '../plan/not-back.js';
import { describeAction } from '../render/action.js';
import { backoffDelay, drawRandom, type BackoffPolicy } from './backoff.js';
import { STATUS_FORMAT_VERSION, statusExitCode, type AgentStatus, type HostState, type StatusProblem } from './status.js';

/** check: record drift only (the default); apply: converge like `passthru apply --yes`. */
export type AgentMode = 'check' | 'apply';

/** The agent's settings, fixed for its lifetime. */
export interface AgentConfig {
  mode: AgentMode;
  /** `--once`: one reconcile, then exit with `check`'s codes. */
  once: boolean;
  /** `--interval`: time from the end of one reconcile to the next. */
  intervalMs: number;
  /** Quiet time after a domain event or a source change before reconciling (events come in bursts). */
  debounceMs: number;
  /** A burst of events delays the reconcile at most this long after its first event. */
  debounceMaxMs: number;
  backoff: BackoffPolicy;
  /** For status.json's `agent.pid`. */
  pid: number;
  /** For status.json's `source.location` (passwords hidden). */
  location: string;
}

/** Why a reconcile started (logged). */
export type Trigger = 'start' | 'interval' | 'retry' | 'source-change' | 'domain-event' | 'SIGHUP' | 'stale-plan';

/** `passthru_applies_total{result}`: how applies ended. */
export type ApplyResult = 'applied' | 'failed' | 'rollback-failed';
export const APPLY_RESULTS: readonly ApplyResult[] = ['applied', 'failed', 'rollback-failed'];

/** What the agent remembers about one host. Times are epoch milliseconds. */
export interface HostRecord {
  name: string;
  state: HostState;
  since: number;
  lastReconcile: number | null;
  lastApply: number | null;
  /** Last reconcile that found the host as desired (in-sync) or made it so (applied). */
  lastSuccess: number | null;
  revision: string | null;
  /** Fingerprint of the snapshot the state was decided on; null when the host was not observed. */
  fingerprint: string | null;
  changes: number;
  problems: StatusProblem[];
  consecutiveFailures: number;
  /** Backoff: not tried again before this, unless a new revision or SIGHUP comes. */
  retryAt: number | null;
  /** A domain event came for this host since it was last observed: a blocked verdict is to be looked at again. */
  touched: boolean;
  applies: Record<ApplyResult, number>;
}

/** A reconcile requested while one runs, or soon (debounced). */
interface Request {
  trigger: Trigger;
  /** Ignore backoff and the no-retry of blocked/invalid revisions (SIGHUP: the operator asks). */
  force: boolean;
}

/** The agent's whole state. Plain data: `decide` never mutates it, and tests build it from literals. */
export interface AgentState {
  config: AgentConfig;
  startedAt: number;
  /** idle: waiting for a trigger; reading/observing/applying: the step of the cycle in flight; exited: done. */
  phase: 'idle' | 'reading' | 'observing' | 'applying' | 'exited';
  /** The cycle in flight. */
  cycle: (Request & { plans: HostPlan[] }) | null;
  /** A reconcile to run as soon as the current cycle ends (SIGHUP or a stale plan during a cycle). */
  pending: Request | null;
  /** A debounced reconcile: runs at `dueAt`. */
  soon: { firstAt: number; dueAt: number; trigger: Trigger } | null;
  /** SIGTERM/SIGINT seen: finish the step in flight, start no other, exit 0. */
  stopping: boolean;
  /** Revision of the last source read, whatever its outcome; null before the first read or when none could be read. */
  revision: string | null;
  /** How the last source read ended. */
  sourceState: 'none' | 'loaded' | 'invalid' | 'unreachable';
  /** The desired state of the last revision that loaded. */
  desired: DesiredState | null;
  hosts: HostRecord[];
  /** The hosts whose domain events are being followed, as `name uri` pairs. */
  watched: string[];
  nextTickAt: number | null;
  /** The wake-up the loop has been told to set (null: none). */
  wakeAt: number | null;
  /** Seed of the jitter generator. */
  rng: number;
}

/** How reading the source ended. */
export type SourceOutcome =
  | { kind: 'loaded'; revision: string; desired: DesiredState }
  /** The source answered but gives no usable desired state (missing file, ref or path, bad YAML, bad signature). */
  | { kind: 'invalid'; revision: string | null; problems: StatusProblem[] }
  /** The source did not answer (a git remote down): retried with backoff. */
  | { kind: 'unreachable'; problems: StatusProblem[] };

/** One host observed and planned, or not observable. */
export type HostEvaluation = { host: string; kind: 'planned'; plan: HostPlan } | { host: string; kind: 'unreachable'; problems: StatusProblem[] };

/** How one host's apply ended. */
export type ApplyOutcome =
  | { host: string; kind: 'applied'; steps: number }
  | { host: string; kind: 'failed'; restored: boolean; problems: StatusProblem[] }
  /** The host moved while the apply waited for its lock (another apply ran): nothing ran; plan again. */
  | { host: string; kind: 'stale'; changes: string[] };

/** Something that happened. `now` is epoch milliseconds. */
export type AgentEvent =
  | { type: 'start'; now: number }
  | { type: 'timer'; now: number }
  | { type: 'source-poke'; now: number }
  | { type: 'domain-event'; now: number; host: string }
  | { type: 'signal'; now: number; signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT' }
  | { type: 'source-read'; now: number; outcome: SourceOutcome }
  | { type: 'observed'; now: number; results: HostEvaluation[] }
  | { type: 'applied'; now: number; results: ApplyOutcome[] };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `passthru_last_success_timestamp_seconds` and `passthru_applies_total`: metrics that status.json does not carry. */
export interface HostCounters {
  host: string;
  lastSuccess: string | null;
  applies: Record<ApplyResult, number>;
}

/** Something to do. */
export type AgentAction =
  | { type: 'read-source' }
  | { type: 'observe'; desired: DesiredState; hosts: string[] }
  | { type: 'apply'; desired: DesiredState; plans: HostPlan[] }
  | { type: 'record'; status: AgentStatus; counters: HostCounters[] }
  /** Wake the agent (a `timer` event) at `at`; null cancels. Replaces any earlier wake-up. */
  | { type: 'schedule'; at: number | null }
  /** Follow the domain events of exactly these hosts. */
  | { type: 'watch'; hosts: { name: string; uri: string }[] }
  | { type: 'log'; level: LogLevel; message: string; fields: Record<string, string | number | null> }
  | { type: 'exit'; code: number };

/** The next state and what to do, in order. */
export interface Decision {
  state: AgentState;
  actions: AgentAction[];
}

/** The state of an agent that has not started yet. `seed` seeds the retry jitter. */
export function initialState(config: AgentConfig, startedAt: number, seed: number): AgentState {
  return {
    config,
    startedAt,
    phase: 'idle',
    cycle: null,
    pending: null,
    soon: null,
    stopping: false,
    revision: null,
    sourceState: 'none',
    desired: null,
    hosts: [],
    watched: [],
    nextTickAt: null,
    wakeAt: null,
    rng: seed >>> 0,
  };
}

/** Decides what `event` means for an agent in `state`. Pure. */
export function decide(state: AgentState, event: AgentEvent): Decision {
  if (state.phase === 'exited') return { state, actions: [] };
  const s: AgentState = { ...state, hosts: state.hosts.map((h) => ({ ...h, applies: { ...h.applies } })) };
  const out: AgentAction[] = [];
  const now = event.now;
  switch (event.type) {
    case 'start':
      beginCycle(s, out, { trigger: 'start', force: true }, now);
      break;
    case 'timer':
      onTimer(s, out, now);
      break;
    case 'source-poke':
      debounce(s, 'source-change', now);
      break;
    case 'domain-event': {
      const host = s.hosts.find((h) => h.name === event.host);
      if (host) host.touched = true;
      log(out, 'debug', `${event.host}: domain event; reconciling once events settle`, { host: event.host });
      debounce(s, 'domain-event', now);
      break;
    }
    case 'signal':
      onSignal(s, out, event.signal, now);
      break;
    case 'source-read':
      if (s.phase === 'reading') onSourceRead(s, out, event.outcome, now);
      break;
    case 'observed':
      if (s.phase === 'observing') onObserved(s, out, event.results, now);
      break;
    case 'applied':
      if (s.phase === 'applying') onApplied(s, out, event.results, now);
      break;
  }
  return { state: s, actions: withWake(s, out) };
}

/** Appends the wake-up the loop needs when it differs from the one it has. */
function withWake(s: AgentState, out: AgentAction[]): AgentAction[] {
  const at = s.phase === 'idle' ? earliest([s.nextTickAt, s.soon?.dueAt ?? null, ...s.hosts.map((h) => h.retryAt)]) : null;
  if (at !== s.wakeAt) {
    s.wakeAt = at;
    out.push({ type: 'schedule', at });
  }
  return out;
}

function earliest(times: (number | null)[]): number | null {
  const set = times.filter((t): t is number => t !== null);
  return set.length === 0 ? null : Math.min(...set);
}

function log(out: AgentAction[], level: LogLevel, message: string, fields: Record<string, string | number | null> = {}): void {
  out.push({ type: 'log', level, message, fields });
}

function debounce(s: AgentState, trigger: Trigger, now: number): void {
  if (s.config.once) return;
  const firstAt = s.soon?.firstAt ?? now;
  s.soon = { firstAt, dueAt: Math.min(now + s.config.debounceMs, firstAt + s.config.debounceMaxMs), trigger: s.soon?.trigger ?? trigger };
}

function onTimer(s: AgentState, out: AgentAction[], now: number): void {
  if (s.phase !== 'idle') return;
  if (s.soon && s.soon.dueAt <= now) {
    beginCycle(s, out, { trigger: s.soon.trigger, force: false }, now);
  } else if (s.hosts.some((h) => h.retryAt !== null && h.retryAt <= now)) {
    beginCycle(s, out, { trigger: 'retry', force: false }, now);
  } else if (s.nextTickAt !== null && s.nextTickAt <= now) {
    // While the source is unreachable every host waits for its retry: reading it on each interval as well would
    // defeat the backoff.
    if (s.sourceState === 'unreachable') s.nextTickAt = now + s.config.intervalMs;
    else beginCycle(s, out, { trigger: 'interval', force: false }, now);
  }
}

function onSignal(s: AgentState, out: AgentAction[], signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', now: number): void {
  if (signal === 'SIGHUP') {
    if (s.phase === 'idle') {
      log(out, 'info', 'SIGHUP: reconciling now');
      beginCycle(s, out, { trigger: 'SIGHUP', force: true }, now);
    } else {
      log(out, 'info', 'SIGHUP: reconciling again once the current reconcile ends');
      s.pending = { trigger: 'SIGHUP', force: true };
    }
    return;
  }
  if (s.phase === 'idle') {
    log(out, 'info', `${signal}: stopping`);
    exit(s, out, 0);
    return;
  }
  const inFlight = s.phase === 'applying' ? 'the apply in flight ends: its step in flight finishes, then what it did is rolled back' : `the ${s.phase === 'reading' ? 'source read' : 'observation'} in flight ends`;
  log(out, 'info', `${signal}: stopping once ${inFlight}; nothing new starts`);
  s.stopping = true;
  s.pending = null;
}

function exit(s: AgentState, out: AgentAction[], code: number): void {
  s.phase = 'exited';
  s.soon = null;
  s.nextTickAt = null;
  out.push({ type: 'exit', code });
}

function beginCycle(s: AgentState, out: AgentAction[], request: Request, now: number): void {
  s.phase = 'reading';
  s.cycle = { ...request, plans: [] };
  s.soon = null;
  s.nextTickAt = null;
  log(out, 'debug', `reconcile (${request.trigger})`, { trigger: request.trigger, at: new Date(now).toISOString() });
  out.push({ type: 'read-source' });
}

function endCycle(s: AgentState, out: AgentAction[], now: number): void {
  s.phase = 'idle';
  s.cycle = null;
  if (!s.config.once) s.nextTickAt = now + s.config.intervalMs;
  out.push({ type: 'record', status: statusOf(s), counters: s.hosts.map(countersOf) });
  if (s.stopping) {
    log(out, 'info', 'stopped');
    exit(s, out, 0);
  } else if (s.config.once) {
    exit(s, out, statusExitCode(s.hosts));
  } else if (s.pending) {
    const next = s.pending;
    s.pending = null;
    beginCycle(s, out, next, now);
  }
}

/** A record for `name`, created (as `state`) when the host is new. */
function recordOf(s: AgentState, name: string, state: HostState, now: number): HostRecord {
  let rec = s.hosts.find((h) => h.name === name);
  if (!rec) {
    rec = {
      name,
      state,
      since: now,
      lastReconcile: null,
      lastApply: null,
      lastSuccess: null,
      revision: null,
      fingerprint: null,
      changes: 0,
      problems: [],
      consecutiveFailures: 0,
      retryAt: null,
      touched: false,
      applies: { applied: 0, failed: 0, 'rollback-failed': 0 },
    };
    s.hosts.push(rec);
  }
  return rec;
}

/** Sets a host's verdict; `since` moves only when the state changes. Returns whether it changed. */
function setState(rec: HostRecord, state: HostState, now: number, fields: Partial<HostRecord>): boolean {
  const changed = rec.state !== state || rec.lastReconcile === null;
  const news = changed || rec.changes !== (fields.changes ?? rec.changes) || JSON.stringify(rec.problems) !== JSON.stringify(fields.problems ?? rec.problems);
  if (changed) rec.since = now;
  Object.assign(rec, { lastReconcile: now, ...fields, state });
  return news;
}

/** A success: the host could be looked at (whatever it showed). Resets the backoff. */
function succeeded(rec: HostRecord): void {
  rec.consecutiveFailures = 0;
  rec.retryAt = null;
}

/** A failure: one more in a row, and the next try after the backoff. */
function failed(s: AgentState, rec: HostRecord, now: number): string {
  rec.consecutiveFailures += 1;
  if (s.config.once) return '';
  const draw = drawRandom(s.rng);
  s.rng = draw.seed;
  const delay = backoffDelay(rec.consecutiveFailures, draw.value, s.config.backoff);
  rec.retryAt = now + delay;
  return `; retry in ${formatDuration(delay)} (failure ${rec.consecutiveFailures} in a row)`;
}

/** `3f2a9c1b04de` for a commit, `sha256:3f2a9c1b04de` for a file: enough to tell revisions apart in a log line. */
export function shortRevision(revision: string | null): string {
  if (revision === null) return 'none';
  const m = /^(sha256:)?([0-9a-f]{12})[0-9a-f]+$/.exec(revision);
  return m ? `${m[1] ?? ''}${m[2]}` : revision;
}

function firstMessage(problems: readonly StatusProblem[]): string {
  const blocks = problems.filter((p) => p.severity === 'block');
  const first = blocks[0] ?? problems[0];
  if (!first) return '';
  return `${first.message}${blocks.length > 1 ? ` (and ${blocks.length - 1} more)` : ''}`;
}

function onSourceRead(s: AgentState, out: AgentAction[], outcome: SourceOutcome, now: number): void {
  const cycle = s.cycle as Request;
  if (s.stopping) {
    endCycle(s, out, now);
    return;
  }
  if (outcome.kind === 'unreachable') {
    s.sourceState = 'unreachable';
    for (const name of knownHosts(s)) {
      const rec = recordOf(s, name, 'unreachable', now);
      setState(rec, 'unreachable', now, { problems: outcome.problems, changes: 0, fingerprint: null });
      const retry = failed(s, rec, now);
      log(out, 'warn', `${name}: source unreachable: ${firstMessage(outcome.problems)}${retry}`, { host: name, state: 'unreachable' });
    }
    endCycle(s, out, now);
    return;
  }
  const newRevision = outcome.revision !== s.revision || s.sourceState === 'none';
  const wasInvalid = s.sourceState === 'invalid';
  // The hosts' last failure was the source's: now that it answers, every host is due, whatever its backoff says.
  const recovered = s.sourceState === 'unreachable';
  s.revision = outcome.revision;
  if (outcome.kind === 'invalid') {
    s.sourceState = 'invalid';
    if (!newRevision && wasInvalid && !cycle.force) {
      log(out, 'debug', `source still invalid at revision ${shortRevision(outcome.revision)}; not retried until it changes`);
    } else {
      for (const name of knownHosts(s)) {
        const rec = recordOf(s, name, 'invalid', now);
        succeeded(rec);
        setState(rec, 'invalid', now, { problems: outcome.problems, changes: 0, revision: outcome.revision, fingerprint: null });
      }
      log(out, 'error', `source invalid at revision ${shortRevision(outcome.revision)}: ${firstMessage(outcome.problems)}; nothing changed, not retried until the source changes`, {
        state: 'invalid',
        revision: outcome.revision,
      });
    }
    endCycle(s, out, now);
    return;
  }
  s.sourceState = 'loaded';
  s.desired = outcome.desired;
  const names = outcome.desired.hosts.map((h) => h.name);
  s.hosts = s.hosts.filter((h) => names.includes(h.name));
  const watched = outcome.desired.hosts.map((h) => `${h.name} ${h.uri}`);
  if (!s.config.once && JSON.stringify(watched) !== JSON.stringify(s.watched)) {
    s.watched = watched;
    out.push({ type: 'watch', hosts: outcome.desired.hosts.map((h) => ({ name: h.name, uri: h.uri })) });
  }
  if (newRevision) {
    log(out, 'info', `source at revision ${shortRevision(outcome.revision)}`, { revision: outcome.revision });
    for (const rec of s.hosts) succeeded(rec);
  }
  const due = names.filter((n) => {
    const rec = s.hosts.find((h) => h.name === n);
    return cycle.force || newRevision || recovered || !rec || rec.retryAt === null || rec.retryAt <= now;
  });
  if (due.length === 0) {
    endCycle(s, out, now);
    return;
  }
  s.phase = 'observing';
  out.push({ type: 'observe', desired: outcome.desired, hosts: due });
}

/** The hosts a source-level verdict applies to: those of the last revision that loaded, else SPEC 1's default host. */
function knownHosts(s: AgentState): string[] {
  return s.hosts.length > 0 ? s.hosts.map((h) => h.name) : [DEFAULT_HOST.name];
}

function onObserved(s: AgentState, out: AgentAction[], results: HostEvaluation[], now: number): void {
  const cycle = s.cycle as Request & { plans: HostPlan[] };
  const revision = s.revision;
  const rev = shortRevision(revision);
  for (const r of results) {
    if (r.kind === 'unreachable') {
      const rec = recordOf(s, r.host, 'unreachable', now);
      rec.touched = false;
      setState(rec, 'unreachable', now, { problems: r.problems, changes: 0, revision, fingerprint: null });
      log(out, 'warn', `${r.host}: unreachable: ${firstMessage(r.problems)}${failed(s, rec, now)}`, { host: r.host, state: 'unreachable', revision });
      continue;
    }
    const plan = r.plan;
    const changes = plan.actions.length;
    const blocked = plan.problems.some((p) => p.severity === 'block');
    const fields = { problems: plan.problems, changes, revision, fingerprint: plan.fingerprint };
    const existing = s.hosts.find((h) => h.name === r.host);
    const rec = recordOf(s, r.host, blocked ? 'blocked' : changes > 0 ? 'drifted' : 'in-sync', now);
    if (blocked) {
      // Same revision, same host, nothing happened to it: the same verdict again. Not retried (SPEC 9).
      const same = existing?.state === 'blocked' && existing.revision === revision && existing.fingerprint === plan.fingerprint && !existing.touched;
      rec.touched = false;
      succeeded(rec);
      if (same && !cycle.force) {
        rec.lastReconcile = now;
        log(out, 'debug', `${r.host}: still blocked at revision ${rev}; not retried until the source or the host changes`, { host: r.host, state: 'blocked' });
        continue;
      }
      setState(rec, 'blocked', now, fields);
      log(out, 'warn', `${r.host}: blocked at revision ${rev}: ${firstMessage(plan.problems)}; nothing changed`, { host: r.host, state: 'blocked', revision, changes });
      continue;
    }
    rec.touched = false;
    if (!hostDrifted(plan)) {
      succeeded(rec);
      const news = setState(rec, 'in-sync', now, { ...fields, lastSuccess: now });
      log(out, news ? 'info' : 'debug', `${r.host}: in sync at revision ${rev}`, { host: r.host, state: 'in-sync', revision, changes });
    } else if (changes > 0 && s.config.mode === 'apply' && !s.stopping) {
      // Not a success yet: a host whose applies keep failing must see its backoff grow, so the count is settled
      // by the apply's outcome.
      rec.lastReconcile = now;
      cycle.plans.push(plan);
    } else {
      succeeded(rec);
      const news = setState(rec, 'drifted', now, fields);
      // Drift no action fixes (a device not back, SPEC 13) is named instead: there is nothing to apply.
      const what =
        changes > 0
          ? `${changes} change(s) pending (${s.config.mode === 'check' ? 'check mode' : 'stopping'}: not applied): ${plan.actions.map(describeAction).join(', ')}`
          : `${driftProblems(plan).map((p) => p.message).join('; ')} (no action can fix it)`;
      log(out, news ? 'info' : 'debug', `${r.host}: drifted at revision ${rev}: ${what}`, {
        host: r.host,
        state: 'drifted',
        revision,
        changes,
      });
    }
  }
  if (cycle.plans.length === 0 || !s.desired) {
    endCycle(s, out, now);
    return;
  }
  s.phase = 'applying';
  for (const p of cycle.plans) log(out, 'info', `${p.name}: applying ${p.actions.length} change(s) of revision ${rev}`, { host: p.name, revision, changes: p.actions.length });
  out.push({ type: 'apply', desired: s.desired, plans: cycle.plans });
}

function onApplied(s: AgentState, out: AgentAction[], results: ApplyOutcome[], now: number): void {
  const cycle = s.cycle as Request & { plans: HostPlan[] };
  for (const r of results) {
    const plan = cycle.plans.find((p) => p.name === r.host);
    if (r.kind === 'stale') {
      log(out, 'info', `${r.host}: the host changed while waiting for the apply lock (${r.changes.join('; ')}); planning again`, { host: r.host });
      if (!s.stopping) s.pending ??= { trigger: 'stale-plan', force: false };
      continue;
    }
    const rec = recordOf(s, r.host, r.kind === 'applied' ? 'applied' : 'failed', now);
    if (r.kind === 'applied') {
      succeeded(rec);
      rec.applies.applied += 1;
      const warnings = (plan?.problems ?? []).filter((p) => p.severity === 'warn');
      setState(rec, 'applied', now, { problems: warnings, changes: r.steps, revision: s.revision, fingerprint: null, lastApply: now, lastSuccess: now });
      log(out, 'info', `${r.host}: applied ${r.steps} change(s) of revision ${shortRevision(s.revision)}`, { host: r.host, state: 'applied', revision: s.revision, changes: r.steps });
    } else {
      rec.applies[r.restored ? 'failed' : 'rollback-failed'] += 1;
      setState(rec, 'failed', now, { problems: r.problems, changes: plan?.actions.length ?? 0, revision: s.revision, fingerprint: null, lastApply: now });
      const where = r.restored ? 'rolled back' : 'rollback could NOT restore the host';
      log(out, 'error', `${r.host}: apply failed (${where}): ${firstMessage(r.problems)}${failed(s, rec, now)}`, { host: r.host, state: 'failed', revision: s.revision });
    }
  }
  endCycle(s, out, now);
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** status.json for the agent in `s`. */
export function statusOf(s: AgentState): AgentStatus {
  return {
    format_version: STATUS_FORMAT_VERSION,
    agent: { pid: s.config.pid, mode: s.config.mode, started: new Date(s.startedAt).toISOString() },
    source: { location: s.config.location, revision: s.revision },
    hosts: s.hosts.map((h) => ({
      name: h.name,
      state: h.state,
      since: new Date(h.since).toISOString(),
      lastReconcile: iso(h.lastReconcile),
      lastApply: iso(h.lastApply),
      revision: h.revision,
      changes: h.changes,
      problems: h.problems,
      consecutiveFailures: h.consecutiveFailures,
      nextAttempt: s.config.once ? null : iso(h.retryAt ?? s.nextTickAt),
    })),
  };
}

function countersOf(h: HostRecord): HostCounters {
  return { host: h.name, lastSuccess: iso(h.lastSuccess), applies: { ...h.applies } };
}
