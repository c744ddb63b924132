/**
 * The hostile-input corpus (test/fixtures/hostile/README.md) through the real CLI: every case is refused with exit
 * 1 and a positioned `FILE:LINE:COL:` error with a hint, never a stack trace, starts no virsh process, and ends
 * within a bound; the huge ones also within 256 MB of heap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSavedPlanIsItsOwn, parseSavedPlan } from '../src/apply/saved-plan.js';
import { runCli } from './helpers/run-cli.js';
import type { CliResult } from './helpers/run-cli.js';
import { buildSourceCli } from './helpers/source-cli.js';
import type { ProcessResult } from './helpers/source-cli.js';
import { createVirshShim } from './helpers/virsh-shim.js';
import type { VirshShim } from './helpers/virsh-shim.js';

const HOSTILE = 'test/fixtures/hostile';
const SEED_YAML = 'examples/seed/passthrough.yaml';
const SEED_SNAPSHOT = 'examples/seed/snapshot.json';
/** Generous: a refusal takes milliseconds; this catches a hang or a quadratic blow-up, not a slow machine. */
const BOUND_MS = 10_000;

const files = (dir: string) => readdirSync(path.join(HOSTILE, dir)).sort().map((name) => path.join(HOSTILE, dir, name));

let shim: VirshShim;
let tmp: string;
/** An empty --root: should anything get as far as observing, it finds no host to read. */
let emptyRoot: string;
let sourceCli: Awaited<ReturnType<typeof buildSourceCli>>;

beforeAll(async () => {
  // The shim runs /bin/false, not virsh: a case that got through could not reach libvirt, and it is still counted.
  shim = await createVirshShim('/bin/false');
  tmp = await mkdtemp(path.join(tmpdir(), 'passthru-hostile-'));
  emptyRoot = await mkdtemp(path.join(tmpdir(), 'passthru-hostile-root-'));
  sourceCli = await buildSourceCli(tmp);
});

afterAll(async () => {
  await shim.cleanup();
  await rm(tmp, { recursive: true, force: true });
  await rm(emptyRoot, { recursive: true, force: true });
});

const env = () => ({ PASSTHRU_VIRSH: shim.binary, PATH: `${shim.dir}${path.delimiter}${process.env.PATH ?? ''}` });
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The checks every refusal must pass; `where` is the file (or `-c`) its position must name. */
async function expectRefused(result: CliResult | ProcessResult, where: string, ms: number): Promise<void> {
  const said = `${result.stderr}${result.stdout}`;
  expect(result.code, said).toBe(1);
  expect(result.stderr, 'a positioned error, with a hint').toMatch(new RegExp(`^Error: ${escapeRegExp(where)}:\\d+:\\d+: \\S[^\\n]*\\n {2}fix: \\S`));
  expect(said).not.toMatch(/internal error|\n\s+at \S+ \(|TypeError|RangeError/);
  expect(await shim.count(), 'virsh processes started').toBe(0);
  expect(ms).toBeLessThan(BOUND_MS);
}

async function refuses(argv: string[], where: string): Promise<void> {
  await shim.reset();
  const start = performance.now();
  const result = await runCli(argv, { env: env() });
  await expectRefused(result, where, performance.now() - start);
}

describe('hostile desired-state files', () => {
  it.each(files('desired'))('%s', async (file) => {
    await refuses(['validate', '-f', file], file);
    await refuses(['plan', '-f', file, '--snapshot', SEED_SNAPSHOT], file);
    await refuses(['apply', '-f', file, '--root', emptyRoot], file);
  });
});

/** One case derived from base.yaml: its text and what was changed. */
interface Mutation {
  name: string;
  text: string;
}

// Names under hosts: and vms: are the user's: misspelling one makes another valid name.
const isUserName = (path: readonly (string | number)[]) => path.length === 2 && (path[0] === 'hosts' || path[0] === 'vms');

/** A value of every type but the one `node` has. */
function wrongValues(node: Node): unknown[] {
  if (isMap(node)) return ['text', 42, [], null];
  if (isSeq(node)) return ['text', 42, {}, null];
  if (isScalar(node) && typeof node.value === 'boolean') return ['true', 1, [], null];
  if (isScalar(node) && typeof node.value === 'number') return [String(node.value), true, 1.5, [], null];
  return [42, true, [], {}, null];
}

/** Every schema key of base.yaml misspelt (one letter dropped), and every value replaced by each wrong type. */
function mutations(): Mutation[] {
  const base = readFileSync(path.join(HOSTILE, 'base.yaml'), 'utf8');
  const found: Mutation[] = [];
  const walk = (node: Node, path: (string | number)[]) => {
    if (isSeq(node)) node.items.forEach((item, i) => walk(item as Node, [...path, i]));
    if (!isMap(node)) return;
    for (const [i, pair] of (node.items as Pair<Node, Node>[]).entries()) {
      const key = String((pair.key as { value: unknown }).value);
      const at = [...path, key];
      const where = at.join('.');
      if (!isUserName(at)) {
        const typo = `${key.slice(0, 1)}${key.slice(2)}`;
        found.push({ name: `${where}: key misspelt as ${typo}`, text: edit(base, path, i, (p) => ((p.key as { value: unknown }).value = typo)) });
      }
      for (const value of wrongValues(pair.value as Node)) {
        found.push({ name: `${where}: ${JSON.stringify(value)}`, text: edit(base, path, i, (p, doc) => (p.value = doc.createNode(value))) });
      }
      walk(pair.value as Node, at);
    }
  };
  walk(parseDocument(base).contents as Node, []);
  return found;
}

/** `base` with pair `index` of the mapping at `path` changed by `change`. */
function edit(base: string, path: (string | number)[], index: number, change: (pair: Pair, doc: Document) => void): string {
  const doc = parseDocument(base);
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  change((map as { items: Pair[] }).items[index] as Pair, doc);
  return doc.toString();
}

describe('base.yaml with one key misspelt or one value of the wrong type', () => {
  it('is itself valid', async () => {
    const r = await runCli(['validate', '-f', path.join(HOSTILE, 'base.yaml')], { env: env() });
    expect(r.code, r.stderr).toBe(0);
  });

  const cases = mutations();
  it('has a case for every key and value', () => {
    expect(cases.length).toBeGreaterThan(150);
  });

  it.each(cases.map((c, i) => [c.name, c.text, i] as const))('%s', async (_, text, i) => {
    const file = path.join(tmp, `mutation-${i}.yaml`);
    await writeFile(file, text);
    await refuses(['validate', '-f', file], file);
    await refuses(['plan', '-f', file, '--snapshot', SEED_SNAPSHOT], file);
  });
});

describe('generated desired-state files', () => {
  it.each([
    ['500,001 units', () => `version: 1\nrelease: [${'1,'.repeat(500_001)}1]\n`],
    ['5,000 wrong entries', () => `version: 1\nprotect:\n${'  - { address: "0000:07:20.0" }\n'.repeat(5000)}`],
    ['10,000 levels of nesting', () => `version: 1\nvms: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`],
    ['10,000 levels of block nesting', () => `version: 1\nvms:\n${Array.from({ length: 10_000 }, (_, i) => `${' '.repeat(i + 1)}a${i}:`).join('\n')} 1\n`],
    ['a 100,000-character URI', () => `version: 1\nhosts:\n  hv2: { uri: "qemu:///${'a'.repeat(100_000)};" }\n`],
  ])('%s', async (name, make) => {
    const file = path.join(tmp, `${name.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, make());
    await refuses(['validate', '-f', file], file);
    await refuses(['plan', '-f', file, '--snapshot', SEED_SNAPSHOT], file);
  });
});

describe('hostile snapshot files', () => {
  it.each(files('snapshots'))('%s', async (file) => {
    await refuses(['plan', '-f', SEED_YAML, '--snapshot', file], file);
  });
});

describe('hostile saved plans', () => {
  let base: string;
  beforeAll(async () => {
    const file = path.join(tmp, 'base-plan.json');
    const r = await runCli(['plan', '-f', SEED_YAML, '--snapshot', SEED_SNAPSHOT, '-o', file], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    base = readFileSync(file, 'utf8');
  });

  it.each(files('saved-plans'))('%s', async (file) => {
    await refuses(['apply', file, '--root', emptyRoot], file);
  });

  it('start from a saved plan that is good: only the edit is wrong', () => {
    expect(() => checkSavedPlanIsItsOwn(parseSavedPlan(base, 'base.json'), base, 'base.json')).not.toThrow();
  });

  interface Edit {
    name: string;
    set?: Record<string, unknown>;
    delete?: string;
    copy?: Record<string, string>;
    replace?: [string, string];
  }
  const edits = JSON.parse(readFileSync(path.join(HOSTILE, 'saved-plan-edits.json'), 'utf8')) as Edit[];

  it.each(edits.map((e, i) => [e.name, e, i] as const))('%s', async (_, e, i) => {
    const file = path.join(tmp, `edited-plan-${i}.json`);
    await writeFile(file, applyEdit(base, e));
    await refuses(['apply', file, '--root', emptyRoot], file);
  });

  /** The JSON pointer's parent and last key in `root`. */
  const parentOf = (root: unknown, pointer: string): [Record<string, unknown>, string] => {
    const keys = pointer.split('/').slice(1);
    const last = keys.pop() as string;
    let node = root as Record<string, unknown>;
    for (const key of keys) node = node[key] as Record<string, unknown>;
    return [node, last];
  };

  function applyEdit(text: string, e: Edit): string {
    if (e.replace) {
      expect(text).toContain(e.replace[0]);
      return text.replace(e.replace[0], e.replace[1]);
    }
    const data = JSON.parse(text) as Record<string, unknown>;
    for (const [pointer, value] of Object.entries(e.set ?? {})) {
      const [parent, key] = parentOf(data, pointer);
      parent[key] = value;
    }
    for (const [from, to] of Object.entries(e.copy ?? {})) {
      const [source, sourceKey] = parentOf(data, from);
      const [target, targetKey] = parentOf(data, to);
      target[targetKey] = structuredClone(source[sourceKey]);
    }
    if (e.delete) {
      const [parent, key] = parentOf(data, e.delete);
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    }
    return `${JSON.stringify(data, null, 2)}\n`;
  }
});

describe('hostile -c URIs', () => {
  const uris = JSON.parse(readFileSync(path.join(HOSTILE, 'connect-uris.json'), 'utf8')) as string[];
  it.each(uris)('%j', async (uri) => {
    // --connect=URI: `-c --help` would be a usage error of the argument parser, before any URI check.
    const connect = `--connect=${uri}`;
    await refuses(['validate', '-f', SEED_YAML, connect], '-c');
    await refuses(['plan', '-f', SEED_YAML, '--snapshot', SEED_SNAPSHOT, connect], '-c');
    await refuses(['observe', '-f', SEED_YAML, connect, '--root', emptyRoot], '-c');
    await refuses(['import', '-f', SEED_YAML, connect, '--root', emptyRoot], '-c');
  });
});

describe('huge input, in a process of 256 MB heap', () => {
  const FIFTY_MB = 50 * 2 ** 20;
  const run = async (argv: string[], where: string) => {
    await shim.reset();
    const result = await sourceCli(argv, { env: { ...env(), HOME: tmp }, maxOldSpaceMb: 256 });
    await expectRefused(result, where, result.ms);
    return result;
  };

  it('a 50 MB passthrough.yaml is refused without being read', async () => {
    const file = path.join(tmp, 'huge.yaml');
    await writeFile(file, `version: 1\n# ${'x'.repeat(FIFTY_MB)}\n`);
    const r = await run(['validate', '-f', file], file);
    expect(r.stderr).toContain(`${file}:1:1: the file is 50.0 MiB, more than the 8 MiB passthru reads as a desired-state file`);
  });

  it('endless input (-f /dev/zero) is refused after the limit', async () => {
    const r = await run(['validate', '-f', '/dev/zero'], '/dev/zero');
    expect(r.stderr).toContain('/dev/zero:1:1: the file is more than the 8 MiB');
  });

  it('a 50 MB snapshot is refused without being read', async () => {
    const file = path.join(tmp, 'huge-snapshot.json');
    await writeFile(file, `[${'0,'.repeat(FIFTY_MB / 2)}0]\n`);
    await run(['plan', '-f', path.resolve(SEED_YAML), '--snapshot', file], file);
  });

  it('a 50 MB saved plan is refused without being read', async () => {
    const file = path.join(tmp, 'huge-plan.json');
    await writeFile(file, `{"format_version": "1", "pad": "${'x'.repeat(FIFTY_MB)}"}\n`);
    await run(['apply', file, '--root', emptyRoot], file);
  });
});
