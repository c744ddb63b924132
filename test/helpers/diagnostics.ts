/** The diagnostics that loading a desired-state text is refused with; fails the test when it is accepted. */
import { InputError } from '../../src/errors.js';
import type { InputDiagnostic } from '../../src/errors.js';
import { loadDesiredState } from '../../src/desired/load.js';

export function diagnosticsOf(text: string, file = 'passthrough.yaml'): InputDiagnostic[] {
  try {
    loadDesiredState(text, file);
  } catch (error) {
    if (error instanceof InputError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the file to be rejected');
}
