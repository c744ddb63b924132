/**
 * Notices when a file may have changed, so that the agent reconciles soon after a save instead of at the next
 * interval. The DIRECTORY is watched, not the file: editors and `git checkout` replace a file by renaming a new one
 * over it, which ends a watch on the old inode. A watch is only a hint — events can be lost or coalesced, and
 * some filesystems (NFS, 9p) deliver none — so the agent still compares the content hash on every interval.
 */
import { watch } from 'node:fs';
import path from 'node:path';

/** Calls `onChange` when an entry named like `file` in its directory changes; returns the stop. Never throws. */
export function watchFile(file: string, onChange: () => void): () => void {
  const name = path.basename(file);
  try {
    const watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
      // Some platforms give no name: then any change in the directory may be ours.
      if (changed === null || changed === name) onChange();
    });
    // A directory removed or unreadable later: the interval's hash check carries on alone.
    watcher.on('error', () => watcher.close());
    return () => watcher.close();
  } catch {
    return () => undefined;
  }
}
