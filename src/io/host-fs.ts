/**
 * A host's file tree mounted at a root directory on this machine (`--root`, default `/`), read synchronously.
 *
 * Symlinks are resolved *inside* the root: sysfs is mostly relative links, but a captured tree (or a hostile one)
 * may hold absolute links, and following those with the real `realpath` would read this machine's `/sys` instead of
 * the captured host's — silently planning against the wrong hardware. An absolute target is re-rooted and `..`
 * never climbs above the root; reading the real `/` with root `/` behaves exactly like realpath(3).
 *
 * Why synchronous: sysfs and procfs live in memory, so a read never waits on a disk, and an async call per file
 * (thousands per host) costs more in promises, garbage and event-loop turns than the read itself — and fanned out, it
 * ran out of file descriptors (`EMFILE`) on big hosts. One file is open at a time.
 *
 * Why every file is opened `O_NONBLOCK` and checked with fstat: a FIFO, socket or device in place of an attribute
 * would block a plain read forever (or, `/dev/zero`, never end). Anything that is not a regular file is refused, and
 * no file is read past a size cap.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { errorCode, explainedError, isMissing } from './error-code.js';

const posix = path.posix;

/** Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/** The most any one file may hold unless the caller says otherwise (procfs tables on a big host stay far below). */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Non-blocking (a FIFO opens at once), and never through a symlink: the path handed to open is fully resolved. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** One read: a sysfs attribute is at most a page, a procfs table comes in a few of these. */
const CHUNK_BYTES = 64 * 1024;

/** What fstat says a non-regular file is, for the refusal. */
function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/**
 * Paths given to its methods are the host's own absolute paths (`/sys/bus/pci/devices`); paths it returns are host
 * paths too. What `lstat` said about each path component is cached for the instance's lifetime (a path is resolved
 * with one `lstat` per component not seen before), so use one instance per observation.
 */
export class HostFs {
  /** Absolute path of the root on this machine. */
  readonly root: string;
  /** Per resolved host path: its link target, null when it is no link, or the error lstat gave. */
  private readonly links = new Map<string, string | null | Error>();
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** This machine's path for a host path. */
  local(hostPath: string): string {
    return path.join(this.root, hostPath);
  }

  /** The link target of the resolved host path `candidate`, or null when it is not a symlink. Throws lstat's error. */
  private linkTarget(candidate: string): string | null {
    const cached = this.links.get(candidate);
    if (cached instanceof Error) throw cached;
    if (cached !== undefined) return cached;
    try {
      const st = lstatSync(this.local(candidate), { throwIfNoEntry: false });
      if (st === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${candidate}'`), { code: 'ENOENT' });
      const target = st.isSymbolicLink() ? readlinkSync(this.local(candidate)) : null;
      this.links.set(candidate, target);
      return target;
    } catch (err) {
      this.links.set(candidate, err as Error);
      throw err;
    }
  }

  /** Resolves every symlink in `hostPath` within the root, like realpath(3). Throws ENOENT (or ELOOP) like it. */
  realpath(hostPath: string): string {
    // Both are stacks: `pending` holds the components still to walk, last one next; `prefixes[i]` is the resolved
    // path of the first i+1 resolved components, so that a component costs one string concatenation.
    const pending = hostPath.split('/').filter((p) => p !== '').reverse();
    const prefixes: string[] = [];
    let followed = 0;
    while (pending.length > 0) {
      const part = pending.pop() as string;
      if (part === '.') continue;
      if (part === '..') {
        prefixes.pop();
        continue;
      }
      const candidate = `${prefixes[prefixes.length - 1] ?? ''}/${part}`;
      const target = this.linkTarget(candidate);
      if (target === null) {
        prefixes.push(candidate);
        continue;
      }
      if (++followed > MAX_SYMLINKS) {
        throw Object.assign(new Error(`too many levels of symbolic links: ${hostPath}`), { code: 'ELOOP' });
      }
      if (target.startsWith('/')) prefixes.length = 0;
      const parts = target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== '') pending.push(parts[i] as string);
    }
    return prefixes[prefixes.length - 1] ?? '/';
  }

  /**
   * Opens a regular file for reading. The directory is resolved within the root and the last component opened
   * without following it; only when it is itself a link (ELOOP) is the whole path resolved first.
   */
  private openRegular(hostPath: string): { fd: number; size: number } {
    const base = posix.basename(hostPath);
    const direct = base === '' || base === '.' || base === '..' ? this.realpath(hostPath) : posix.join(this.realpath(posix.dirname(hostPath)), base);
    let fd: number;
    try {
      fd = openSync(this.local(direct), OPEN_FLAGS);
    } catch (err) {
      if (errorCode(err) !== 'ELOOP') throw err;
      fd = openSync(this.local(this.realpath(hostPath)), OPEN_FLAGS);
    }
    const st = fstatSync(fd);
    if (st.isFile()) return { fd, size: st.size };
    closeSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: ${hostPath} is a directory`), { code: 'EISDIR' });
    throw explainedError('ENOTREG', `${hostPath} is ${fileKind(st)}, not a regular file`);
  }

  /**
   * The content of a regular file, following links within the root. Throws the fs error, ENOTREG (not a regular
   * file) or EFBIG (over `maxBytes`).
   */
  readBytes(hostPath: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Buffer {
    const { fd, size } = this.openRegular(hostPath);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const n = readSync(fd, this.chunk, 0, CHUNK_BYTES, null);
        if (n === 0) break;
        total += n;
        if (total > maxBytes) throw explainedError('EFBIG', `${hostPath} holds more than ${maxBytes} bytes`);
        chunks.push(Buffer.from(this.chunk.subarray(0, n)));
        // A file on a disk or tmpfs ends at its size; sysfs says 4096 and procfs 0 whatever they hold, so those are
        // read until read() returns nothing.
        if (size > 0 && total >= size) break;
      }
      return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads a text file (at most `maxBytes`), following links within the root. Throws like {@link readBytes}. */
  readText(hostPath: string, maxBytes = DEFAULT_MAX_FILE_BYTES): string {
    return this.readBytes(hostPath, maxBytes).toString('utf8');
  }

  /** Reads a text file, or null when it does not exist. Other errors (EACCES, EIO, ENOTREG, EFBIG) are thrown. */
  readOptional(hostPath: string, maxBytes = DEFAULT_MAX_FILE_BYTES): string | null {
    try {
      return this.readText(hostPath, maxBytes);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /**
   * The raw target of the symlink `hostPath` (its directory resolved within the root), or null when it does not
   * exist. Throws EINVAL when it exists but is no symlink, and any other fs error.
   */
  readlink(hostPath: string): string | null {
    try {
      return readlinkSync(this.local(posix.join(this.realpath(posix.dirname(hostPath)), posix.basename(hostPath))));
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** Entry names of a directory (following links within the root), sorted; [] when it does not exist. */
  list(hostPath: string): string[] {
    try {
      return readdirSync(this.local(this.realpath(hostPath))).sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  /** True when `hostPath` exists (following links within the root; a loop does not exist). */
  exists(hostPath: string): boolean {
    try {
      this.realpath(hostPath);
      return true;
    } catch (err) {
      if (isMissing(err) || errorCode(err) === 'ELOOP') return false;
      throw err;
    }
  }
}
