/**
 * Text from outside passthru — VM and host names, pci.ids names, virsh's stderr, sysfs and procfs contents — is
 * printed only through `printable`: a VM named `\e]0;owned\a` would otherwise retitle the operator's terminal, a
 * CSI sequence could erase or rewrite lines of a plan, and a bidi override could make a line read backwards
 * ("Trojan Source"). Each such character becomes a visible `\uXXXX` escape — the JSON spelling, so applied to
 * JSON text it leaves the value unchanged.
 */

/* eslint-disable no-control-regex -- matching control characters is this module's purpose */

/** C0 controls, DEL, C1 controls, bidi embeddings/overrides (U+202A-202E) and isolates (U+2066-2069). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** The same, except the newline and the tab: layout in a message of several lines. */
const UNSAFE_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The SGR sequences passthru's own Style writes (render/style.ts: bold, dim, red, green, yellow, cyan and their
 * resets). Only these survive `{ style: true }`; the same bytes from a hostile value survive too, but can only
 * colour text, and every value is escaped before it is styled.
 */
const OWN_STYLE = /\u001b\[(?:1|2|22|31|32|33|36|39)m/y;
/* eslint-enable no-control-regex */

/** Options of {@link printable}. */
export interface PrintableOptions {
  /** Keep `\n` and `\t`: for whole messages and reports, whose lines passthru laid out. Default: escape them too. */
  layout?: boolean;
  /** Keep passthru's own colour sequences: for output that went through a Style. */
  style?: boolean;
}

const escape = (c: string) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** `text` with every control and bidi character written as a visible `\uXXXX` escape. */
export function printable(text: string, options: PrintableOptions = {}): string {
  const unsafe = options.layout ? UNSAFE_BUT_LAYOUT : UNSAFE;
  if (!options.style) return text.replace(unsafe, escape);
  return text.replace(unsafe, (c, offset: number) => {
    OWN_STYLE.lastIndex = offset;
    return c === '\u001b' && OWN_STYLE.test(text) ? c : escape(c);
  });
}
