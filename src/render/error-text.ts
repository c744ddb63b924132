/**
 * How the CLI prints an error that ends a command (cli/main.ts): `Error:` on every diagnostic of an input file
 * (Terraform-style), each with its remedy indented under it; the cause's short message; the stack with `--debug`.
 * Messages carry virsh's stderr and names from the host, so all of it is made printable (lines kept).
 */
import { InputError, type PassthruError } from '../errors.js';
import { formatPos } from '../model/desired.js';
import { printable } from './printable.js';
import type { Style } from './style.js';

const text = (s: string) => printable(s, { layout: true });

/** The lines for a PassthruError (a user's or a host's problem, never a bug). */
export function renderError(error: PassthruError, style: Style, debug: boolean): string {
  const label = style.red(style.bold('Error:'));
  const lines =
    error instanceof InputError && error.diagnostics.length > 0
      ? error.diagnostics.flatMap((d) => [`${label} ${text(`${formatPos(d)}: ${d.message}`)}`, ...(d.hint ? [`  fix: ${text(d.hint)}`] : [])])
      : [`${label} ${text(error.message)}`];
  const cause = error.cause as { shortMessage?: string; message?: string; stack?: string } | undefined;
  if (cause && !debug) lines.push(`  cause: ${text(cause.shortMessage ?? cause.message ?? String(cause))}`);
  if (error.hint) lines.push(`  fix: ${text(error.hint)}`);
  if (debug) lines.push(text(error.stack ?? ''), ...(cause ? [`cause: ${text(String(cause.stack ?? cause.message))}`] : []));
  return `${lines.join('\n')}\n`;
}

/** The report of a bug: everything needed to find it. */
export function renderInternalError(error: unknown): string {
  return `passthru: internal error (a bug — please report it with this output):\n${text((error as Error).stack ?? String(error))}\n`;
}
