/**
 * Files that readers must never see half-written: status.json and passthru.prom are read at any moment by
 * `passthru status`, node_exporter and dashboards. The text goes to a temporary file in the same directory (same
 * filesystem, so the rename is atomic), is fsync'd, and is renamed over the old file; then the directory is
 * fsync'd so that the rename survives a crash. The temporary name starts with a dot and ends in `.tmp`, so that
 * node_exporter's textfile collector (which reads `*.prom`) never picks it up.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Replaces `file` with `text` atomically. Rejects (leaving no temporary file) when the directory is not writable. */
export async function writeFileAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(text);
      // Whatever the umask: node_exporter reads passthru.prom as its own user (prometheus on Debian).
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
