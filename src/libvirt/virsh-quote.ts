/**
 * Quoting for virsh's own command parser. A batch is ONE argv element that virsh splits itself (on whitespace and
 * `;`, honouring `'` and `"` quotes and `\` escapes), so every argument we put in it must survive that parser
 * unchanged — a domain named `a; undefine b` must stay one argument. Verified against virsh 9.0 with names holding
 * spaces, `'`, `"`, `;`, `\`, `$`, `#`, tabs and newlines (test/virsh-testdriver.test.ts).
 *
 * Quoting cannot stop virsh from reading an argument that starts with `--` as an option: `'--x'` is still the option
 * `--x`. Callers pass user-controlled values behind their option name (`--domain <value>`), never positionally.
 */

/** Characters virsh's parser never treats specially, so arguments made only of them need no quotes. */
const PLAIN = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * One argument as virsh's parser must see it: unchanged when it is plain, else in single quotes with each `'`
 * written as `'\''` (close, escaped quote, reopen). Inside single quotes virsh keeps `\`, `"`, `;`, `$` and
 * newlines literally.
 */
export function quoteVirshArg(arg: string): string {
  return PLAIN.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** One command (an argv such as `['dumpxml', '--domain', name]`) as text for virsh's parser. */
export function virshCommandText(argv: readonly string[]): string {
  return argv.map(quoteVirshArg).join(' ');
}
