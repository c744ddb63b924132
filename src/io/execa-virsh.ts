/**
 * The real {@link Virsh}: runs the `virsh` binary through execa, always with an argv (never a shell), `LC_ALL=C`
 * (so that messages are the English ones matched here) and a timeout.
 *
 * A batch is many commands in ONE virsh process (SPEC 8); how it is written and its output cut back into one
 * result per command is libvirt/virsh-batch.ts. Here is what makes the cut sound: virsh writes
 * data on stdout and `error: ...` on stderr; to know which command an error belongs to, both must arrive in the
 * order virsh wrote them. Two pipes cannot give that — the parent reads them independently, and execa's `all`
 * interleaves by arrival: measured with virsh 9.0, a batch alternating 300 `dumpxml` with 300 failing `domstate`
 * misattributed ~140 errors per run. So the child gets ONE open file description (an unlinked temporary file) as
 * both fd 1 and fd 2: every write lands in order, and virsh flushes stdout before it prints an error.
 *
 * What virsh prints comes from the host and is bounded: a process that prints more than {@link OutputLimits}
 * allow is killed, and one command whose output is over its limit (a 50 MB domain XML) is a HostError naming the
 * command, never a read of unbounded size or an XML parse that takes gigabytes.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { HostError } from '../errors.js';
import {
  batchScript,
  chunkCommands,
  CONNECT_HINT,
  markerPattern,
  outputTooLarge,
  splitBatchOutput,
  type BatchChunk,
  type VirshBatchResult,
} from '../libvirt/virsh-batch.js';
import { virshCommandText } from '../libvirt/virsh-quote.js';
import { describeExit, type Virsh, type VirshRunResult } from './virsh.js';

/** How `createVirsh` finds and runs virsh. */
export interface CreateVirshOptions {
  /** The virsh binary: a name looked up on PATH or a path (`--virsh`). Default: `$PASSTHRU_VIRSH`, else `virsh`. */
  binary?: string;
  /** Receives one line per process started and per command of a batch (`--debug`). */
  debug?: (line: string) => void;
  /** Timeout of one process when a call gives none. Default 60 s. */
  timeoutMs?: number;
  /** How much virsh may print. Defaults: {@link DEFAULT_OUTPUT_LIMITS}. */
  outputLimits?: Partial<OutputLimits>;
}

/** How much one virsh process may print before passthru gives up on it. */
export interface OutputLimits {
  /** All of one process's output (a batch of many commands, or stdout of one). */
  processBytes: number;
  /** The output of one command of a batch (one domain or node device XML). */
  commandBytes: number;
}

/**
 * 64 MiB per process: ~500 domains' XML (a batch process holds at most ~1,500 commands, see libvirt/virsh-batch.ts)
 * at over 40 KiB each, several times what real domains print. 8 MiB per command: a domain XML is 5-50 KiB.
 */
export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { processBytes: 64 * 1024 * 1024, commandBytes: 8 * 1024 * 1024 };

/** How often a running batch's output file is measured against its limit. */
const OUTPUT_POLL_MS = 100;

const DEFAULT_TIMEOUT_MS = 60_000;

/** How long a timed-out virsh gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2_000;

/** LC_ALL=C: the `error:` prefix and the messages matched by callers are the untranslated ones. */
const ENV = { LC_ALL: 'C' };

const MISSING_HINT =
  'install libvirt-clients (Debian/Ubuntu) or libvirt-client (RHEL/Fedora), or point --virsh / PASSTHRU_VIRSH ' +
  'at the virsh binary';

/** Creates the {@link Virsh} that runs the real binary. */
export function createVirsh(options: CreateVirshOptions = {}): Virsh {
  const binary = options.binary ?? process.env.PASSTHRU_VIRSH ?? 'virsh';
  const debug = options.debug ?? (() => {});
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limits: OutputLimits = { ...DEFAULT_OUTPUT_LIMITS, ...options.outputLimits };

  return {
    async batch(uri, commands, callOptions) {
      const results: VirshBatchResult[] = [];
      for (const chunk of chunkCommands(commands)) {
        results.push(...(await runBatch(binary, uri, chunk, callOptions?.timeoutMs ?? defaultTimeout, limits, debug)));
      }
      return results;
    },
    async run(uri, args, callOptions) {
      return runOne(binary, uri, args, callOptions?.timeoutMs ?? defaultTimeout, limits, debug);
    },
  };
}

async function runOne(
  binary: string,
  uri: string,
  args: string[],
  timeoutMs: number,
  limits: OutputLimits,
  debug: (line: string) => void,
): Promise<VirshRunResult> {
  const argv = ['-c', uri, ...args];
  const command = [binary, ...argv];
  debug(`$ ${command.join(' ')}`);
  const { result: r, timedOut } = await withTimeout(
    execa(binary, argv, {
      stdin: 'ignore',
      env: ENV,
      reject: false,
      stripFinalNewline: false,
      detached: true,
      maxBuffer: limits.commandBytes,
    }),
    timeoutMs,
  );
  throwIfNotStarted(r, binary);
  if (r.isMaxBuffer) throw outputTooLarge(uri, limits.commandBytes, args);
  debug(`  exit ${r.exitCode ?? r.signal ?? '?'} in ${Math.round(r.durationMs)} ms${timedOut ? ' (timed out)' : ''}`);
  return {
    exitCode: r.exitCode ?? -1,
    signal: r.signal ?? null,
    stdout: r.stdout,
    stderr: r.stderr,
    timedOut,
    command,
    durationMs: r.durationMs,
  };
}

/**
 * Awaits a virsh started `detached` (its own process group) and, past `timeoutMs`, kills the whole group: SIGTERM,
 * then SIGKILL. Killing virsh alone is not enough — over `qemu+ssh://` its ssh child inherits virsh's stdout and
 * stderr, and a pipe held open by a hung ssh keeps the result pending long after virsh died. Being its own group,
 * virsh also does not get the terminal's Ctrl-C: a step that was started runs to its end (or its timeout).
 */
export async function withTimeout<R>(
  subprocess: Promise<R> & { pid?: number | undefined },
  timeoutMs: number,
): Promise<{ result: R; timedOut: boolean }> {
  let timedOut = false;
  let forceKill: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(subprocess.pid, 'SIGTERM');
    forceKill = setTimeout(() => killGroup(subprocess.pid, 'SIGKILL'), KILL_GRACE_MS);
  }, timeoutMs);
  try {
    return { result: await subprocess, timedOut };
  } finally {
    clearTimeout(timer);
    clearTimeout(forceKill);
  }
}

/** Throws when the binary could not be started at all (missing, not executable). */
function throwIfNotStarted(
  r: { failed: boolean; exitCode?: number | undefined; signal?: string | undefined; code?: string; message?: string },
  binary: string,
): void {
  if (!r.failed || r.exitCode !== undefined || r.signal !== undefined) return;
  if (r.code === 'ENOENT') {
    throw new HostError(`cannot run virsh: "${binary}" was not found`, { hint: MISSING_HINT });
  }
  throw new HostError(`cannot run virsh ("${binary}"): ${r.code ?? r.message ?? 'unknown error'}`, { hint: MISSING_HINT });
}

async function runBatch(
  binary: string,
  uri: string,
  chunk: BatchChunk,
  timeoutMs: number,
  limits: OutputLimits,
  debug: (line: string) => void,
): Promise<VirshBatchResult[]> {
  const { commands } = chunk;
  const nonce = randomBytes(12).toString('hex');
  const script = batchScript(commands, nonce);
  // -q: no blank line after each command and no "Domain ... started" chatter, so a segment is exactly the
  // command's own output (and `echo` prints the marker without a newline). The script is virsh's stdin (why not an
  // argument: libvirt/virsh-batch.ts).
  const argv = 'argument' in script ? ['-q', '-c', uri, script.argument] : ['-q', '-c', uri];
  debug(`$ ${binary} -q -c ${uri} <batch of ${commands.length} commands${'argument' in script ? '' : ' on stdin'}>`);
  commands.forEach((c, i) => debug(`  [${chunk.first + i}] ${virshCommandText(c)}`));

  const file = path.join(tmpdir(), `passthru-virsh-${nonce}.out`);
  const handle = await open(file, 'wx+', 0o600);
  let text: string;
  try {
    // Unlinked at once: nothing is left behind if we crash, and no other process can open it.
    await unlink(file);
    // execa's types admit only the literals 3-9 as a file descriptor; at runtime any open fd is passed to the
    // child as is (execa docs, "stdout: integer").
    const fd = handle.fd as 3;
    const subprocess = execa(binary, argv, { ...('stdin' in script ? { input: script.stdin } : { stdin: 'ignore' as const }), stdout: fd, stderr: fd, env: ENV, reject: false, detached: true });
    // The output goes to a file, not a pipe: measure it while virsh runs, and stop virsh once it is too much.
    const watch = setInterval(() => {
      void handle.stat().then(
        (st) => st.size > limits.processBytes && killGroup(subprocess.pid, 'SIGKILL'),
        () => {},
      );
    }, OUTPUT_POLL_MS);
    const { result: r, timedOut } = await withTimeout(subprocess, timeoutMs).finally(() => clearInterval(watch));
    throwIfNotStarted(r, binary);
    debug(`  exit ${r.exitCode ?? r.signal ?? '?'} in ${Math.round(r.durationMs)} ms`);
    const { size } = await handle.stat();
    if (size > limits.processBytes) {
      const at = await commandPrintingAt(handle, nonce, limits.processBytes);
      throw outputTooLarge(uri, limits.processBytes, at === null ? null : (commands[at] ?? null), commands.length);
    }
    const buffer = Buffer.alloc(size);
    // Read from offset 0: the shared file position is at the end, where virsh's last write left it.
    await handle.read(buffer, 0, size, 0);
    text = buffer.toString('utf8');
    if (timedOut) {
      throw new HostError(`virsh timed out after ${timeoutMs} ms on ${uri} (a batch of ${commands.length} commands)`, {
        hint: CONNECT_HINT,
      });
    }
    // Not one byte, not even an error: only how virsh ended can say what happened (a crash, a kill).
    if (size === 0 && (r.exitCode !== 0 || r.signal !== undefined)) {
      throw new HostError(`virsh printed nothing on ${uri} and ${describeExit({ exitCode: r.exitCode ?? -1, signal: r.signal ?? null })} (a batch of ${commands.length} commands)`, {
        hint: CONNECT_HINT,
      });
    }
  } finally {
    await handle.close();
  }
  return splitBatchOutput(text, nonce, commands, uri, limits.commandBytes);
}

/** Sends `signal` to the process group of a virsh started `detached`; nothing when it is gone. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * The index of the batch command whose output runs through byte `offset` of the output file (the last marker
 * before it), or null when none had started. Read in chunks: the file is over the limit of what is read at once.
 */
async function commandPrintingAt(handle: FileHandle, nonce: string, offset: number): Promise<number | null> {
  const marker = markerPattern(nonce);
  const chunkBytes = 1024 * 1024;
  // A marker cut by a chunk boundary is found in the next chunk, which starts this much earlier.
  const overlap = nonce.length + 16;
  const buffer = Buffer.alloc(chunkBytes);
  let last: number | null = null;
  for (let at = 0; at < offset; at += chunkBytes - overlap) {
    const { bytesRead } = await handle.read(buffer, 0, chunkBytes, at);
    if (bytesRead === 0) break;
    for (const m of buffer.toString('latin1', 0, bytesRead).matchAll(marker)) last = Number(m[1]);
  }
  return last;
}
