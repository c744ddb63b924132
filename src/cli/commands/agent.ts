/**
 * `passthru agent` (SPEC 9): keeps the hosts of a file or a git source converged (apply mode) or watched for drift
 * (check mode), unattended. This is wiring only: flags → the source, the ports and the agent's config, then the
 * loop (`agent/loop.ts`) until it exits.
 */
import { randomInt } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { defaultJournalPath } from '../../apply/journal.js';
import { defaultStateDir } from '../../apply/lock.js';
import { parseDuration } from '../../model/duration.js';
import { DEFAULT_BACKOFF } from '../../agent/backoff.js';
import type { AgentConfig, LogLevel } from '../../agent/decide.js';
import { runAgent } from '../../agent/loop.js';
import type { DesiredSource, Signals } from '../../agent/ports.js';
import { describeSource, parseSourceSpec, type SourceSpec } from '../../agent/source-spec.js';
import { withConnectUri } from '../../desired/connect.js';
import { loadDesiredState } from '../../desired/load.js';
import { PassthruError, UsageError } from '../../errors.js';
import { createDomainEvents } from '../../io/domain-event-stream.js';
import { fileSource } from '../../io/file-source.js';
import { createGit } from '../../io/git.js';
import { gitSource } from '../../io/git-source.js';
import { makeDirs } from '../../io/make-dirs.js';
import { processSignals } from '../../io/signals.js';
import { systemTimers } from '../../io/timers.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import { errorCode } from '../../io/error-code.js';
import type { Invocation } from '../args.js';
import { agentApplier, agentObserver, planOneHost, statusFiles, stderrLogger } from '../agent-ports.js';
import type { Terminal } from '../terminal.js';

/** Quiet time after a domain event or a file change before reconciling, and the longest a burst can delay it. */
const DEBOUNCE_MS = 2_000;
const DEBOUNCE_MAX_MS = 10_000;

/** The state dir must exist and be writable before anything else: every reconcile writes its status there. */
async function prepareStateDir(dir: string): Promise<void> {
  try {
    await makeDirs(dir);
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new PassthruError(`cannot use the state dir ${dir}: ${errorCode(err) ?? String(err)}`, {
      hint: 'run the agent as root (the systemd unit does), or pass --state-dir DIR that this user may write',
    });
  }
}

function sourceOf(spec: SourceSpec, inv: Invocation, term: Terminal): DesiredSource {
  if (spec.kind === 'file') return fileSource(spec.path);
  const git = createGit(inv.common.debug ? { debug: (line) => term.err(`[git] ${line}\n`) } : {});
  return gitSource({ git, spec, cacheDir: path.join(inv.agent.stateDir, 'source'), verifySignatures: inv.agent.verifySignatures });
}

export async function runAgentCommand(inv: Invocation, term: Terminal): Promise<number> {
  const o = inv.agent;
  const intervalMs = parseDuration(o.interval);
  if (intervalMs <= 0) throw new UsageError(`--interval must be longer than 0 (got "${o.interval}")`, { hint: 'e.g. --interval 60s' });
  const lockTimeoutMs = parseDuration(o.lockTimeout);
  const parsed = parseSourceSpec(o.source ?? inv.common.file);
  // A relative file is made absolute now: status.json says where the agent reads, whatever the reader's directory.
  const spec: SourceSpec = parsed.kind === 'file' ? { kind: 'file', path: path.resolve(parsed.path) } : parsed;
  await prepareStateDir(o.stateDir);
  const minLevel: LogLevel = inv.common.debug ? 'debug' : inv.common.quiet ? 'warn' : 'info';
  // Under journald (JOURNAL_STREAM is set for a unit's stderr) lines are time-stamped by the journal.
  const log = stderrLogger(term, o.logFormat, minLevel, term.env.JOURNAL_STREAM === undefined);
  const snapshots = new Map<string, HostSnapshot>();
  // SIGTERM/SIGINT reach the loop (which starts nothing new and exits 0 once the cycle in flight ends) and, through
  // this abort, the apply in flight: like `passthru apply`, it starts no new step and rolls back what it did (SPEC 9).
  const stop = new AbortController();
  const signals: Signals = {
    on: (handler) =>
      processSignals.on((signal) => {
        if (signal !== 'SIGHUP' && !stop.signal.aborted) stop.abort(signal);
        handler(signal);
      }),
  };
  const observer = agentObserver(inv, term, log, snapshots);
  const config: AgentConfig = {
    mode: o.mode,
    once: o.once,
    intervalMs,
    debounceMs: DEBOUNCE_MS,
    debounceMaxMs: DEBOUNCE_MAX_MS,
    backoff: DEFAULT_BACKOFF,
    pid: process.pid,
    location: describeSource(spec),
  };
  log('info', `passthru agent: ${o.mode} mode, source ${config.location}, ${o.once ? 'once' : `every ${o.interval}`}, status in ${o.stateDir}`, {
    mode: o.mode,
    source: config.location,
  });
  return runAgent(
    config,
    {
      source: sourceOf(spec, inv, term),
      load: (text, file) => {
        const state = loadDesiredState(text, file);
        return inv.common.connect ? withConnectUri(state, inv.common.connect) : state;
      },
      observer,
      plan: planOneHost,
      applier: agentApplier(inv, term, log, observer, snapshots, {
        journalPath: inv.journal ?? defaultJournalPath(term.env),
        lockDir: defaultStateDir(term.env),
        lockTimeoutMs,
        signal: stop.signal,
      }),
      sink: statusFiles(o.stateDir),
      events: o.once ? null : (onEvent) => createDomainEvents({ binary: inv.common.virsh, onEvent: (host) => onEvent(host), log }),
      timers: systemTimers,
      signals,
      log,
    },
    randomInt(2 ** 32),
  );
}
