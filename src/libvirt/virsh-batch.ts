/**
 * virsh's batch protocol, the pure half (the process and its output file are io/execa-virsh.ts): many commands in
 * ONE virsh process (SPEC 8), passed as one argument of `;`-separated commands, each preceded by `echo <nonce>-<i>:`
 * so that the merged output can be cut back into one result per command. The nonce is the caller's (random, so that
 * no domain XML can forge a marker); everything here is a function of its arguments.
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
 * Linux refuses a single argv element longer than MAX_ARG_STRLEN (128 KiB, E2BIG), which observing ~380 domains
 * (3 commands each) reaches. Longer batches are cut into several processes of at most this many bytes; each is a
 * batch of its own, so a parse error in a later one is only found after the earlier ones ran — harmless for the
 * read-only batches observation sends.
 */
export const MAX_BATCH_ARG_BYTES = 120_000;

/** What to check when virsh could not connect or stopped midway. */
export const CONNECT_HINT =
  'check the URI (-c/--connect or hosts.<name>.uri), that libvirtd (or virtqemud) runs on that host and that this ' +
  'user may connect to it (root, or a member of the libvirt group)';

/**
 * Splits the commands into runs whose batch argument stays under the kernel's per-argument limit. A run starts at
 * a multiple of `unit` where it can: a caller that reads `unit` commands per object (3 per domain) gets whole
 * objects in each run, and can work on one run's results while the next runs. (Only a unit over the limit by
 * itself is cut inside; no argument is ever over it.)
 */
export function chunkCommands(commands: string[][], unit = 1): BatchChunk[] {
  const sizes = commands.map((argv) => {
    // Plus `echo <24-char nonce>-<index>: ; ` and the ` ; ` separator: at most 48 bytes for 7-digit indexes.
    const size = Buffer.byteLength(virshCommandText(argv)) + 48;
    if (size > MAX_BATCH_ARG_BYTES) {
      throw new HostError(`virsh command too long for one argument (${size} bytes): ${argv.slice(0, 2).join(' ')} ...`);
    }
    return size;
  });
  const chunks: BatchChunk[] = [];
  let current: BatchChunk | null = null;
  let bytes = 0;
  commands.forEach((argv, i) => {
    const size = sizes[i] as number;
    const unitBytes = i % unit === 0 ? sizes.slice(i, i + unit).reduce((n, x) => n + x, 0) : 0;
    if (current === null || bytes + Math.max(size, unitBytes) > MAX_BATCH_ARG_BYTES) {
      current = { first: i, commands: [] };
      chunks.push(current);
      bytes = 0;
    }
    current.commands.push(argv);
    bytes += size;
  });
  return chunks;
}

/** The one argument virsh gets for a batch: each command behind the `echo` of its marker, `;`-joined. */
export function batchScript(commands: string[][], nonce: string): string {
  return commands.map((argv, i) => `echo ${nonce}-${i}: ; ${virshCommandText(argv)}`).join(' ; ');
}

/** The `<nonce>-<i>:` marker that `echo` prints before command i of a batch; group 1 is i. */
export function markerPattern(nonce: string): RegExp {
  return new RegExp(`${nonce}-(\\d+):`, 'g');
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
 * when one command printed more than `commandBytes`.
 */
export function splitBatchOutput(text: string, nonce: string, commands: string[][], uri: string, commandBytes: number): VirshBatchResult[] {
  const marker = markerPattern(nonce);
  const found = [...text.matchAll(marker)];
  if (found.length === 0) throw batchNotRun(text, commands, uri);

  const results: VirshBatchResult[] = [];
  found.forEach((m, k) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = found[k + 1]?.index ?? text.length;
    // Characters, not bytes: libvirt's XML is ASCII but for names, and the limit only needs to be about right.
    if (end - start > commandBytes) throw outputTooLarge(uri, commandBytes, commands[k] ?? null);
    results.push(splitSegment(text.slice(start, end)));
  });
  if (results.length !== commands.length || found.some((m, k) => m[1] !== String(k))) {
    const last = results.length - 1;
    throw new HostError(
      `virsh stopped after ${results.length} of ${commands.length} commands on ${uri}` +
        (last >= 0 ? ` (last: ${virshCommandText(commands[last] ?? [])}): ${results[last]?.error ?? ''}` : ''),
      { hint: CONNECT_HINT },
    );
  }
  return results;
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
 * No marker at all: virsh ran none of the commands. Either it could not connect, or its parser rejected the batch
 * — a parse error (unknown command or option, missing argument) aborts the whole batch before anything runs.
 */
function batchNotRun(text: string, commands: string[][], uri: string): HostError {
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
