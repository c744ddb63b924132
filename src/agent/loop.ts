/**
 * The thin loop around `decide`: it turns the world into events (signals, timers, file changes, domain events, the
 * results of the steps it ran) and carries out the actions decided, one event at a time, in order. It makes no
 * decision of its own — when to reconcile, retry, record or exit is all in `decide.ts`.
 *
 * Steps (read the source, observe, apply) run in the background, so that a signal is seen while one runs; their
 * results come back as events. A step's own failures are statuses (the ports return them as values); an exception
 * that is not a PassthruError is a bug and ends the agent (systemd restarts it).
 */
import { InputError, PassthruError } from '../errors.js';
import { formatPos, type DesiredState } from '../model/desired.js';
import type { HostPlan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { decide, initialState } from './decide.js';
import type { AgentAction, AgentConfig, AgentEvent, ApplyOutcome, HostEvaluation, SourceOutcome } from './decide.js';
import type { DesiredSource, DomainEvents, DomainEventsFactory, HostApplier, HostObserver, Logger, Signals, StatusSink, Timers } from './ports.js';

/** Everything the loop uses. */
export interface AgentPorts {
  source: DesiredSource;
  /** Loads the desired state from the source's text (`loadDesiredState`); throws an InputError when it is invalid. */
  load(text: string, file: string): DesiredState;
  observer: HostObserver;
  /** Plans one host (pure). */
  plan(desired: DesiredState, snapshot: HostSnapshot): HostPlan;
  applier: HostApplier;
  sink: StatusSink;
  /** Null where domain events are not wanted (not used with --once). */
  events: DomainEventsFactory | null;
  timers: Timers;
  signals: Signals;
  log: Logger;
}

/** Runs the agent until it decides to exit; resolves to the exit code. `seed` seeds the retry jitter. */
export function runAgent(config: AgentConfig, ports: AgentPorts, seed: number): Promise<number> {
  const { timers } = ports;
  let state = initialState(config, timers.now(), seed);
  const queue: AgentEvent[] = [];
  let draining = false;
  let cancelWake: (() => void) | null = null;
  let finished = false;
  let events: DomainEvents | null = null;
  const cleanups: (() => void)[] = [];

  return new Promise<number>((resolve, reject) => {
    const finish = (outcome: { code: number } | { error: unknown }) => {
      if (finished) return;
      finished = true;
      cancelWake?.();
      for (const c of cleanups) c();
      void (events?.close() ?? Promise.resolve()).finally(() => ('code' in outcome ? resolve(outcome.code) : reject(outcome.error)));
    };
    const push = (event: AgentEvent) => {
      queue.push(event);
      void drain();
    };
    /** Starts a step; its result comes back as an event. */
    const background = <T>(step: Promise<T>, toEvent: (result: T, now: number) => AgentEvent) => {
      step.then((result) => push(toEvent(result, timers.now())), (error: unknown) => finish({ error }));
    };

    async function perform(a: AgentAction): Promise<void> {
      switch (a.type) {
        case 'read-source':
          background(readSource(ports), (outcome, now) => ({ type: 'source-read', now, outcome }));
          break;
        case 'observe':
          background(evaluate(ports, a.desired, a.hosts), (results, now) => ({ type: 'observed', now, results }));
          break;
        case 'apply':
          background(applyAll(ports, a.desired, a.plans), (results, now) => ({ type: 'applied', now, results }));
          break;
        case 'record':
          // A status that cannot be written (disk full) is logged; the agent goes on converging hosts.
          await ports.sink.write(a.status, a.counters).catch((err: unknown) => {
            if (!(err instanceof PassthruError)) throw err;
            ports.log('error', err.message, {});
          });
          break;
        case 'schedule':
          cancelWake?.();
          cancelWake = a.at === null ? null : timers.at(a.at, () => push({ type: 'timer', now: timers.now() }));
          break;
        case 'watch':
          events ??= ports.events?.((host) => push({ type: 'domain-event', now: timers.now(), host })) ?? null;
          events?.follow(a.hosts);
          break;
        case 'log':
          ports.log(a.level, a.message, a.fields);
          break;
        case 'exit':
          finish({ code: a.code });
          break;
      }
    }

    async function drain(): Promise<void> {
      if (draining) return;
      draining = true;
      try {
        while (queue.length > 0 && !finished) {
          const d = decide(state, queue.shift() as AgentEvent);
          state = d.state;
          for (const a of d.actions) await perform(a);
        }
      } catch (error) {
        finish({ error });
      } finally {
        draining = false;
      }
    }

    cleanups.push(ports.signals.on((signal) => push({ type: 'signal', now: timers.now(), signal })));
    const watch = config.once ? undefined : ports.source.watch;
    if (watch) cleanups.push(watch(() => push({ type: 'source-poke', now: timers.now() })));
    push({ type: 'start', now: timers.now() });
  });
}

/** Reads the source and loads the desired state from it. */
async function readSource(ports: AgentPorts): Promise<SourceOutcome> {
  let fetched;
  try {
    fetched = await ports.source.fetch();
  } catch (err) {
    if (!(err instanceof PassthruError)) throw err;
    return { kind: 'unreachable', problems: [{ severity: 'block', code: 'source-unreachable', message: err.message, ...(err.hint ? { hint: err.hint } : {}) }] };
  }
  if (fetched.kind !== 'content') return fetched;
  try {
    return { kind: 'loaded', revision: fetched.revision, desired: ports.load(fetched.text, fetched.file) };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return {
      kind: 'invalid',
      revision: fetched.revision,
      problems: err.diagnostics.map((d) => ({ severity: 'block', code: 'source-invalid', message: `${formatPos(d)}: ${d.message}`, ...(d.hint ? { hint: d.hint } : {}) })),
    };
  }
}

/** Observes the due hosts and plans each one that could be observed. */
async function evaluate(ports: AgentPorts, desired: DesiredState, hosts: string[]): Promise<HostEvaluation[]> {
  const observations = await ports.observer.observe(desired, hosts);
  return observations.map((o) => {
    if ('snapshot' in o) return { host: o.host, kind: 'planned', plan: ports.plan(desired, o.snapshot) };
    const hint = o.error instanceof PassthruError ? o.error.hint : undefined;
    return { host: o.host, kind: 'unreachable', problems: [{ severity: 'block', code: 'host-unreachable', message: o.error.message, ...(hint ? { hint } : {}) }] };
  });
}

/** Applies the plans, hosts in parallel (they are independent, as in `passthru apply`). */
function applyAll(ports: AgentPorts, desired: DesiredState, plans: HostPlan[]): Promise<ApplyOutcome[]> {
  return Promise.all(plans.map((p) => ports.applier.applyHostPlan(desired, p)));
}
