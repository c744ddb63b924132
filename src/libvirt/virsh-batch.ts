/**
 * virsh's batch protocol, the pure half (the process and its output file are io/execa-virsh.ts): many commands in
 * ONE virsh process (SPEC 8), written on its stdin as lines of `;`-separated commands. Each command is preceded by
 * `echo <nonce>-<i>:` and each line ends with `echo <nonce>-<i>.` (i its last command), so that the merged output
 * can be cut back into one result per command. The nonce is the caller's (random, so that no domain XML can forge a
 * marker); everything here is a function of its arguments.
 *
 * Why stdin and not one argument: virsh parses a whole argument before it runs any of it and holds ~100 KiB per
 * command meanwhile (measured with virsh 9.0: 164 MB of RSS for a batch of 1,140 commands, 41 MB for the same
 * commands as lines), and an argument is limited to 128 KiB. Read from a pipe, virsh echoes each line after its
 * prompt (`virsh # <line>`); the markers are written as `<nonce>"-<i>:"`, which virsh unquotes when it runs the echo
 * but which the echo of the line shows with its quote, so the echo never holds a marker. What lies between a line's
 * end marker and the next line's first marker (prompt, echo) is not any command's output.
 */
import { HostError } from '../errors.js';
import { virshCommandText } from './virsh-quote.js';

/** Outcome of one command inside a batch. */
export interface VirshBatchResult {
  /** False when virsh printed an `error:` for this command. */
  ok: boolean;
  /** What the command printed on stdout. */
  output: string;
  /** virsh's error text (`error: ...` lines, prefix removed), or null. */
  error: string | null;
}

/** A run of consecutive commands of a batch that one virsh process gets; `first` is the index of its first one. */
export interface BatchChunk {
  first: number;
  commands: string[][];
}

/**
 * The script of one virsh process is at most this many bytes (~1,140 commands, ~380 domains at 3 commands each):
 * what one process prints stays within its output budget (execa-virsh.ts, 64 MiB). Longer batches are cut into
 * several processes; each is a batch of its own, so a parse error in a later one is only found after the earlier
 * ones ran — harmless for the read-only batches observation sends.
 */
export const MAX_BATCH_SCRIPT_BYTES = 120_000;

/**
 * Commands per line of the script. virsh parses a line whole before running it, holding ~100 KiB per command
 * meanwhile, and a line it cannot parse runs none of its commands: a few dozen bound both, while few lines keep the
 * prompt's echo short.
 */
export const COMMANDS_PER_LINE = 32;

/** What to check when virsh could not connect or stopped midway. */
export const CONNECT_HINT =
  'check the URI (-c/--connect or hosts.<name>.uri), that libvirtd (or virtqemud) runs on that host and that this ' +
  'user may connect to it (root, or a member of the libvirt group)';

/**
 * Splits the commands into runs whose batch script stays under {@link MAX_BATCH_SCRIPT_BYTES}. A run starts at
 * a multiple of `unit` where it can: a caller that reads `unit` commands per object (3 per domain) gets whole
 * objects in each run, and can work on one run's results while the next runs. (Only a unit over the limit by
 * itself is cut inside; no script is ever over it.)
 */
export function chunkCommands(commands: string[][], unit = 1): BatchChunk[] {
  const sizes = commands.map((argv) => {
    // Plus `echo <24-char nonce>"-<index>:" ; `, the ` ; ` separator and a share of its line's end marker: under
    // 56 bytes for 7-digit indexes.
    const size = Buffer.byteLength(virshCommandText(argv)) + 56;
    if (size > MAX_BATCH_SCRIPT_BYTES) {
      throw new HostError(`virsh command too long for one batch (${size} bytes): ${argv.slice(0, 2).join(' ')} ...`);
    }
    return size;
  });
  const chunks: BatchChunk[] = [];
  let current: BatchChunk | null = null;
  let bytes = 0;
  commands.forEach((argv, i) => {
    const size = sizes[i] as number;
    const unitBytes = i % unit === 0 ? sizes.slice(i, i + unit).reduce((n, x) => n + x, 0) : 0;
    if (current === null || bytes + Math.max(size, unitBytes) > MAX_BATCH_SCRIPT_BYTES) {
      current = { first: i, commands: [] };
      chunks.push(current);
      bytes = 0;
    }
    current.commands.push(argv);
    bytes += size;
  });
  return chunks;
}

/** How virsh gets a batch's script: on its stdin (lines), or as its one argument. */
export type BatchScript = { stdin: string } | { argument: string };

/**
 * The script of a batch: lines of {@link COMMANDS_PER_LINE} commands, each behind the `echo` of its marker, each
 * line closed by the echo of its end marker, for virsh's stdin. A command holding a line break (a domain named
 * so) would split its line, and virsh does not unquote across lines: such a batch is the same commands `;`-joined
 * as one argument instead, as before (its size is bounded by {@link MAX_BATCH_SCRIPT_BYTES}, under the kernel's
 * 128 KiB).
 */
export function batchScript(commands: string[][], nonce: string): BatchScript {
  const texts = commands.map((argv) => virshCommandText(argv));
  const lines: string[] = [];
  for (let first = 0; first < texts.length; first += COMMANDS_PER_LINE) {
    const run = texts.slice(first, first + COMMANDS_PER_LINE).map((text, k) => `echo ${nonce}"-${first + k}:" ; ${text}`);
    lines.push(`${run.join(' ; ')} ; echo ${nonce}"-${first + run.length - 1}."`);
  }
  if (texts.some((t) => /[\r\n]/.test(t))) return { argument: lines.join(' ; ') };
  return { stdin: lines.map((l) => `${l}\n`).join('') };
}

/**
 * The markers `echo` prints in a batch's output: `<nonce>-<i>:` before command i, `<nonce>-<i>.` after the line
 * ending with command i. Group 1 is i, group 2 the kind.
 */
export function markerPattern(nonce: string): RegExp {
  return new RegExp(`${nonce}-(\\d+)([:.])`, 'g');
}

/** A HostError for output over `limit` bytes: of one command (`command`), or of a whole batch process. */
export function outputTooLarge(uri: string, limit: number, command: string[] | null, batchSize?: number): HostError {
  const mib = `${Math.round(limit / (1024 * 1024))} MiB`;
  const what = batchSize === undefined ? 'for one command' : `in one process (a batch of ${batchSize} commands)`;
  return new HostError(
    `virsh printed more than ${mib} ${what} on ${uri}${command === null ? '' : `; it was printing: virsh ${virshCommandText(command)}`}`,
    { hint: 'passthru does not read that much from virsh: look at what that domain or node device holds (`virsh dumpxml`, `virsh nodedev-dumpxml`)' },
  );
}

/**
 * Cuts the merged output of a batch into one result per command; throws when the batch did not run through, or
 * when one command printed more than `commandBytes`. A command's output runs from its marker to the next marker;
 * a command counts as done only when a marker follows it (its output is whole).
 */
export function splitBatchOutput(text: string, nonce: string, commands: string[][], uri: string, commandBytes: number): VirshBatchResult[] {
  const found = [...text.matchAll(markerPattern(nonce))];
  if (found.length === 0) throw batchNotRun(text, commands, uri);

  const results: VirshBatchResult[] = [];
  // Where the text that belongs to no command (after a line's end marker: prompt, echo, a line's parse error) starts.
  let outside = 0;
  let done = 0;
  for (let k = 0; k < found.length; k++) {
    const m = found[k] as RegExpExecArray;
    const index = Number(m[1]);
    const at = m.index;
    if (m[2] === '.') {
      if (index !== results.length - 1) break;
      outside = at + m[0].length;
      continue;
    }
    if (index !== results.length) {
      // A line virsh could not parse prints none of its markers: its error is in the text before the next line.
      if (index > results.length && results.length === done) throw batchNotRun(text.slice(outside, at), commands, uri);
      break;
    }
    const start = at + m[0].length;
    const next = found[k + 1];
    const end = next?.index ?? text.length;
    // Characters, not bytes: libvirt's XML is ASCII but for names, and the limit only needs to be about right.
    if (end - start > commandBytes) throw outputTooLarge(uri, commandBytes, commands[index] ?? null);
    results.push(splitSegment(text.slice(start, end)));
    if (next !== undefined) done = results.length;
  }
  if (done !== commands.length) {
    // The last line virsh could not parse, its error after the last end marker.
    if (done === results.length && done > 0 && /^error: /m.test(withoutPrompts(text.slice(outside)))) {
      throw batchNotRun(text.slice(outside), commands, uri);
    }
    const last = done - 1;
    throw new HostError(
      `virsh stopped after ${done} of ${commands.length} commands on ${uri}` +
        (last >= 0 ? ` (last: ${virshCommandText(commands[last] ?? [])}): ${results[last]?.error ?? ''}` : ''),
      { hint: CONNECT_HINT },
    );
  }
  return results;
}

/** Text with virsh's prompts (`virsh # `, `virsh > ` as non-root) removed from the start of its lines. */
function withoutPrompts(text: string): string {
  return text.replace(/^virsh [#>] /gm, '');
}

/**
 * One command's output. virsh prints a command's error after everything the command wrote on stdout, so the error
 * is the trailing run of `error: ` lines — or the whole segment when it starts with `error: ` (a multi-line
 * message, or a command that failed before printing). An `error: ` line in the middle of the output is data: a
 * domain `<description>` may contain one.
 */
function splitSegment(segment: string): VirshBatchResult {
  if (segment.startsWith('error: ')) return { ok: false, output: '', error: errorText(segment) };
  const lines = segment.split('\n');
  const end = lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  let start = end;
  while (start > 0 && (lines[start - 1] as string).startsWith('error: ')) start--;
  if (start === end) return { ok: true, output: segment, error: null };
  return {
    ok: false,
    output: lines.slice(0, start).join('\n') + '\n',
    error: errorText(lines.slice(start, end).join('\n')),
  };
}

/** The message of `error: ` lines, prefixes removed. */
function errorText(text: string): string {
  return text
    .split('\n')
    .map((l) => (l.startsWith('error: ') ? l.slice('error: '.length) : l))
    .join('\n')
    .trim();
}

/**
 * No marker at all (or none from a line on): virsh ran none of those commands. Either it could not connect, or its
 * parser rejected the line — a parse error (unknown command or option, missing argument) aborts a whole line before
 * anything on it runs.
 */
function batchNotRun(output: string, commands: string[][], uri: string): HostError {
  const text = withoutPrompts(output);
  const message = errorText(
    text
      .split('\n')
      .filter((l) => l.startsWith('error: '))
      .join('\n'),
  );
  if (/failed to connect to the hypervisor/i.test(text)) {
    return new HostError(`cannot connect to ${uri}: ${message.replace(/^failed to connect to the hypervisor\n?/i, '')}`, {
      hint: CONNECT_HINT,
    });
  }
  const culprit = findCulprit(text, commands);
  return new HostError(
    `virsh rejected the batch on ${uri}: ${message || text.trim() || 'no output'}` +
      (culprit ? ` (in: ${virshCommandText(culprit)})` : ''),
  );
}

/** The command a virsh parse error names, when it can be told from the message. */
function findCulprit(text: string, commands: string[][]): string[] | undefined {
  const option = /command '([^']+)' doesn't support option (--\S+)/.exec(text);
  if (option) return commands.find((c) => c[0] === option[1] && c.includes(option[2] as string));
  const named = /(?:unknown command: |command )'([^']+)'/.exec(text);
  return named ? commands.find((c) => c[0] === named[1]) : undefined;
}
