/**
 * Command-line parsing, pure: argv and environment in, a typed `Invocation` out (or a UsageError). Nothing here
 * reads files or the host, so every flag combination is unit-testable.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { parseBatches, type BatchSize } from '../apply/waves.js';
import { parseDuration } from '../model/duration.js';
import { agentOptions, type AgentOptions } from './agent-args.js';

export const COMMANDS = ['validate', 'doctor', 'observe', 'plan', 'apply', 'check', 'import', 'agent', 'status', 'verify'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Options every command understands (SPEC 4 "common flags"). */
export interface CommonOptions {
  file: string;
  /** `-f` was given: a missing file is an error even where a command could do without one (observe, import). */
  fileGiven: boolean;
  /** `-c URI`: one host at this URI instead of the file's hosts. */
  connect: string | null;
  /** `--host NAME` (repeatable): only these hosts of the file; empty = every host (SPEC 12). */
  hosts: string[];
  root: string;
  virsh: string;
  noColor: boolean;
  quiet: boolean;
  debug: boolean;
}

export interface Invocation {
  command: CommandName | 'help' | 'version';
  /** For `help`: the command asked about, if any. */
  topic?: CommandName;
  common: CommonOptions;
  snapshot: string | null;
  format: string;
  detailedExitcode: boolean;
  out: string | null;
  yes: boolean;
  lockTimeout: string;
  journal: string | null;
  json: boolean;
  /** import: replace an existing -o file. */
  force: boolean;
  planFile: string | null;
  /** `passthru agent` and `passthru status` (SPEC 9). */
  agent: AgentOptions;
  /** `--parallelism N`: at most this many hosts worked on at once (SPEC 12). */
  parallelism: number;
  /** `apply --batches LIST`: the sizes of the rollout's waves (apply/waves.ts); null = one wave of every host. */
  batches: BatchSize[] | null;
  /** `apply --max-failures K`: failed hosts tolerated before no further wave starts (SPEC 12). */
  maxFailures: number;
  /** `verify --qmp`: ask QEMU's monitor when the guest agent does not answer (SPEC 13). */
  qmp: boolean;
  /**
   * `verify --guest-timeout DUR` (and `apply --verify`): how long a guest has to run the PCI listing, in ms. Parsed
   * here, so that a wrong value stops `apply --verify` before anything is applied.
   */
  guestTimeoutMs: number;
  /** `apply --verify`: run `verify` on the VMs changed live, after the apply. */
  verify: boolean;
}

/**
 * `--guest-timeout` when not given: the listing takes milliseconds in an idle guest, but a busy one runs it late
 * (the lab's nested L2: 17 s quiet, minutes beside other work); past it the device is `unknown`, never `seen`.
 */
export const DEFAULT_GUEST_TIMEOUT = '30s';

/** `--parallelism` when not given (SPEC 12). */
export const DEFAULT_PARALLELISM = 10;

/**
 * The `--format`s of each command that prints a report, the default first. `json` is the one spelling of machine
 * output everywhere. Each has its renderer in cli/reporters.ts (the compiler checks that every one has).
 */
export const FORMATS = {
  validate: ['text', 'json'],
  doctor: ['text', 'json'],
  observe: ['json'],
  plan: ['text', 'json', 'diff', 'sh'],
  check: ['text', 'json', 'junit'],
  import: ['yaml'],
  apply: ['text', 'json'],
  status: ['text', 'json'],
  verify: ['text', 'json'],
} as const satisfies Partial<Record<CommandName, readonly string[]>>;

const options = {
  file: { type: 'string', short: 'f' },
  connect: { type: 'string', short: 'c' },
  host: { type: 'string', multiple: true },
  root: { type: 'string' },
  virsh: { type: 'string' },
  'no-color': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  snapshot: { type: 'string' },
  format: { type: 'string' },
  'detailed-exitcode': { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  yes: { type: 'boolean', short: 'y' },
  'lock-timeout': { type: 'string' },
  journal: { type: 'string' },
  json: { type: 'boolean' },
  source: { type: 'string' },
  mode: { type: 'string' },
  interval: { type: 'string' },
  'state-dir': { type: 'string' },
  once: { type: 'boolean' },
  'verify-signatures': { type: 'boolean' },
  'log-format': { type: 'string' },
  parallelism: { type: 'string' },
  batches: { type: 'string' },
  'max-failures': { type: 'string' },
  force: { type: 'boolean' },
  qmp: { type: 'boolean' },
  'guest-timeout': { type: 'string' },
  verify: { type: 'boolean' },
} as const;

/** Which flags each command accepts beyond the common ones; anything else is a usage error. */
const ACCEPTS: Record<CommandName, readonly string[]> = {
  validate: ['format'],
  doctor: ['format', 'parallelism'],
  observe: ['out', 'format', 'parallelism'],
  plan: ['snapshot', 'format', 'detailed-exitcode', 'out', 'parallelism'],
  apply: ['yes', 'lock-timeout', 'journal', 'json', 'format', 'parallelism', 'batches', 'max-failures', 'verify', 'qmp', 'guest-timeout'],
  check: ['snapshot', 'format', 'parallelism'],
  import: ['out', 'snapshot', 'format', 'parallelism', 'force'],
  agent: ['source', 'mode', 'interval', 'state-dir', 'once', 'verify-signatures', 'log-format', 'lock-timeout', 'journal'],
  status: ['state-dir', 'format'],
  verify: ['format', 'parallelism', 'qmp', 'guest-timeout'],
};
const COMMON = ['file', 'connect', 'host', 'root', 'virsh', 'no-color', 'quiet', 'debug', 'help', 'version'];

export function parseInvocation(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ''), {
      hint: 'run `passthru --help` for the commands and `passthru COMMAND --help` for their flags',
    });
  }
  const { values: v, positionals } = parsed;
  const [first, ...rest] = positionals;
  const common: CommonOptions = {
    file: v.file ?? 'passthrough.yaml',
    fileGiven: v.file !== undefined,
    connect: v.connect ?? null,
    hosts: [...new Set(v.host ?? [])],
    root: v.root ?? env.PASSTHRU_ROOT ?? '/',
    virsh: v.virsh ?? env.PASSTHRU_VIRSH ?? 'virsh',
    noColor: v['no-color'] ?? false,
    quiet: v.quiet ?? false,
    debug: v.debug ?? false,
  };
  const base: Invocation = {
    command: 'help',
    common,
    snapshot: v.snapshot ?? null,
    format: v.format ?? 'text',
    detailedExitcode: v['detailed-exitcode'] ?? false,
    out: v.out ?? null,
    yes: v.yes ?? false,
    lockTimeout: v['lock-timeout'] ?? '0s',
    journal: v.journal ?? env.PASSTHRU_JOURNAL ?? null,
    json: v.json ?? false,
    force: v.force ?? false,
    planFile: null,
    agent: agentOptions({}),
    parallelism: DEFAULT_PARALLELISM,
    batches: null,
    maxFailures: 0,
    qmp: v.qmp ?? false,
    guestTimeoutMs: parseDuration(v['guest-timeout'] ?? DEFAULT_GUEST_TIMEOUT),
    verify: v.verify ?? false,
  };
  if (v.version) return { ...base, command: 'version' };
  if (first === undefined || first === 'help') {
    const topic = rest[0];
    if (topic !== undefined && !isCommand(topic)) throw unknownCommand(topic);
    return { ...base, command: 'help', ...(topic ? { topic } : {}) };
  }
  if (!isCommand(first)) throw unknownCommand(first);
  if (v.help) return { ...base, command: 'help', topic: first };

  const given = Object.keys(v).filter((k) => v[k as keyof typeof v] !== undefined);
  const stray = given.filter((k) => !COMMON.includes(k) && !ACCEPTS[first].includes(k));
  if (stray.length > 0) {
    throw new UsageError(`passthru ${first} does not take --${stray[0]}`, { hint: `see \`passthru ${first} --help\`` });
  }
  const allowed = formatsOf(first);
  if (v.format !== undefined && allowed && !allowed.includes(v.format)) {
    throw new UsageError(`unknown --format "${v.format}" for ${first}`, { hint: `use one of: ${allowed.join(', ')}` });
  }
  const maxPositionals = first === 'apply' ? 1 : 0;
  if (rest.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${rest[maxPositionals]}"`, { hint: `see \`passthru ${first} --help\`` });
  }
  if (first === 'apply' && rest[0] !== undefined && (v.file !== undefined || v.connect !== undefined || v.host !== undefined)) {
    throw new UsageError(`a saved plan carries its desired state and hosts: apply ${rest[0]} takes neither -f, -c nor --host`, {
      hint: 'to plan another file or host, run passthru plan -f FILE --host NAME -o PLANFILE first',
    });
  }
  const agent = first === 'agent' || first === 'status' ? agentOptions(v) : base.agent;
  return {
    ...base,
    command: first,
    format: v.format ?? allowed?.[0] ?? 'text',
    planFile: first === 'apply' ? (rest[0] ?? null) : null,
    agent,
    ...(v.parallelism !== undefined ? { parallelism: parseParallelism(v.parallelism) } : {}),
    ...(v.batches !== undefined ? { batches: parseBatches(v.batches) } : {}),
    ...(v['max-failures'] !== undefined ? { maxFailures: parseMaxFailures(v['max-failures']) } : {}),
  };
}

/** `--parallelism N`: a whole number of hosts, at least 1 (`0` would mean "never start", not "unbounded"). */
function parseParallelism(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--parallelism must be a whole number of hosts, at least 1; got "${text}"`, {
      hint: `e.g. --parallelism 5 (default ${DEFAULT_PARALLELISM}); --parallelism 1 works on one host at a time`,
    });
  }
  return n;
}

/** `--max-failures K`: a whole number of hosts, 0 or more. */
function parseMaxFailures(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--max-failures must be a whole number of hosts, 0 or more; got "${text}"`, {
      hint: 'e.g. --max-failures 1 lets the rollout go on after one failed host (default 0: stop at the first)',
    });
  }
  return n;
}

/** The formats `command` prints, or undefined for one that takes no --format. */
function formatsOf(command: CommandName): readonly string[] | undefined {
  return command in FORMATS ? FORMATS[command as keyof typeof FORMATS] : undefined;
}

function isCommand(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

function unknownCommand(name: string): UsageError {
  return new UsageError(`unknown command "${name}"`, { hint: `commands: ${COMMANDS.join(', ')}; see \`passthru --help\`` });
}
