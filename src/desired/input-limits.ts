/**
 * How much untrusted input passthru reads. Parsing costs memory in proportion to the input (the YAML parser keeps
 * ~1 KB per value): without limits a 50 MB file took 2-3 GB and minutes. The limits leave room for far larger
 * files than real hosts need (a 32,000-VM passthrough.yaml is ~4 MiB) and refuse anything larger before it is
 * parsed (the CLI before it is read).
 */
import { InputError } from '../errors.js';

const MiB = 2 ** 20;

/** Largest file, in bytes, of each kind passthru reads. */
export const MAX_INPUT_BYTES = {
  desired: 8 * MiB,
  snapshot: 32 * MiB,
  savedPlan: 32 * MiB,
} as const;

/** What each kind of file is called in messages. */
const KIND_NAMES: Record<keyof typeof MAX_INPUT_BYTES, string> = {
  desired: 'a desired-state file',
  snapshot: 'a snapshot file',
  savedPlan: 'a saved plan',
};

/** The error for a file larger than its kind's limit; `size` when it is known. */
export function inputTooLarge(file: string, kind: keyof typeof MAX_INPUT_BYTES, size?: number): InputError {
  const limit = MAX_INPUT_BYTES[kind];
  const actual = size === undefined ? 'more than' : `${(size / MiB).toFixed(1)} MiB, more than`;
  return new InputError([
    {
      file,
      line: 1,
      col: 1,
      message: `the file is ${actual} the ${limit / MiB} MiB passthru reads as ${KIND_NAMES[kind]}`,
      hint:
        kind === 'desired'
          ? 'passthrough.yaml describes hosts and VMs in a few KiB: is this the right file?'
          : 'is this the right file? write it again with passthru itself (observe -o / plan -o)',
    },
  ]);
}

/** Throws inputTooLarge when `text` (of a file read by a library caller) is over its kind's limit. */
export function checkInputSize(text: string, file: string, kind: keyof typeof MAX_INPUT_BYTES): void {
  if (text.length > MAX_INPUT_BYTES[kind]) throw inputTooLarge(file, kind, text.length);
}

/**
 * The most problems one round of checks explains: a file of half a million wrong values would otherwise take a
 * diagnostic, and its memory, for each. The first ones found are kept.
 */
export const MAX_FINDINGS = 1000;

/**
 * The YAML parser's cost is per node, not per byte (`[1,1,1,...]` is a node every 2 bytes, ~900 bytes of memory
 * each): the most units a desired-state file may have, counted before parsing by `checkYamlUnits`. A 32,000-VM
 * file with an `expect` guard on each device has ~450,000.
 */
export const MAX_YAML_UNITS = 500_000;

/**
 * Throws a positioned InputError when `text` has more than `MAX_YAML_UNITS` units: line breaks, the flow
 * characters `,` `[` `{`, and `:` as a mapping indicator (followed by a space or line break, so not the colons of
 * an address): an upper bound of the node count found in one pass without parsing. The position is where the
 * count ran over.
 */
export function checkYamlUnits(text: string, file: string): void {
  let units = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const unit =
      c === 10 || c === 44 || c === 91 || c === 123 || (c === 58 && (i + 1 === text.length || text.charCodeAt(i + 1) <= 32));
    if (!unit) continue;
    if (++units > MAX_YAML_UNITS) {
      throw new InputError([
        {
          file,
          line,
          col: i - lineStart + 1,
          message: `the file has more than ${MAX_YAML_UNITS.toLocaleString('en')} keys, values and lines by here: passthru reads no more`,
          hint: 'passthrough.yaml describes hosts and VMs in a few thousand lines: is this the right file?',
        },
      ]);
    }
    if (c === 10) {
      line++;
      lineStart = i + 1;
    }
  }
}
