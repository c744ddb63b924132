/**
 * Reading the errors that node's fs and child-process calls throw: their `code` (`ENOENT`, `EACCES`) is what
 * callers branch on and what messages quote.
 */

/** The node error code of a failed fs (or process) call, or undefined. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Errors that mean "this path is not there (any more)": expected on a live sysfs. */
export function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A short reason for a message: the code of a plain fs error (`EACCES`), the whole message of one that explains
 * itself (the refusals of {@link ./host-fs.js HostFs}: "is a FIFO, not a regular file").
 */
export function describeError(err: unknown): string {
  if (err instanceof Error && (err as { explained?: boolean }).explained === true) return err.message;
  return errorCode(err) ?? (err instanceof Error ? err.message : String(err));
}

/** An error with a code, whose message is meant for the operator as is (see {@link describeError}). */
export function explainedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, explained: true });
}
