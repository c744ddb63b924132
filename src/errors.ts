/**
 * Typed errors. Every failure a user can cause or meet carries the exit code the CLI returns and, where there is
 * one, a hint that says what to do. They are thrown anywhere and caught in exactly one place: `cli/main.ts`.
 */

import { formatPos } from './model/desired.js';

/** Exit codes of the CLI (SPEC 4). */
export const ExitCode = {
  ok: 0,
  error: 1,
  changes: 2,
  rollbackFailed: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: a failure with an exit code and an optional remedy shown under the message. */
export class PassthruError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.error;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments on the command line. */
export class UsageError extends PassthruError {}

/** One problem found in an input file, positioned as `file:line:col`. */
export interface InputDiagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
}

/** A desired-state (or snapshot / saved plan) file that cannot be used; carries every diagnostic found. */
export class InputError extends PassthruError {
  readonly diagnostics: InputDiagnostic[];
  constructor(diagnostics: InputDiagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.diagnostics = diagnostics;
  }
}

export function formatDiagnostic(d: InputDiagnostic): string {
  return `${formatPos(d)}: ${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}

/** A host could not be observed or a command against it failed (virsh missing, connection refused, ...). */
export class HostError extends PassthruError {}

/** Something that should not happen: a bug in passthru. The CLI prints the stack for these. */
export class InternalError extends PassthruError {}
