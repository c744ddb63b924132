/**
 * `passthrough.yaml` → `DesiredState` (SPEC 1), the engine of `passthru validate` and the first step of every
 * command that reads the file. Pure: the caller reads the file, so tests and integrators can pass text.
 *
 * Checks run in three rounds, each only on what the previous one accepted, because a later round cannot make sense
 * of data the earlier one rejected: YAML syntax (duplicate keys excepted, which leave the rest readable), then the
 * schema with address ranges, then host references and conflicts between entries. Every diagnostic of the round
 * that fails is reported, in file order (the first hundred of them). Files over the input limits are refused
 * before they are parsed (input-limits.ts).
 */
import { InputError } from '../errors.js';
import type { InputDiagnostic } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import { findConflicts } from './conflicts.js';
import { checkInputSize, checkYamlUnits, MAX_FINDINGS } from './input-limits.js';
import { normalise } from './normalise.js';
import { schemaDiagnostics } from './schema.js';
import { parseYaml } from './source.js';

/**
 * Parses, validates and normalises the text of a desired-state file. `file` is only used to name positions in
 * diagnostics. Throws one InputError carrying every diagnostic found; returns a state with every default filled in.
 */
export function loadDesiredState(text: string, file: string): DesiredState {
  checkInputSize(text, file, 'desired');
  checkYamlUnits(text, file);
  const parsed = parseYaml(text, file);
  // concat, not push(...): a file may have more diagnostics than a call may have arguments.
  const diagnostics = parsed.fatal ? parsed.diagnostics : parsed.diagnostics.concat(schemaDiagnostics(parsed.source, parsed.value));
  if (diagnostics.length > 0) fail(diagnostics);
  const { state, diagnostics: hostDiagnostics } = normalise(parsed.source, parsed.value);
  const semantic = hostDiagnostics.concat(findConflicts(state));
  if (semantic.length > 0) fail(semantic);
  return state;
}

/** The most diagnostics one error lists: a file with thousands of wrong values needs the first ones fixed. */
const MAX_DIAGNOSTICS = 100;

function fail(diagnostics: InputDiagnostic[]): never {
  const sorted = diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
  const next = sorted[MAX_DIAGNOSTICS];
  if (!next) throw new InputError(sorted);
  throw new InputError([
    ...sorted.slice(0, MAX_DIAGNOSTICS),
    {
      ...next,
      message: `and ${sorted.length >= MAX_FINDINGS ? 'at least ' : ''}${(sorted.length - MAX_DIAGNOSTICS).toLocaleString('en')} more problems from here on, not listed`,
      hint: 'fix the problems above and validate again',
    },
  ]);
}
