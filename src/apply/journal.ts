/**
 * The apply journal: one JSON line per step, appended and fsync'd before the next step starts, so that after a
 * crash (or `kill -9`) an operator can read exactly which commands ran, which one was in flight, and how they ended.
 * Written for humans reading it with `jq` as much as for passthru itself.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PassthruError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { StepKind } from '../model/plan.js';
import { errorCode } from '../io/error-code.js';
import { makeDirs } from '../io/make-dirs.js';

/** Default journal file; `PASSTHRU_JOURNAL` overrides it. */
const DEFAULT_JOURNAL_PATH = '/var/log/passthru/journal.jsonl';

/** The journal path for this environment. */
export function defaultJournalPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PASSTHRU_JOURNAL || DEFAULT_JOURNAL_PATH;
}

/**
 * One journal line. `result: 'started'` is written before a command runs (write-ahead), so a crash mid-step leaves
 * a `started` line without its outcome: that step's effect on the host is unknown and must be observed.
 */
export interface JournalEntry {
  /** ISO time the line was written. */
  time: string;
  /** Groups the lines of one apply run. */
  runId: string;
  host: string;
  /** 1-based position of the step in the plan; in the rollback phase, the position of the step being undone. */
  step: number;
  /** Steps in the plan. */
  of: number;
  /** `apply`: a planned step; `rollback`: undoing one; `verify`: the whole-host check after the last step. */
  phase: 'apply' | 'verify' | 'rollback';
  /**
   * What ran: a step of the action table, the whole-host check, or `interrupted` (a signal stopped the apply after
   * `step` steps; the rollback lines follow).
   */
  kind: StepKind | 'final-check' | 'interrupted';
  address?: string;
  vm?: string;
  /** 1 for the first try; 2 for the seed's retry of a `nodedev-detach` whose driver did not change. */
  attempt: number;
  /** The virsh argv (without the connection), or null for a step that runs no command. */
  command: string[] | null;
  /** The device XML the command was given: after a crash, the only copy of a removed interface. */
  xml?: string;
  result: 'started' | 'ok' | 'failed';
  /** virsh's exit code; null before it ran or when it was killed by the timeout. */
  exitCode: number | null;
  /** virsh's short message, or what verification observed instead of the expected state. */
  error: string | null;
  durationMs: number;
}

/** The fields a step supplies; the journal adds time, run and host. */
export type JournalRecord = Omit<JournalEntry, 'time' | 'runId' | 'host'>;

/** Where the executor writes its lines. */
export interface Journal {
  /** Appends one line and returns once it is on disk. */
  record(entry: JournalRecord): Promise<void>;
}

/** A journal file opened for one apply run on one host. */
export interface FileJournal extends Journal {
  readonly path: string;
  readonly runId: string;
  close(): Promise<void>;
}

/**
 * Opens (creating it and its directory if needed) the journal at `file` for a run on `host`. A torn last line left
 * by a killed run is terminated first, so it stays one unreadable line instead of corrupting this run's first one.
 * Throws a PassthruError with the remedy when the file cannot be opened.
 */
export async function openJournal(file: string, host: string, clock: Clock, runId: string = randomUUID()): Promise<FileJournal> {
  let handle: FileHandle;
  try {
    await makeDirs(path.dirname(file));
    handle = await open(file, 'a+');
  } catch (err) {
    // Not root, or a read-only /var/log: the user's to fix, and nothing has run yet.
    throw new PassthruError(`cannot open the journal ${file}: ${errorCode(err) ?? String(err)}`, {
      hint: 'run apply as root, or pass --journal FILE (or set PASSTHRU_JOURNAL) to a writable path',
    });
  }
  const { size } = await handle.stat();
  if (size > 0) {
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] !== 0x0a) await handle.write('\n');
  }
  return {
    path: file,
    runId,
    async record(entry) {
      const line: JournalEntry = { time: clock.now().toISOString(), runId, host, ...entry };
      // One write per line: O_APPEND keeps concurrent runs (other hosts) from interleaving inside a line.
      await handle.write(`${JSON.stringify(line)}\n`);
      await handle.sync();
    },
    close: () => handle.close(),
  };
}

/** What `readJournal` found: the readable lines, and the 1-based numbers of lines it had to skip. */
export interface JournalContents {
  entries: JournalEntry[];
  /** Lines that are not JSON: a torn write by a killed process (normally only ever the last line). */
  skipped: { line: number; text: string }[];
  /** True when the file's last line was torn: the writer died while appending it. */
  tornTail: boolean;
}

/** Reads a journal; unreadable lines (a torn tail) are skipped and reported rather than failing the read. */
export async function readJournal(file: string): Promise<JournalContents> {
  const lines = (await readFile(file, 'utf8'))
    .split('\n')
    .map((text, i) => ({ line: i + 1, text }))
    .filter(({ text }) => text.trim() !== '');
  const entries: JournalEntry[] = [];
  const skipped: JournalContents['skipped'] = [];
  for (const l of lines) {
    try {
      entries.push(JSON.parse(l.text) as JournalEntry);
    } catch {
      skipped.push(l);
    }
  }
  return { entries, skipped, tornTail: skipped.length > 0 && skipped.at(-1) === lines.at(-1) };
}
