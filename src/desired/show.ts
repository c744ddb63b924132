/**
 * Untrusted text in messages: a name or URI from a file is shown escaped and shortened, so that a control
 * character, a terminal escape or a megabyte-long value cannot garble the terminal or bury the message.
 */

const CHARACTER_NAMES: Record<string, string> = {
  ' ': 'a space',
  '\t': 'a tab',
  '\n': 'a line break',
  '\r': 'a carriage return',
  '\0': 'a NUL character',
};

// JSON.stringify escapes C0 controls only: C1 controls (U+009B is a CSI), line/paragraph separators and bidi
// overrides also change what a terminal shows.
const UNPRINTABLE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `";"`, `a space`, `the control character U+001B`: one character as a message can name it. */
export function describeCharacter(ch: string): string {
  const named = CHARACTER_NAMES[ch];
  if (named) return named;
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
    return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return JSON.stringify(ch);
}

/** A string in double quotes with every unprintable character escaped, cut to `max` characters with "…". */
export function showString(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).replace(UNPRINTABLE, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
