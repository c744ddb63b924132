/**
 * The agent's log: one line per event on stderr (SPEC 9). `text` is for journald and people — a level word, the
 * message, and a time only when not under journald (which stamps lines itself); `json` is one object per line
 * for log shippers, in the field names of Go's slog (`time`, `level`, `msg`) that most of them map by default.
 */

/** `--log-format`. */
export type LogFormat = 'text' | 'json';

/** One log event. */
export interface LogRecord {
  time: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  /** Machine-readable context (host, state, revision, ...); only the JSON form carries it. */
  fields: Record<string, string | number | null>;
}

/** The line for `record`, with its newline. */
export function renderLogLine(record: LogRecord, format: LogFormat, withTime: boolean): string {
  if (format === 'json') {
    return `${JSON.stringify({ time: record.time.toISOString(), level: record.level, msg: record.message, ...record.fields })}\n`;
  }
  // A message never spans lines: a multi-line one (a plan problem) would be split into several journal entries.
  const message = record.message.replace(/\n\s*/g, ' | ');
  return `${withTime ? `${record.time.toISOString()} ` : ''}${record.level}: ${message}\n`;
}
