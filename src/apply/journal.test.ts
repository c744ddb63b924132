import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassthruError } from '../errors.js';
import { defaultJournalPath, openJournal, readJournal } from './journal.js';
import type { JournalRecord } from './journal.js';

const clock = { now: () => new Date('2025-06-01T12:00:00.000Z') };
const step = (n: number, result: JournalRecord['result']): JournalRecord => ({
  step: n,
  of: 2,
  phase: 'apply',
  kind: 'nodedev-detach',
  address: '0000:07:00.0',
  attempt: 1,
  command: ['nodedev-detach', 'pci_0000_07_00_0'],
  result,
  exitCode: result === 'started' ? null : 0,
  error: null,
  durationMs: 5,
});

describe('journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-journal-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('appends one JSON line per record, creating the directory', async () => {
    const file = path.join(dir, 'log', 'journal.jsonl');
    const j = await openJournal(file, 'hv1', clock, 'run-1');
    await j.record(step(1, 'started'));
    await j.record(step(1, 'ok'));
    await j.close();
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(JSON.parse(text.split('\n')[0] as string)).toEqual({ time: '2025-06-01T12:00:00.000Z', runId: 'run-1', host: 'hv1', ...step(1, 'started') });
  });

  it('reports a journal it cannot open as a user error with the remedy', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, '');
    const file = path.join(blocker, 'log', 'journal.jsonl');
    const err = await openJournal(file, 'hv1', clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PassthruError);
    expect((err as PassthruError).message).toBe(`cannot open the journal ${file}: ENOTDIR`);
    expect((err as PassthruError).hint).toContain('--journal FILE');
  });

  it('skips and reports a torn last line, and the next run does not glue onto it', async () => {
    const file = path.join(dir, 'journal.jsonl');
    const first = await openJournal(file, 'hv1', clock, 'run-1');
    await first.record(step(1, 'ok'));
    await first.close();
    // A process killed mid-write leaves half a line and no newline.
    await appendFile(file, '{"time":"2025-06-01T12:00:00.000Z","runId":"run-1","st');
    const torn = await readJournal(file);
    expect(torn.entries).toHaveLength(1);
    expect(torn.tornTail).toBe(true);
    expect(torn.skipped).toEqual([{ line: 2, text: '{"time":"2025-06-01T12:00:00.000Z","runId":"run-1","st' }]);

    const next = await openJournal(file, 'hv1', clock, 'run-2');
    await next.record(step(1, 'started'));
    await next.close();
    const after = await readJournal(file);
    expect(after.entries.map((e) => e.runId)).toEqual(['run-1', 'run-2']);
    expect(after.skipped.map((s) => s.line)).toEqual([2]);
    expect(after.tornTail).toBe(false);
  });

  it('defaults to /var/log/passthru unless PASSTHRU_JOURNAL says otherwise', () => {
    expect(defaultJournalPath({})).toBe('/var/log/passthru/journal.jsonl');
    expect(defaultJournalPath({ PASSTHRU_JOURNAL: '/tmp/j.jsonl' })).toBe('/tmp/j.jsonl');
  });
});
