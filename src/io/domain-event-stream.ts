/**
 * libvirt's domain events for the agent (SPEC 9): ONE long-lived `virsh -c URI event --all --loop` per host, its
 * lines parsed as they come. Events are only a hint to reconcile sooner; the interval still polls. So a stream that
 * cannot start or dies (libvirtd restarted, ssh dropped) is logged and restarted with backoff (1 s doubling to
 * 5 min, reset once a stream has run for a minute), and the agent meanwhile polls.
 *
 * Each virsh runs in its own process group, killed as a group on stop: a virsh wrapper (or virsh's ssh child over
 * `qemu+ssh://`) would otherwise outlive the agent holding the pipe open.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { changesHostdevs, parseDomainEventLine, type DomainEvent } from '../agent/domain-event.js';
import type { DomainEvents, Logger } from '../agent/ports.js';
import { formatDuration } from '../model/duration.js';

/** How the streams run. */
export interface DomainEventStreamOptions {
  /** The virsh binary (`--virsh`). */
  binary: string;
  /** A relevant event (lifecycle or device change) on host `host`. */
  onEvent(host: string, event: DomainEvent): void;
  log: Logger;
  /** Restart delays: first, and cap. Default 1 s and 5 min. */
  restartMs?: { initial: number; max: number };
  /** A stream that ran this long resets the restart delay. Default 60 s. */
  stableMs?: number;
}

interface Stream {
  name: string;
  uri: string;
  child: ResultPromise | null;
  restart: NodeJS.Timeout | null;
  delayMs: number;
  stopped: boolean;
}

/** Follows domain events of the hosts it is told to follow. */
export function createDomainEvents(o: DomainEventStreamOptions): DomainEvents {
  const restart = o.restartMs ?? { initial: 1_000, max: 300_000 };
  const stableMs = o.stableMs ?? 60_000;
  const streams = new Map<string, Stream>();

  function start(s: Stream): void {
    if (s.stopped) return;
    const startedAt = Date.now();
    const child = execa(o.binary, ['-c', s.uri, 'event', '--all', '--loop'], {
      env: { LC_ALL: 'C' },
      stdin: 'ignore',
      reject: false,
      detached: true,
      buffer: { stdout: false, stderr: true },
    });
    s.child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = parseDomainEventLine(line);
      if (e && changesHostdevs(e)) o.onEvent(s.name, e);
    });
    void child.then((r) => {
      s.child = null;
      if (s.stopped) return;
      if (Date.now() - startedAt >= stableMs) s.delayMs = restart.initial;
      const why = r.stderr.split('\n').filter((l) => l.startsWith('error:')).join(' ') || (r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode ?? '?'}`);
      o.log('warn', `${s.name}: libvirt domain events stopped (${why}); polling every interval meanwhile, restarting the stream in ${formatDuration(s.delayMs)}`, { host: s.name });
      s.restart = setTimeout(() => {
        s.restart = null;
        start(s);
      }, s.delayMs);
      s.delayMs = Math.min(restart.max, s.delayMs * 2);
    });
  }

  async function stop(s: Stream): Promise<void> {
    s.stopped = true;
    if (s.restart) clearTimeout(s.restart);
    const child = s.child;
    if (!child) return;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // ESRCH: already gone.
    }
    await child;
  }

  return {
    follow(hosts) {
      const wanted = new Map(hosts.map((h) => [`${h.name} ${h.uri}`, h]));
      for (const [key, s] of streams) {
        if (!wanted.has(key)) {
          streams.delete(key);
          void stop(s);
        }
      }
      for (const [key, h] of wanted) {
        if (streams.has(key)) continue;
        const s: Stream = { name: h.name, uri: h.uri, child: null, restart: null, delayMs: restart.initial, stopped: false };
        streams.set(key, s);
        start(s);
      }
    },
    async close() {
      const all = [...streams.values()];
      streams.clear();
      await Promise.all(all.map(stop));
    },
  };
}
