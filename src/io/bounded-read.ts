/** Reading a file a user named without reading more of it than passthru will use. */
import { open } from 'node:fs/promises';

/** A file's text, or that it holds more than was to be read (with its size when it is a regular file). */
export type BoundedText = { text: string } | { overLimit: true; size: number | null };

/**
 * The file's text (UTF-8), unless it holds more than `maxBytes`: a regular file is refused on its size before any
 * of it is read, anything else (a pipe, /dev/zero) after `maxBytes + 1` bytes.
 */
export async function readTextAtMost(path: string, maxBytes: number): Promise<BoundedText> {
  const file = await open(path, 'r');
  try {
    const stat = await file.stat();
    if (stat.isFile() && stat.size > maxBytes) return { overLimit: true, size: stat.size };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, maxBytes + 1 - total));
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return { overLimit: true, size: null };
    }
    return { text: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await file.close();
  }
}
