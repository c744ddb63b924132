/**
 * The agent's decision function as a table: each case feeds events to `decide` and checks the actions it asks for
 * and the state it records. No timers, processes or files: time is the `now` of each event, jitter is seeded.
 */
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../model/desired.js';
import type { Action, HostPlan, Problem } from '../model/plan.js';
import { DEFAULT_BACKOFF, backoffDelay, drawRandom } from './backoff.js';
import { decide, initialState } from './decide.js';
import type { AgentAction, AgentConfig, AgentMode, AgentEvent, AgentState, ApplyOutcome, HostEvaluation, SourceOutcome } from './decide.js';
import type { HostStatus } from './status.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const SEED = 7;
const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

function config(over: Partial<AgentConfig> = {}): AgentConfig {
  return {
    mode: 'check',
    once: false,
    intervalMs: 60_000,
    debounceMs: 2_000,
    debounceMaxMs: 10_000,
    backoff: DEFAULT_BACKOFF,
    pid: 4242,
    location: 'git+file:///srv/infra.git#main:hv1/passthrough.yaml',
    ...over,
  };
}

function desired(...hosts: string[]): DesiredState {
  return { file: 'passthrough.yaml', hosts: hosts.map((name) => ({ name, uri: `qemu+ssh://${name}/system`, local: false })), vms: [], release: [], protect: [] };
}

const detach = (address: string): Action => ({ kind: 'nodedev-detach', address, fromDriver: 'igb', reason: 'newly assigned to rhel7.3' });
const blockProblem: Problem = { severity: 'block', code: 'iommu-group-not-viable', message: '0000:01:00.1 (snd_hda_intel) shares IOMMU group 1', hint: 'assign the whole slot' };
const notBackProblem: Problem = { severity: 'warn', code: 'device-not-back', message: '0000:07:00.1 is listed under `release` but is bound to no driver', address: '0000:07:00.1' };
const warnProblem: Problem = { severity: 'warn', code: 'takes-effect-at-next-start', message: 'rhel7.3 runs: takes effect at next start', vm: 'rhel7.3' };

function plan(host: string, o: { changes?: number; blocked?: boolean; fingerprint?: string; warn?: boolean } = {}): HostPlan {
  return {
    name: host,
    uri: `qemu+ssh://${host}/system`,
    fingerprint: o.fingerprint ?? 'sha256:f1',
    actions: Array.from({ length: o.changes ?? 0 }, (_, i) => detach(`0000:07:00.${i}`)),
    problems: [...(o.blocked ? [blockProblem] : []), ...(o.warn ? [warnProblem] : [])],
  };
}

const loaded = (revision: string, d = desired('hv1')): SourceOutcome => ({ kind: 'loaded', revision, desired: d });
const planned = (p: HostPlan): HostEvaluation => ({ host: p.name, kind: 'planned', plan: p });

/** An agent being driven by a test: feeds events, keeps the state, returns each decision's actions. */
class Agent {
  state: AgentState;
  constructor(over: Partial<AgentConfig> = {}) {
    this.state = initialState(config(over), T0, SEED);
  }
  feed(event: AgentEvent): AgentAction[] {
    const d = decide(this.state, event);
    this.state = d.state;
    return d.actions;
  }
  /** The host as the latest `record` action wrote it. */
  host(name = 'hv1'): HostStatus {
    const h = lastRecord(this.seen)?.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} recorded`);
    return h;
  }
  /** Every tracked action, so that `host()` reads the latest record. */
  readonly seen: AgentAction[] = [];
  track(actions: AgentAction[]): AgentAction[] {
    this.seen.push(...actions);
    return actions;
  }
  /** Runs one whole check cycle from a trigger: the source read, the observation and (apply mode) the apply. */
  cycle(now: number, trigger: AgentEvent, source: SourceOutcome, observed?: HostEvaluation[], applied?: ApplyOutcome[]): AgentAction[] {
    const all = [...this.track(this.feed(trigger))];
    if (!all.some((a) => a.type === 'read-source')) return all;
    all.push(...this.track(this.feed({ type: 'source-read', now, outcome: source })));
    if (observed && all.some((a) => a.type === 'observe')) all.push(...this.track(this.feed({ type: 'observed', now, results: observed })));
    if (applied && all.some((a) => a.type === 'apply')) all.push(...this.track(this.feed({ type: 'applied', now, results: applied })));
    return all;
  }
}

function lastRecord(actions: AgentAction[]) {
  const records = actions.filter((a): a is Extract<AgentAction, { type: 'record' }> => a.type === 'record');
  return records[records.length - 1]?.status;
}
const types = (actions: AgentAction[]) => actions.map((a) => a.type);
const logs = (actions: AgentAction[], level?: string) =>
  actions.filter((a): a is Extract<AgentAction, { type: 'log' }> => a.type === 'log' && (level === undefined || a.level === level)).map((a) => a.message);
const scheduled = (actions: AgentAction[]) => actions.filter((a): a is Extract<AgentAction, { type: 'schedule' }> => a.type === 'schedule').map((a) => a.at);
const exitCode = (actions: AgentAction[]) => actions.find((a): a is Extract<AgentAction, { type: 'exit' }> => a.type === 'exit')?.code;

describe('one reconcile', () => {
  it('in sync: reads, observes, records in-sync, and waits for the interval', () => {
    const a = new Agent();
    const start = a.track(a.feed({ type: 'start', now: T0 }));
    expect(types(start)).toEqual(['log', 'read-source']);
    const read = a.track(a.feed({ type: 'source-read', now: T0 + 100, outcome: loaded(R1) }));
    expect(read.filter((x) => x.type !== 'log')).toEqual([
      { type: 'watch', hosts: [{ name: 'hv1', uri: 'qemu+ssh://hv1/system' }] },
      { type: 'observe', desired: desired('hv1'), hosts: ['hv1'] },
    ]);
    const done = a.track(a.feed({ type: 'observed', now: T0 + 300, results: [planned(plan('hv1'))] }));
    expect(types(done)).toEqual(['log', 'record', 'schedule']);
    expect(scheduled(done)).toEqual([T0 + 300 + 60_000]);
    expect(lastRecord(done)).toEqual({
      format_version: '1',
      agent: { pid: 4242, mode: 'check', started: '2026-12-01T10:00:00.000Z' },
      source: { location: 'git+file:///srv/infra.git#main:hv1/passthrough.yaml', revision: R1 },
      hosts: [
        {
          name: 'hv1',
          state: 'in-sync',
          since: '2026-12-01T10:00:00.300Z',
          lastReconcile: '2026-12-01T10:00:00.300Z',
          lastApply: null,
          revision: R1,
          changes: 0,
          problems: [],
          consecutiveFailures: 0,
          nextAttempt: '2026-12-01T10:01:00.300Z',
        },
      ],
    });
    const counters = done.find((x): x is Extract<AgentAction, { type: 'record' }> => x.type === 'record')?.counters;
    expect(counters).toEqual([{ host: 'hv1', lastSuccess: '2026-12-01T10:00:00.300Z', applies: { applied: 0, failed: 0, 'rollback-failed': 0 } }]);
  });

  it('the interval starts the next reconcile; `since` stays while the state does', () => {
    const a = new Agent();
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1'))]);
    expect(types(a.feed({ type: 'timer', now: T0 + 30_000 }))).toEqual([]); // early wake-up: nothing due
    const next = a.cycle(T0 + 60_000, { type: 'timer', now: T0 + 60_000 }, loaded(R1), [planned(plan('hv1'))]);
    expect(types(next)).toContain('observe');
    expect(logs(next, 'info')).toEqual([]); // same verdict: no news at info level
    expect(a.host()).toMatchObject({ state: 'in-sync', since: new Date(T0).toISOString(), lastReconcile: new Date(T0 + 60_000).toISOString() });
  });

  it('drifted in check mode: records the drift, applies nothing', () => {
    const a = new Agent({ mode: 'check' });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1', { changes: 3 }))]);
    expect(types(acts)).not.toContain('apply');
    expect(a.host()).toMatchObject({ state: 'drifted', changes: 3, consecutiveFailures: 0 });
    expect(logs(acts, 'info')).toContain(
      `hv1: drifted at revision ${R1.slice(0, 12)}: 3 change(s) pending (check mode: not applied): nodedev-detach 0000:07:00.0, nodedev-detach 0000:07:00.1, nodedev-detach 0000:07:00.2`,
    );
  });

  it.each(['check', 'apply'] as const)('a device not back is drift with no action (SPEC 13), %s mode: drifted, nothing applied', (mode) => {
    const a = new Agent({ mode });
    const p: HostPlan = { ...plan('hv1'), problems: [notBackProblem] };
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(p)]);
    expect(types(acts)).not.toContain('apply');
    expect(a.host()).toMatchObject({ state: 'drifted', changes: 0, problems: [notBackProblem] });
    expect(logs(acts, 'info')).toContain(`hv1: drifted at revision ${R1.slice(0, 12)}: ${notBackProblem.message} (no action can fix it)`);
  });

  it('drifted in apply mode: applies that plan, records applied, counts it', () => {
    const a = new Agent({ mode: 'apply' });
    const p = plan('hv1', { changes: 3, warn: true });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(p)]);
    expect(acts.find((x) => x.type === 'apply')).toEqual({ type: 'apply', desired: desired('hv1'), plans: [p] });
    expect(types(acts)).not.toContain('record'); // nothing recorded while the apply runs
    const done = a.track(a.feed({ type: 'applied', now: T0 + 5_000, results: [{ host: 'hv1', kind: 'applied', steps: 3 }] }));
    expect(a.host()).toMatchObject({ state: 'applied', changes: 3, lastApply: new Date(T0 + 5_000).toISOString(), problems: [warnProblem] });
    const rec = done.find((x): x is Extract<AgentAction, { type: 'record' }> => x.type === 'record');
    expect(rec?.counters[0]?.applies).toEqual({ applied: 1, failed: 0, 'rollback-failed': 0 });
    // The next interval finds the host converged.
    a.cycle(T0 + 65_000, { type: 'timer', now: T0 + 65_000 }, loaded(R1), [planned(plan('hv1'))]);
    expect(a.host().state).toBe('in-sync');
  });

  it('blocked: records every problem, changes nothing, schedules no retry', () => {
    const a = new Agent({ mode: 'apply' });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1', { changes: 2, blocked: true, warn: true }))]);
    expect(types(acts)).not.toContain('apply');
    expect(a.host()).toMatchObject({ state: 'blocked', changes: 2, problems: [blockProblem, warnProblem], consecutiveFailures: 0, nextAttempt: new Date(T0 + 60_000).toISOString() });
    expect(logs(acts, 'warn')).toEqual([`hv1: blocked at revision ${R1.slice(0, 12)}: ${blockProblem.message}; nothing changed`]);
    expect(scheduled(acts)).toEqual([T0 + 60_000]); // the interval, not a backoff retry
  });

  it('blocked: the same revision on the same host is not re-decided; a changed host or a domain event is', () => {
    const a = new Agent({ mode: 'apply' });
    const blocked = (fingerprint: string) => [planned(plan('hv1', { changes: 2, blocked: true, fingerprint }))];
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), blocked('sha256:f1'));
    const same = a.cycle(T0 + 60_000, { type: 'timer', now: T0 + 60_000 }, loaded(R1), blocked('sha256:f1'));
    expect(logs(same, 'warn')).toEqual([]);
    expect(logs(same, 'debug')).toContain(`hv1: still blocked at revision ${R1.slice(0, 12)}; not retried until the source or the host changes`);
    const moved = a.cycle(T0 + 120_000, { type: 'timer', now: T0 + 120_000 }, loaded(R1), blocked('sha256:f2'));
    expect(logs(moved, 'warn')).toHaveLength(1);
    a.feed({ type: 'domain-event', now: T0 + 130_000, host: 'hv1' });
    const touched = a.cycle(T0 + 132_000, { type: 'timer', now: T0 + 132_000 }, loaded(R1), blocked('sha256:f2'));
    expect(logs(touched, 'warn')).toHaveLength(1);
    expect(a.host()).toMatchObject({ state: 'blocked', since: new Date(T0).toISOString() });
  });

  it('invalid: every host invalid with the positioned error; the same revision is not re-decided, a new one is', () => {
    const a = new Agent();
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv1')), planned(plan('hv2'))]);
    const problems = [{ severity: 'block' as const, code: 'source-invalid' as const, message: 'hv1/passthrough.yaml:5:9: unknown key "adress"' }];
    const bad = a.cycle(T0 + 60_000, { type: 'timer', now: T0 + 60_000 }, { kind: 'invalid', revision: R2, problems });
    expect(types(bad)).not.toContain('observe');
    expect(logs(bad, 'error')).toEqual([`source invalid at revision ${R2.slice(0, 12)}: hv1/passthrough.yaml:5:9: unknown key "adress"; nothing changed, not retried until the source changes`]);
    for (const name of ['hv1', 'hv2']) expect(a.host(name)).toMatchObject({ state: 'invalid', revision: R2, problems, changes: 0, consecutiveFailures: 0 });
    expect(lastRecord(bad)?.source.revision).toBe(R2);
    const again = a.cycle(T0 + 120_000, { type: 'timer', now: T0 + 120_000 }, { kind: 'invalid', revision: R2, problems });
    expect(logs(again, 'error')).toEqual([]);
    expect(a.host().lastReconcile).toBe(new Date(T0 + 60_000).toISOString());
    const fixed = a.cycle(T0 + 180_000, { type: 'timer', now: T0 + 180_000 }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv1')), planned(plan('hv2'))]);
    expect(fixed.find((x) => x.type === 'observe')).toMatchObject({ hosts: ['hv1', 'hv2'] });
    expect(a.host().state).toBe('in-sync');
  });

  it('invalid before any revision ever loaded: recorded on the default host "local"', () => {
    const a = new Agent();
    const problems = [{ severity: 'block' as const, code: 'source-missing' as const, message: '/etc/passthru/passthrough.yaml: ENOENT' }];
    a.cycle(T0, { type: 'start', now: T0 }, { kind: 'invalid', revision: null, problems });
    expect(a.host('local')).toMatchObject({ state: 'invalid', revision: null, problems });
    // When the file appears, its own hosts replace the placeholder.
    a.cycle(T0 + 1_000, { type: 'source-poke', now: T0 + 1_000 }, loaded(R1), [planned(plan('hv1'))]);
    a.cycle(T0 + 3_000, { type: 'timer', now: T0 + 3_000 }, loaded(R1), [planned(plan('hv1'))]);
    expect(lastRecord(a.seen)?.hosts.map((h) => h.name)).toEqual(['hv1']);
  });
});

describe('failures and backoff', () => {
  /** The delays the agent must pick: backoff of n failures with the n-th draw of the seeded generator. */
  function expectedDelays(n: number): number[] {
    const delays: number[] = [];
    let seed = SEED;
    for (let i = 1; i <= n; i++) {
      const d = drawRandom(seed);
      seed = d.seed;
      delays.push(backoffDelay(i, d.value));
    }
    return delays;
  }

  it('a failed apply is retried with exponential backoff and jitter, 10 s doubling to the 15 min cap', () => {
    const a = new Agent({ mode: 'apply', intervalMs: 3_600_000 });
    const fail: ApplyOutcome = { host: 'hv1', kind: 'failed', restored: true, problems: [{ severity: 'block', code: 'apply-failed', message: 'step 2 attach-hostdev failed' }] };
    let now = T0;
    let trigger: AgentEvent = { type: 'start', now };
    const delays: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const acts = a.cycle(now, trigger, loaded(R1), [planned(plan('hv1', { changes: 1 }))], [fail]);
      const h = a.host();
      expect(h).toMatchObject({ state: 'failed', consecutiveFailures: i, lastApply: new Date(now).toISOString() });
      const retryAt = Date.parse(h.nextAttempt ?? '');
      delays.push(retryAt - now);
      expect(scheduled(acts).at(-1)).toBe(retryAt); // sooner than the hour-long interval
      expect(logs(acts, 'error')[0]).toMatch(/^hv1: apply failed \(rolled back\): step 2 attach-hostdev failed; retry in .+ \(failure \d+ in a row\)$/);
      // An early timer does nothing; the retry time starts the next attempt.
      expect(types(a.feed({ type: 'timer', now: retryAt - 1 }))).toEqual([]);
      now = retryAt;
      trigger = { type: 'timer', now };
    }
    expect(delays).toEqual(expectedDelays(10));
    for (const [i, d] of delays.entries()) {
      const nominal = Math.min(900_000, 10_000 * 2 ** i);
      expect(d).toBeLessThanOrEqual(nominal);
      expect(d).toBeGreaterThanOrEqual(nominal * 0.8);
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(900_000);
    expect(delays.slice(7).every((d) => d >= 720_000)).toBe(true); // at the cap
    expect(lastRecord(a.seen)?.hosts[0]?.consecutiveFailures).toBe(10);
  });

  it('the same seed gives the same delays; another seed other ones', () => {
    const run = (seed: number) => {
      const s0 = initialState(config({ mode: 'apply' }), T0, seed);
      let s = decide(s0, { type: 'start', now: T0 }).state;
      s = decide(s, { type: 'source-read', now: T0, outcome: loaded(R1) }).state;
      s = decide(s, { type: 'observed', now: T0, results: [planned(plan('hv1', { changes: 1 }))] }).state;
      s = decide(s, { type: 'applied', now: T0, results: [{ host: 'hv1', kind: 'failed', restored: true, problems: [] }] }).state;
      return s.hosts[0]?.retryAt;
    };
    expect(run(1)).toBe(run(1));
    expect(run(1)).not.toBe(run(2));
  });

  it('a host in backoff is skipped by the interval; a success resets the count', () => {
    const a = new Agent({ mode: 'apply', intervalMs: 5_000 });
    const fail: ApplyOutcome = { host: 'hv2', kind: 'failed', restored: true, problems: [] };
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv1')), planned(plan('hv2', { changes: 1 }))], [fail]);
    const retryAt = Date.parse(a.host('hv2').nextAttempt ?? '');
    expect(retryAt).toBeGreaterThan(T0 + 5_000);
    const tick = a.cycle(T0 + 5_000, { type: 'timer', now: T0 + 5_000 }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv1'))]);
    expect(tick.find((x) => x.type === 'observe')).toMatchObject({ hosts: ['hv1'] });
    a.cycle(retryAt, { type: 'timer', now: retryAt }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv2', { changes: 1 }))], [{ host: 'hv2', kind: 'applied', steps: 1 }]);
    expect(a.host('hv2')).toMatchObject({ state: 'applied', consecutiveFailures: 0 });
  });

  it('a new revision resets the backoff and is tried at once', () => {
    const a = new Agent({ mode: 'apply' });
    const fail: ApplyOutcome = { host: 'hv1', kind: 'failed', restored: true, problems: [] };
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1', { changes: 1 }))], [fail]);
    a.cycle(T0 + 10_000, { type: 'timer', now: Date.parse(a.host().nextAttempt ?? '') }, loaded(R1), [planned(plan('hv1', { changes: 1 }))], [fail]);
    expect(a.host().consecutiveFailures).toBe(2);
    // The file changed (fs.watch): debounced, then read — a new revision, so the host is tried although in backoff.
    a.track(a.feed({ type: 'source-poke', now: T0 + 20_000 }));
    const acts = a.cycle(T0 + 22_000, { type: 'timer', now: T0 + 22_000 }, loaded(R2), [planned(plan('hv1', { changes: 1 }))], [fail]);
    expect(types(acts)).toContain('apply');
    expect(a.host()).toMatchObject({ consecutiveFailures: 1, revision: R2 });
  });

  it('an unreachable host is retried with backoff; the others go on', () => {
    const a = new Agent();
    const down: HostEvaluation = { host: 'hv2', kind: 'unreachable', problems: [{ severity: 'block', code: 'host-unreachable', message: 'failed to connect to the hypervisor' }] };
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1, desired('hv1', 'hv2')), [planned(plan('hv1')), down]);
    expect(a.host('hv1').state).toBe('in-sync');
    expect(a.host('hv2')).toMatchObject({ state: 'unreachable', consecutiveFailures: 1 });
    expect(logs(acts, 'warn')[0]).toMatch(/^hv2: unreachable: failed to connect to the hypervisor; retry in \d+(\.\d+)?s \(failure 1 in a row\)$/);
    expect(scheduled(acts)).toEqual([Date.parse(a.host('hv2').nextAttempt ?? '')]);
  });

  it('an unreachable source: every host unreachable, retried with backoff, not on every interval', () => {
    const a = new Agent({ intervalMs: 5_000 });
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1'))]);
    const down: SourceOutcome = { kind: 'unreachable', problems: [{ severity: 'block', code: 'source-unreachable', message: 'git fetch: Could not resolve host' }] };
    a.cycle(T0 + 5_000, { type: 'timer', now: T0 + 5_000 }, down);
    const h = a.host();
    expect(h).toMatchObject({ state: 'unreachable', consecutiveFailures: 1, revision: R1 });
    const retryAt = Date.parse(h.nextAttempt ?? '');
    // The interval passes before the retry: no read.
    expect(types(a.feed({ type: 'timer', now: T0 + 10_000 }))).not.toContain('read-source');
    // Back: the host is due again at once (its failure was the source's).
    const back = a.cycle(retryAt, { type: 'timer', now: retryAt }, loaded(R1), [planned(plan('hv1'))]);
    expect(types(back)).toContain('observe');
    expect(a.host()).toMatchObject({ state: 'in-sync', consecutiveFailures: 0 });
  });

  it('a plan gone stale while waiting for the lock is planned again at once, not counted as a failure', () => {
    const a = new Agent({ mode: 'apply' });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1', { changes: 1 }))], [
      { host: 'hv1', kind: 'stale', changes: ['0000:07:00.0: driver igb → vfio-pci'] },
    ]);
    expect(types(acts).slice(-3)).toEqual(['record', 'log', 'read-source']);
    expect(a.state.hosts[0]?.consecutiveFailures).toBe(0);
  });
});

describe('triggers', () => {
  it('domain events are debounced: 2 s after the last, at most 10 s after the first', () => {
    const a = new Agent();
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1'))]);
    expect(scheduled(a.feed({ type: 'domain-event', now: T0 + 1_000, host: 'hv1' }))).toEqual([T0 + 3_000]);
    expect(scheduled(a.feed({ type: 'domain-event', now: T0 + 2_500, host: 'hv1' }))).toEqual([T0 + 4_500]);
    // A steady stream: each event pushes the reconcile, up to 10 s after the first one.
    for (let t = T0 + 4_000; t <= T0 + 12_000; t += 1_000) a.feed({ type: 'domain-event', now: t, host: 'hv1' });
    expect(a.state.wakeAt).toBe(T0 + 11_000);
    expect(types(a.feed({ type: 'timer', now: T0 + 10_999 }))).toEqual([]);
    const acts = a.feed({ type: 'timer', now: T0 + 11_000 });
    expect(types(acts)).toEqual(['log', 'read-source', 'schedule']);
    expect(acts[0]).toMatchObject({ fields: { trigger: 'domain-event' } });
  });

  it('SIGHUP reconciles now, even a host in backoff', () => {
    const a = new Agent({ mode: 'apply' });
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1', { changes: 1 }))], [{ host: 'hv1', kind: 'failed', restored: true, problems: [] }]);
    const acts = a.cycle(T0 + 1_000, { type: 'signal', now: T0 + 1_000, signal: 'SIGHUP' }, loaded(R1), [planned(plan('hv1'))]);
    expect(logs(acts, 'info')[0]).toBe('SIGHUP: reconciling now');
    expect(acts.find((x) => x.type === 'observe')).toMatchObject({ hosts: ['hv1'] });
    expect(a.host()).toMatchObject({ state: 'in-sync', consecutiveFailures: 0 });
  });

  it('SIGHUP during a reconcile runs another right after it', () => {
    const a = new Agent();
    a.feed({ type: 'start', now: T0 });
    expect(types(a.feed({ type: 'signal', now: T0 + 10, signal: 'SIGHUP' }))).toEqual(['log']);
    a.feed({ type: 'source-read', now: T0 + 20, outcome: loaded(R1) });
    const end = a.feed({ type: 'observed', now: T0 + 30, results: [planned(plan('hv1'))] });
    expect(types(end).filter((t) => t !== 'log')).toEqual(['record', 'read-source']);
  });
});

describe('stopping', () => {
  it('SIGTERM when idle exits 0 at once', () => {
    const a = new Agent();
    a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), [planned(plan('hv1'))]);
    const acts = a.feed({ type: 'signal', now: T0 + 5, signal: 'SIGTERM' });
    expect(types(acts)).toEqual(['log', 'exit', 'schedule']);
    expect(exitCode(acts)).toBe(0);
    expect(scheduled(acts)).toEqual([null]);
    expect(decide(a.state, { type: 'timer', now: T0 + 60_000 }).actions).toEqual([]);
  });

  it('SIGTERM during an apply: the apply finishes (or rolls back), is recorded, then exit 0 — nothing new starts', () => {
    const a = new Agent({ mode: 'apply' });
    a.feed({ type: 'start', now: T0 });
    a.feed({ type: 'source-read', now: T0, outcome: loaded(R1) });
    expect(types(a.feed({ type: 'observed', now: T0, results: [planned(plan('hv1', { changes: 2 }))] }))).toContain('apply');
    const term = a.feed({ type: 'signal', now: T0 + 100, signal: 'SIGTERM' });
    expect(logs(term)).toEqual(['SIGTERM: stopping once the apply in flight ends: its step in flight finishes, then what it did is rolled back; nothing new starts']);
    expect(types(term)).not.toContain('exit');
    // A SIGHUP or a timer meanwhile starts nothing.
    expect(types(a.feed({ type: 'signal', now: T0 + 150, signal: 'SIGHUP' }))).toEqual(['log']);
    expect(types(a.feed({ type: 'timer', now: T0 + 200_000 }))).toEqual([]);
    const end = a.track(a.feed({ type: 'applied', now: T0 + 3_000, results: [{ host: 'hv1', kind: 'failed', restored: true, problems: [] }] }));
    expect(types(end).filter((t) => t !== 'log')).toEqual(['record', 'exit']);
    expect(exitCode(end)).toBe(0);
    expect(a.host()).toMatchObject({ state: 'failed' });
  });

  it('SIGTERM during the observation: no apply is started, the drift is recorded, exit 0', () => {
    const a = new Agent({ mode: 'apply' });
    a.feed({ type: 'start', now: T0 });
    a.feed({ type: 'source-read', now: T0, outcome: loaded(R1) });
    a.feed({ type: 'signal', now: T0 + 1, signal: 'SIGINT' });
    const end = a.track(a.feed({ type: 'observed', now: T0 + 2, results: [planned(plan('hv1', { changes: 2 }))] }));
    expect(types(end)).not.toContain('apply');
    expect(exitCode(end)).toBe(0);
    expect(a.host()).toMatchObject({ state: 'drifted', changes: 2 });
  });
});

describe('--once', () => {
  const cases: [string, AgentMode, HostEvaluation[], ApplyOutcome[] | undefined, number][] = [
    ['in sync → exit 0', 'check', [planned(plan('hv1'))], undefined, 0],
    ['drifted → exit 2', 'check', [planned(plan('hv1', { changes: 1 }))], undefined, 2],
    ['a device not back → exit 2, as check', 'apply', [planned({ ...plan('hv1'), problems: [notBackProblem] })], undefined, 2],
    ['applied → exit 0', 'apply', [planned(plan('hv1', { changes: 1 }))], [{ host: 'hv1', kind: 'applied', steps: 1 }], 0],
    ['failed → exit 1', 'apply', [planned(plan('hv1', { changes: 1 }))], [{ host: 'hv1', kind: 'failed', restored: true, problems: [] }], 1],
    ['blocked → exit 1', 'check', [planned(plan('hv1', { changes: 1, blocked: true }))], undefined, 1],
    ['unreachable → exit 1', 'check', [{ host: 'hv1', kind: 'unreachable', problems: [] }], undefined, 1],
  ];
  it.each(cases)('%s', (_name, mode, observed, applied, code) => {
    const a = new Agent({ mode, once: true });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, loaded(R1), observed, applied);
    expect(exitCode(acts)).toBe(code);
    expect(scheduled(acts)).toEqual([]); // nothing to wait for
    expect(a.host().nextAttempt).toBeNull();
    expect(types(acts)).not.toContain('watch');
  });

  it('an invalid source exits 1', () => {
    const a = new Agent({ once: true });
    const acts = a.cycle(T0, { type: 'start', now: T0 }, { kind: 'invalid', revision: null, problems: [] });
    expect(exitCode(acts)).toBe(1);
  });
});
