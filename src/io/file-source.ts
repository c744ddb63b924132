/**
 * The file source of the agent (SPEC 9, the default `./passthrough.yaml`). Its revision is `sha256:<hex>` of the
 * file's bytes: it changes exactly when the content does (not on a touch or a rewrite of the same text), and it is
 * what `git hash-object` is not — independent of any repository — while saying which hash it is. A file that
 * cannot be read is an `invalid` source, with no revision, until it can.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DesiredSource } from '../agent/ports.js';
import { errorCode } from './error-code.js';
import { watchFile } from './file-watch.js';

/** `sha256:<hex>` of a file's content: its revision. */
export function contentRevision(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The source that is the file at `file`. */
export function fileSource(file: string): DesiredSource {
  return {
    async fetch() {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        const code = errorCode(err) ?? String(err);
        return {
          kind: 'invalid',
          revision: null,
          problems: [
            {
              severity: 'block',
              code: 'source-missing',
              message: `cannot read the desired state ${file}: ${code}`,
              hint: 'create the file (passthru import writes one from the host), or pass --source',
            },
          ],
        };
      }
      return { kind: 'content', revision: contentRevision(bytes), text: bytes.toString('utf8'), file };
    },
    watch: (onChange) => watchFile(file, onChange),
  };
}
