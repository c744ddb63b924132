/**
 * For tests of what reaches a terminal: the characters no output of passthru may carry raw (written out here
 * independently of src/render/printable.ts), and passthru's own colour codes, which are allowed.
 */
/* eslint-disable no-control-regex -- these are the control characters under test */

/** C0 but newline and tab, DEL, C1, bidi embeddings/overrides and isolates. */
export const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** `text` without the SGR sequences of render/style.ts. */
export const withoutOwnColours = (text: string) => text.replace(/\u001b\[(?:1|2|22|31|32|33|36|39)m/g, '');
