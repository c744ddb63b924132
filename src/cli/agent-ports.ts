/**
 * The agent's ports wired to what `passthru observe`, `plan` and `apply` use: `observeHosts` for observation (each
 * host on its own, at most `--parallelism` at once), `planAll` for plans, `applyHost` (lock, journal, verification,
 * rollback, and the same abort on SIGTERM/SIGINT) for applies, `progressLines` for the steps' log lines. Each
 * adapter is small on purpose: when those APIs change, only this file is re-wired.
 */
import path from 'node:path';
import { applyHost } from '../apply/apply-host.js';
import type { ProgressHooks } from '../apply/step-runner.js';
import { LockTimeoutError } from '../apply/lock.js';
import { formatDuration } from '../model/duration.js';
import { staleHosts } from '../apply/saved-plan.js';
import { hostTarget } from '../apply/target.js';
import type { ApplyOutcome, HostCounters, LogLevel } from '../agent/decide.js';
import type { HostApplier, HostObservation, HostObserver, Logger, StatusSink } from '../agent/ports.js';
import { METRICS_FILE, STATUS_FILE, type AgentStatus, type StatusProblem } from '../agent/status.js';
import { PassthruError } from '../errors.js';
import { systemClock } from '../io/clock.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import type { DesiredState } from '../model/desired.js';
import type { HostPlan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { errorCode } from '../io/error-code.js';
import { planAll } from '../plan/plan-all.js';
import { describeAction } from '../render/action.js';
import { progressLines } from '../render/apply-report.js';
import { renderLogLine, type LogFormat } from '../render/log-line.js';
import { renderMetrics } from '../render/metrics.js';
import { plainStyle } from '../render/style.js';
import type { Invocation } from './args.js';
import { makeDriverctl, makeVirsh, observeHosts } from './context.js';
import type { Terminal } from './terminal.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Log lines on stderr at `minLevel` and above. */
export function stderrLogger(term: Terminal, format: LogFormat, minLevel: LogLevel, withTime: boolean): Logger {
  const min = LEVELS.indexOf(minLevel);
  return (level, message, fields) => {
    if (LEVELS.indexOf(level) >= min) term.err(renderLogLine({ time: new Date(), level, message, fields }, format, withTime));
  };
}

/** A terminal whose stderr becomes log lines: what observation prints (`warning: ...`, virsh debug) joins the log. */
function loggingTerminal(term: Terminal, log: Logger): Terminal {
  return {
    ...term,
    err: (text) => {
      for (const line of text.split('\n').filter((l) => l !== '')) {
        const warning = /^warning: (.*)$/.exec(line);
        if (warning) log('warn', warning[1] ?? '', {});
        else log('debug', line, {});
      }
    },
  };
}

/** The desired state restricted to the hosts `names`: what `observeHosts` and `planAll` are given. */
function onlyHosts(desired: DesiredState, names: readonly string[]): DesiredState {
  return { ...desired, hosts: desired.hosts.filter((h) => names.includes(h.name)) };
}

/**
 * Observes the hosts with `observeHosts` (one host down does not hide the others), and remembers the last snapshot
 * of each, which an apply compares against once it holds the lock.
 */
export function agentObserver(inv: Invocation, term: Terminal, log: Logger, last: Map<string, HostSnapshot>): HostObserver {
  const quiet = loggingTerminal(term, log);
  return {
    async observe(desired, hosts) {
      const observations = await observeHosts(onlyHosts(desired, hosts), inv, quiet);
      return observations.map((o): HostObservation => {
        if ('error' in o) return { host: o.host.name, error: o.error };
        last.set(o.host.name, o.snapshot);
        return { host: o.host.name, snapshot: o.snapshot };
      });
    },
  };
}

/** Plans one host with `planAll`. */
export function planOneHost(desired: DesiredState, snapshot: HostSnapshot): HostPlan {
  const plan = planAll(onlyHosts(desired, [snapshot.host]), new Map([[snapshot.host, snapshot]])).hosts[0];
  if (!plan) throw new PassthruError(`the desired state has no host "${snapshot.host}"`);
  return plan;
}

/** Progress of an agent's apply, as log lines: the lines `passthru apply` prints at each step's end. */
function progressLog(host: string, log: Logger): ProgressHooks {
  const lines = progressLines(host, plainStyle);
  const line = (text: string) => text.replace(/\n$/, '');
  return {
    postStep: (i, n, a, r) => log(r.ok ? 'info' : 'error', line(lines.postStep(i, n, a, r)), { host }),
    postUndo: (i, n, r) => log(r.ok ? 'warn' : 'error', line(lines.postUndo(i, n, r)), { host }),
  };
}

/** Where an agent's applies take their lock and write their journal: the same as `passthru apply`'s. */
export interface ApplySettings {
  journalPath: string;
  lockDir: string;
  lockTimeoutMs: number;
  /** Aborted at SIGTERM/SIGINT: the apply in flight starts no new step and rolls back what it did (SPEC 9). */
  signal: AbortSignal;
}

/**
 * `applyHostPlan`: one host's plan applied exactly as `passthru apply --yes` does it — `applyHost` under the same
 * lock and journal, with the same stale check once the lock is held and the same final check — and its outcome
 * turned into the agent's terms. A refusal (lock timeout, stale plan) or a failure is an outcome, not an exception.
 */
export function agentApplier(inv: Invocation, term: Terminal, log: Logger, observer: HostObserver, last: Map<string, HostSnapshot>, settings: ApplySettings): HostApplier {
  const virsh = makeVirsh(inv, loggingTerminal(term, log));
  const driverctl = makeDriverctl(inv, loggingTerminal(term, log));
  return {
    async applyHostPlan(desired: DesiredState, plan: HostPlan): Promise<ApplyOutcome> {
      const host = desired.hosts.find((h) => h.name === plan.name);
      if (!host) throw new PassthruError(`the plan names host "${plan.name}", which the desired state does not declare`);
      const observeNow = async () => {
        const [o] = await observer.observe(desired, [plan.name]);
        if (!o || 'error' in o) throw o?.error ?? new PassthruError(`host ${plan.name} could not be observed`);
        return o.snapshot;
      };
      const planned = last.get(plan.name);
      let moved: string[] = [];
      try {
        const report = await applyHost(plan, {
          virsh,
          driverctl,
          clock: systemClock,
          target: hostTarget({ uri: plan.uri, virsh, root: host.local ? inv.common.root : null }),
          hooks: progressLog(plan.name, log),
          signal: settings.signal,
          journalPath: settings.journalPath,
          lock: {
            dir: settings.lockDir,
            timeoutMs: settings.lockTimeoutMs,
            signal: settings.signal,
            onWait: (o) => log('info', `${plan.name}: waiting up to ${formatDuration(settings.lockTimeoutMs)} for apply PID ${o.pid} (started ${o.startedAt})`, { host: plan.name }),
          },
          onStaleLock: (o) => log('warn', `${plan.name}: took over the lock of apply PID ${o.pid} (started ${o.startedAt}), which is gone; check the journal ${settings.journalPath}`, { host: plan.name }),
          precheck: async () => {
            moved = planned ? staleHosts([planned], [await observeNow()]).flatMap((s) => s.changes) : [];
            return moved;
          },
          finalCheck: async () => planOneHost(desired, await observeNow()).actions.map((a) => `${describeAction(a)}: ${a.reason}`),
        });
        if (report.ok) return { host: plan.name, kind: 'applied', steps: report.steps.length };
        if (report.failure?.kind === 'interrupted') {
          const where = report.restored ? 'everything done was rolled back' : 'rollback could NOT restore the host';
          return {
            host: plan.name,
            kind: 'failed',
            restored: report.restored,
            problems: [
              { severity: 'block', code: 'interrupted', message: `apply ${report.failure.error} after ${report.steps.length} step(s); ${where}`, hint: `the next run of the agent applies the plan again; every command run is in the journal ${settings.journalPath}` },
              ...leftoverProblems(report.leftovers, report.restored),
            ],
          };
        }
        const at = report.failure?.step ? `step ${report.failure.step}${report.failure.action ? ` (${describeAction(report.failure.action)})` : ''}` : 'the final check';
        const hint = `every command run is in the journal ${settings.journalPath}`;
        return {
          host: plan.name,
          kind: 'failed',
          restored: report.restored,
          problems: [
            { severity: 'block', code: 'apply-failed', message: `apply failed at ${at}: ${report.failure?.error ?? ''}; ${report.restored ? 'rolled back' : 'rollback could NOT restore the host'}`, hint },
            ...leftoverProblems(report.leftovers, report.restored),
          ],
        };
      } catch (error) {
        if (moved.length > 0) return { host: plan.name, kind: 'stale', changes: moved };
        if (!(error instanceof PassthruError)) throw error;
        const code = error instanceof LockTimeoutError ? 'lock-timeout' : settings.signal.aborted ? 'interrupted' : 'apply-failed';
        return { host: plan.name, kind: 'failed', restored: true, problems: [{ severity: 'block', code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }] };
      }
    },
  };
}

/** What a rollback left not as it was, as a problem (none when the host was restored). */
function leftoverProblems(leftovers: readonly string[], restored: boolean): StatusProblem[] {
  if (restored) return [];
  return [{ severity: 'block', code: 'rollback-incomplete', message: `not as it was: ${leftovers.join('; ')}`, hint: 'fix these by hand, then the agent converges the host again' }];
}

/** status.json and passthru.prom in `dir`, each replaced atomically. */
export function statusFiles(dir: string): StatusSink {
  return {
    async write(status: AgentStatus, counters: readonly HostCounters[]) {
      try {
        await writeFileAtomic(path.join(dir, STATUS_FILE), `${JSON.stringify(status, null, 2)}\n`);
        await writeFileAtomic(path.join(dir, METRICS_FILE), renderMetrics(status, counters));
      } catch (err) {
        throw new PassthruError(`cannot write the status to ${dir}: ${errorCode(err) ?? String(err)}`, { hint: 'check that --state-dir is writable and has space' });
      }
    },
  };
}
