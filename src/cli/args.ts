/**
 * Command-line parsing, pure: argv and environment in, a typed `Invocation` out (or a UsageError). Nothing here
 * reads files or the host, so every flag combination is unit-testable.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

export const COMMANDS = ['validate', 'doctor', 'observe', 'plan', 'apply', 'check', 'import'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What `plan --format` renders. */
export type PlanFormat = 'text' | 'json' | 'diff' | 'sh';

/** Options every command understands (SPEC 4 "common flags"). */
export interface CommonOptions {
  file: string;
  /** `-f` was given: a missing file is an error even where a command could do without one (observe, import). */
  fileGiven: boolean;
  /** `-c URI`: one host at this URI instead of the file's hosts. */
  connect: string | null;
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
}

const FORMATS: Partial<Record<CommandName, readonly string[]>> = {
  plan: ['text', 'json', 'diff', 'sh'],
  check: ['text', 'json', 'junit'],
  doctor: ['text', 'json'],
  validate: ['text', 'json'],
};

const options = {
  file: { type: 'string', short: 'f' },
  connect: { type: 'string', short: 'c' },
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
  force: { type: 'boolean' },
} as const;

/** Which flags each command accepts beyond the common ones; anything else is a usage error. */
const ACCEPTS: Record<CommandName, readonly string[]> = {
  validate: ['format'],
  doctor: ['format'],
  observe: ['out'],
  plan: ['snapshot', 'format', 'detailed-exitcode', 'out'],
  apply: ['yes', 'lock-timeout', 'journal', 'json'],
  check: ['snapshot', 'format'],
  import: ['out', 'snapshot', 'force'],
};
const COMMON = ['file', 'connect', 'root', 'virsh', 'no-color', 'quiet', 'debug', 'help', 'version'];

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
  const allowed = FORMATS[first];
  if (v.format !== undefined && allowed && !allowed.includes(v.format)) {
    throw new UsageError(`unknown --format "${v.format}" for ${first}`, { hint: `use one of: ${allowed.join(', ')}` });
  }
  const maxPositionals = first === 'apply' ? 1 : 0;
  if (rest.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${rest[maxPositionals]}"`, { hint: `see \`passthru ${first} --help\`` });
  }
  if (first === 'apply' && rest[0] !== undefined && (v.file !== undefined || v.connect !== undefined)) {
    throw new UsageError(`a saved plan carries its desired state and hosts: apply ${rest[0]} takes neither -f nor -c`, {
      hint: 'to plan another file or host, run passthru plan -f FILE -c URI -o PLANFILE first',
    });
  }
  return { ...base, command: first, planFile: first === 'apply' ? (rest[0] ?? null) : null };
}

function isCommand(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

function unknownCommand(name: string): UsageError {
  return new UsageError(`unknown command "${name}"`, { hint: `commands: ${COMMANDS.join(', ')}; see \`passthru --help\`` });
}
