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

/** What {@link HostFs} caches for a path that does not exist. */
const ABSENT = Symbol('absent');

/** How to read one file. */
export interface ReadOptions {
  /** The most the file may hold. Default {@link DEFAULT_MAX_FILE_BYTES}. */
  maxBytes?: number;
  /**
   * The file is a sysfs attribute: the kernel hands it out whole on the first read (at most a page), so a read that
   * returns less than was asked for is its end — one read() fewer per attribute, thousands per host.
   */
  attribute?: boolean;
}

/** What fstat says a non-regular file is, for the refusal. */
function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/**
 * The reads host-use observation makes of a host's file tree (observe/host-use.ts), whatever holds the tree: a
 * {@link HostFs} reads one mounted here, observe/host-dump.ts answers from what a remote host printed over ssh. One
 * interface, so that one parser reads both.
 */
export interface HostFiles {
  /** Resolves every symlink of `hostPath` within the root. Throws ENOENT when it does not exist. */
  realpath(hostPath: string): string;
  /** A text file, or null when it does not exist. Throws when it cannot be read. */
  readOptional(hostPath: string, options?: ReadOptions): string | null;
  /** The raw target of the symlink `hostPath`, or null when it does not exist. Throws when it is no symlink. */
  readlink(hostPath: string): string | null;
  /** Entry names of a directory, sorted; [] when it does not exist. */
  list(hostPath: string): string[];
  /** True when `hostPath` exists (following links). */
  exists(hostPath: string): boolean;
}

/**
 * Paths given to its methods are the host's own absolute paths (`/sys/bus/pci/devices`); paths it returns are host
 * paths too. What each path component is (absent, a link and its target, or neither) is cached for the instance's
 * lifetime — a path is resolved with one `lstat` per component not seen before —, so use one instance per
 * observation.
 *
 * Absence is an answer, not an exception: probing for an entry that most devices lack (`physfn`, `net/`) is common,
 * and a thrown fs error costs far more than the syscall.
 */
export class HostFs implements HostFiles {
  /** Absolute path of the root on this machine. */
  readonly root: string;
  /** Per resolved host path: its link target, null when it is no link, ABSENT, or the error lstat gave. */
  private readonly links = new Map<string, string | null | typeof ABSENT | Error>();
  /**
   * Per host path asked for, what it resolved to: a function's directory is resolved once for its ~10 attributes,
   * not once each. A function of `links` alone, so it holds for the same lifetime (ELOOP is not kept: thrown anew).
   */
  private readonly resolved = new Map<string, string | typeof ABSENT>();
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** This machine's path for a host path. */
  local(hostPath: string): string {
    return path.join(this.root, hostPath);
  }

  /**
   * The link target of the resolved host path `candidate`, null when it is not a symlink, ABSENT when it does not
   * exist. Throws lstat's other errors (EACCES, ENOTDIR).
   */
  private linkTarget(candidate: string): string | null | typeof ABSENT {
    const cached = this.links.get(candidate);
    if (cached instanceof Error) throw cached;
    if (cached !== undefined) return cached;
    let target: string | null | typeof ABSENT;
    try {
      const st = lstatSync(this.local(candidate), { throwIfNoEntry: false });
      target = st === undefined ? ABSENT : st.isSymbolicLink() ? readlinkSync(this.local(candidate)) : null;
    } catch (err) {
      this.links.set(candidate, err as Error);
      throw err;
    }
    this.links.set(candidate, target);
    return target;
  }

  /** Resolves every symlink in `hostPath` within the root, like realpath(3). Throws ENOENT (or ELOOP) like it. */
  realpath(hostPath: string): string {
    const resolved = this.resolve(hostPath);
    if (resolved === ABSENT) throw Object.assign(new Error(`ENOENT: no such file or directory: ${hostPath}`), { code: 'ENOENT' });
    return resolved;
  }

  /** {@link realpath}, but ABSENT instead of throwing ENOENT. */
  private resolve(hostPath: string): string | typeof ABSENT {
    const known = this.resolved.get(hostPath);
    if (known !== undefined) return known;
    const result = this.resolveUncached(hostPath);
    this.resolved.set(hostPath, result);
    return result;
  }

  private resolveUncached(hostPath: string): string | typeof ABSENT {
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
      if (target === ABSENT) return ABSENT;
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
  readBytes(hostPath: string, options: ReadOptions = {}): Buffer {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
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
        // read until read() returns nothing (or, for an attribute, less than a chunk).
        if ((size > 0 && total >= size) || (options.attribute === true && n < CHUNK_BYTES)) break;
      }
      return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads a text file, following links within the root. Throws like {@link readBytes}. */
  readText(hostPath: string, options: ReadOptions = {}): string {
    return this.readBytes(hostPath, options).toString('utf8');
  }

  /** Reads a text file, or null when it does not exist. Other errors (EACCES, EIO, ENOTREG, EFBIG) are thrown. */
  readOptional(hostPath: string, options: ReadOptions = {}): string | null {
    try {
      return this.readText(hostPath, options);
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
      const dir = this.resolve(posix.dirname(hostPath));
      if (dir === ABSENT) return null;
      const target = this.linkTarget(posix.join(dir, posix.basename(hostPath)));
      if (target === ABSENT) return null;
      if (target === null) throw Object.assign(new Error(`EINVAL: not a symbolic link: ${hostPath}`), { code: 'EINVAL' });
      return target;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** Entry names of a directory (following links within the root), sorted; [] when it does not exist. */
  list(hostPath: string): string[] {
    try {
      const dir = this.resolve(hostPath);
      return dir === ABSENT ? [] : readdirSync(this.local(dir)).sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  /** True when `hostPath` exists (following links within the root; a loop does not exist). */
  exists(hostPath: string): boolean {
    try {
      return this.resolve(hostPath) !== ABSENT;
    } catch (err) {
      if (isMissing(err) || errorCode(err) === 'ELOOP') return false;
      throw err;
    }
  }
}
