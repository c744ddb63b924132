/**
 * `passthrough.yaml` → `DesiredState` (SPEC 1), the engine of `passthru validate` and the first step of every
 * command that reads the file. Pure: the caller reads the file, so tests and integrators can pass text.
 *
 * Checks run in three rounds, each only on what the previous one accepted, because a later round cannot make sense
 * of data the earlier one rejected: YAML syntax (duplicate keys excepted, which leave the rest readable), then the
 * schema with address ranges, then host references and conflicts between entries. Every diagnostic of the round
 * that fails is reported, in file order.
 */
import { InputError } from '../errors.js';
import type { InputDiagnostic } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import { findConflicts } from './conflicts.js';
import { normalise } from './normalise.js';
import { schemaDiagnostics } from './schema.js';
import { parseYaml } from './source.js';

/**
 * Parses, validates and normalises the text of a desired-state file. `file` is only used to name positions in
 * diagnostics. Throws one InputError carrying every diagnostic found; returns a state with every default filled in.
 */
export function loadDesiredState(text: string, file: string): DesiredState {
  const parsed = parseYaml(text, file);
  const diagnostics = [...parsed.diagnostics];
  if (!parsed.fatal) diagnostics.push(...schemaDiagnostics(parsed.source, parsed.value));
  if (diagnostics.length > 0) fail(diagnostics);
  const { state, diagnostics: hostDiagnostics } = normalise(parsed.source, parsed.value);
  diagnostics.push(...hostDiagnostics, ...findConflicts(state));
  if (diagnostics.length > 0) fail(diagnostics);
  return state;
}

function fail(diagnostics: InputDiagnostic[]): never {
  throw new InputError(diagnostics.sort((a, b) => a.line - b.line || a.col - b.col));
}
