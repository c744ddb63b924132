import { describe, expect, it } from 'vitest';
import { renderLogLine, type LogRecord } from './log-line.js';

const record: LogRecord = {
  time: new Date('2026-12-01T10:00:00.000Z'),
  level: 'warn',
  message: 'hv1: blocked at revision 3f2a9c1b04de: first\n  second',
  fields: { host: 'hv1', state: 'blocked', changes: 2, revision: null },
};

describe('renderLogLine', () => {
  it('text: a level word and one line; the time only off journald', () => {
    expect(renderLogLine(record, 'text', false)).toBe('warn: hv1: blocked at revision 3f2a9c1b04de: first | second\n');
    expect(renderLogLine(record, 'text', true)).toBe('2026-12-01T10:00:00.000Z warn: hv1: blocked at revision 3f2a9c1b04de: first | second\n');
  });

  it('json: one object per line with time, level, msg and the fields', () => {
    const line = renderLogLine(record, 'json', false);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2026-12-01T10:00:00.000Z',
      level: 'warn',
      msg: 'hv1: blocked at revision 3f2a9c1b04de: first\n  second',
      host: 'hv1',
      state: 'blocked',
      changes: 2,
      revision: null,
    });
  });
});
