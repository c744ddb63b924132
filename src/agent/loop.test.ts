/**
 * The loop with in-memory ports: it carries out what `decide` asks (steps in the background, status written, one
 * wake-up at a time) and lets a signal in while a step runs. The rules themselves are decide.test.ts's business.
 */
import { describe, expect, it } from 'vitest';
import { InputError, PassthruError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { HostPlan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { AgentConfig, ApplyOutcome, HostCounters } from './decide.js';
import { runAgent, type AgentPorts } from './loop.js';
import type { AgentSignal, SourceFetch } from './ports.js';
import type { AgentStatus } from './status.js';

const DESIRED: DesiredState = { file: 'p.yaml', hosts: [{ name: 'hv1', uri: 'test:///x', local: true }], vms: [], release: [], protect: [] };

function config(over: Partial<AgentConfig> = {}): AgentConfig {
  return { mode: 'apply', once: false, intervalMs: 60_000, debounceMs: 2_000, debounceMaxMs: 10_000, backoff: DEFAULT_BACKOFF, pid: 1, location: 'p.yaml', ...over };
}

/** In-memory ports with a hand-driven clock, signals and apply. */
function fakes(o: { changes?: number; fetch?: () => Promise<SourceFetch>; observeError?: Error } = {}) {
  let now = 1_000_000;
  const wakes: { at: number; fn: () => void }[] = [];
  let signal: ((s: AgentSignal) => void) | null = null;
  const statuses: AgentStatus[] = [];
  const counters: HostCounters[][] = [];
  const logs: string[] = [];
  let fetches = 0;
  let releaseApply: ((o: ApplyOutcome) => void) | null = null;
  const plan = (changes: number): HostPlan => ({
    name: 'hv1',
    uri: 'test:///x',
    fingerprint: 'sha256:1',
    actions: Array.from({ length: changes }, () => ({ kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: 'r' })),
    problems: [],
  });
  const ports: AgentPorts = {
    source: {
      fetch: o.fetch ?? (async () => (fetches++, { kind: 'content', revision: 'sha256:aa', text: 'version: 1\n', file: 'p.yaml' })),
    },
    load: () => DESIRED,
    observer: {
      async observe(_d, hosts) {
        if (o.observeError) throw o.observeError;
        return hosts.map((host) => ({ host, snapshot: {} as HostSnapshot }));
      },
    },
    plan: () => plan(o.changes ?? 0),
    applier: { applyHostPlan: () => new Promise<ApplyOutcome>((resolve) => (releaseApply = resolve)) },
    sink: {
      async write(s, c) {
        statuses.push(s);
        counters.push([...c]);
      },
    },
    events: null,
    timers: {
      now: () => now,
      at(at, fn) {
        const w = { at, fn };
        wakes.push(w);
        return () => wakes.splice(wakes.indexOf(w), 1);
      },
    },
    signals: {
      on(handler) {
        signal = handler;
        return () => (signal = null);
      },
    },
    log: (level, message) => logs.push(`${level}: ${message}`),
  };
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return {
    ports,
    statuses,
    counters,
    logs,
    get fetches() {
      return fetches;
    },
    wakes,
    settle,
    send: (s: AgentSignal) => signal?.(s),
    hasSignalHandler: () => signal !== null,
    applyPending: () => releaseApply !== null,
    finishApply: (outcome: ApplyOutcome) => releaseApply?.(outcome),
    /** Moves the clock to the next wake-up and fires it. */
    async fireNextWake() {
      const w = wakes.sort((a, b) => a.at - b.at)[0];
      if (!w) throw new Error('no wake-up scheduled');
      now = w.at;
      wakes.splice(wakes.indexOf(w), 1);
      w.fn();
      await settle();
    },
  };
}

describe('runAgent', () => {
  it('--once in check mode: one reconcile, status written, exit 2 on drift; the signal handler is removed', async () => {
    const f = fakes({ changes: 1 });
    const code = await runAgent(config({ mode: 'check', once: true }), f.ports, 1);
    expect(code).toBe(2);
    expect(f.statuses.map((s) => s.hosts.map((h) => h.state))).toEqual([['drifted']]);
    expect(f.hasSignalHandler()).toBe(false);
  });

  it('waits for the interval with one wake-up, then reconciles again', async () => {
    const f = fakes();
    const running = runAgent(config(), f.ports, 1);
    await f.settle();
    expect(f.fetches).toBe(1);
    expect(f.wakes.map((w) => w.at)).toEqual([1_000_000 + 60_000]);
    await f.fireNextWake();
    expect(f.fetches).toBe(2);
    expect(f.statuses).toHaveLength(2);
    f.send('SIGTERM');
    expect(await running).toBe(0);
    expect(f.wakes).toEqual([]);
  });

  it('SIGTERM during an apply: nothing exits until the apply ends; then the result is recorded and the code is 0', async () => {
    const f = fakes({ changes: 2 });
    const running = runAgent(config(), f.ports, 1);
    await f.settle();
    expect(f.applyPending()).toBe(true);
    f.send('SIGTERM');
    let exited = false;
    void running.then(() => (exited = true));
    await f.settle();
    expect(exited).toBe(false);
    f.finishApply({ host: 'hv1', kind: 'applied', steps: 2 });
    expect(await running).toBe(0);
    expect(f.statuses.at(-1)?.hosts[0]?.state).toBe('applied');
    expect(f.counters.at(-1)?.[0]?.applies.applied).toBe(1);
    expect(f.logs).toContain('info: SIGTERM: stopping once the apply in flight ends: its step in flight finishes, then what it did is rolled back; nothing new starts');
  });

  it('a source error the source reports as a PassthruError is a status; a bug in a port ends the agent', async () => {
    const f = fakes({ fetch: async () => Promise.reject(new PassthruError('git init /var/lib/passthru/source failed: read-only', { hint: 'check --state-dir' })) });
    expect(await runAgent(config({ once: true }), f.ports, 1)).toBe(1);
    expect(f.statuses[0]?.hosts[0]).toMatchObject({ name: 'local', state: 'unreachable', problems: [{ code: 'source-unreachable', hint: 'check --state-dir' }] });
    const bug = fakes({ observeError: new TypeError('x is undefined') });
    await expect(runAgent(config({ once: true }), bug.ports, 1)).rejects.toThrow('x is undefined');
  });

  it('an invalid desired state becomes positioned problems', async () => {
    const f = fakes();
    f.ports.load = () => {
      throw new InputError([{ file: 'hv1/passthrough.yaml', line: 5, col: 9, message: 'unknown key "adress"', hint: 'did you mean "address"?' }]);
    };
    expect(await runAgent(config({ once: true }), f.ports, 1)).toBe(1);
    expect(f.statuses[0]?.hosts[0]?.problems).toEqual([{ severity: 'block', code: 'source-invalid', message: 'hv1/passthrough.yaml:5:9: unknown key "adress"', hint: 'did you mean "address"?' }]);
  });
});
