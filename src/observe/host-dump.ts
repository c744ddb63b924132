/**
 * A remote host's host use over ssh (SPEC 12), read by the SAME code as the local host's: a small POSIX sh script
 * (run by one `ssh` per host, io/ssh.ts) answers, for the host's own tree, exactly the questions observe/host-use.ts
 * asks of a tree — a table's text, a directory's entries, a path's realpath, a link's target, whether a path
 * exists — and prints each answer as a record. {@link DumpedFiles} serves those answers through the
 * {@link HostFiles} interface, so `observeHostUse` reads them as it reads a local tree: one parser.
 *
 * Unknown stays unknown: a question the dump did not answer throws (`not in the dump`), which host-use.ts turns
 * into "that part of host use is unknown", never into "absent". A dump cut short (no END record) is refused whole.
 *
 * The records: a header line `@@<nonce> <query> <status> <path>`, then the answer's text up to the next header.
 * `query` is F (file), D (directory entries), P (realpath), L (link target) or E (exists); `status` is ok, absent or
 * error (the text then says why). The nonce is random per call, so no file content can forge a header. A file's
 * text is followed by one newline the script adds (so that the next header starts a line), taken off here.
 *
 * The script reads under `$PASSTHRU_REMOTE_ROOT` when the remote environment sets it (tests point it at a fake tree
 * through the test sshd's `SetEnv`); passthru never sets it, so in production it reads `/`. A realpath that leads
 * out of that root is an error, not a path.
 */
import path from 'node:path';
import type { HostFiles } from '../io/host-fs.js';

const posix = path.posix;

/** The sh script that prints the dump; `NONCE` is replaced by the call's nonce (hex). */
const SCRIPT = `set -f
R=\${PASSTHRU_REMOTE_ROOT:-}
M='@@NONCE'
RP=
h() { printf '%s %s %s %s\\n' "$M" "$1" "$2" "$3"; }
f() {
  if [ ! -e "$R$1" ]; then h F absent "$1"
  elif [ ! -f "$R$1" ]; then h F error "$1"; echo 'not a regular file'
  else h F ok "$1"; if cat -- "$R$1" 2>/dev/null; then echo; else echo; h F error "$1"; echo 'cannot be read'; fi
  fi
}
d() {
  if [ -d "$R$1" ]; then h D ok "$1"; ls -A -- "$R$1" 2>/dev/null || { h D error "$1"; echo 'cannot be listed'; }
  elif [ -e "$R$1" ]; then h D error "$1"; echo 'not a directory'
  else h D absent "$1"; fi
}
p() {
  RP=
  if [ ! -e "$R$1" ]; then h P absent "$1"; return; fi
  r=$(readlink -f -- "$R$1") || { h P error "$1"; echo 'cannot be resolved'; return; }
  case $r in
    "$R"/*) RP=\${r#"$R"}; h P ok "$1"; printf '%s\\n' "$RP" ;;
    *) h P error "$1"; echo 'leads out of the root' ;;
  esac
}
l() {
  if [ -L "$R$1" ]; then h L ok "$1"; readlink -- "$R$1"
  elif [ -e "$R$1" ]; then h L error "$1"; echo 'not a symbolic link'
  else h L absent "$1"; fi
}
e() { if [ -e "$R$1" ]; then h E ok "$1"; else h E absent "$1"; fi; }
for t in /proc/net/route /proc/net/fib_trie /proc/net/ipv6_route /proc/net/if_inet6 /proc/mounts /proc/self/mountinfo /proc/swaps; do f "$t"; done
d /sys/class/net
for n in $(ls -A "$R/sys/class/net" 2>/dev/null); do
  c=/sys/class/net/$n
  p "$c"; d "$c"; l "$c/master"; d "$c/brif"; f "$c/bonding/slaves"
done
d /sys/class/block
for b in $(ls -A "$R/sys/class/block" 2>/dev/null); do
  c=/sys/class/block/$b
  f "$c/dev"; f "$c/dm/name"; p "$c"
  if [ -n "$RP" ]; then
    d "$RP/slaves"; e "$RP/partition"
    s=$(printf '%s\\n' "$RP" | sed -n 's#^\\(.*/nvme-subsystem/nvme-subsys[0-9][0-9]*\\)/.*#\\1#p')
    if [ -n "$s" ]; then
      d "$s"
      for x in $(ls -A "$R$s" 2>/dev/null); do case $x in nvme[0-9]*) p "$s/$x" ;; esac; done
    fi
  fi
done
for t in /proc/mounts /proc/swaps; do
  [ -f "$R$t" ] && while read -r src rest; do case $src in /dev/*) p "$src" ;; esac; done < "$R$t"
done
d /sys/bus/pci/devices
for a in $(ls -A "$R/sys/bus/pci/devices" 2>/dev/null); do f "/sys/bus/pci/devices/$a/boot_vga"; done
printf '%s END\\n' "$M"
`;

/** The script of one dump, marked with `nonce` (hex digits only). */
export function hostDumpScript(nonce: string): string {
  if (!/^[0-9a-f]{8,}$/.test(nonce)) throw new RangeError(`hostDumpScript: the nonce must be hex digits, got ${JSON.stringify(nonce)}`);
  return SCRIPT.replace('@@NONCE', `@@${nonce}`);
}

type Query = 'F' | 'D' | 'P' | 'L' | 'E';

/** One answer of the dump. */
interface DumpRecord {
  status: 'ok' | 'absent' | 'error';
  text: string;
}

/** The error a question gets: like the fs error HostFs would throw, with a code host-use.ts's messages name. */
function dumpError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Answers host-use.ts's reads from a parsed dump; see the file comment. */
export class DumpedFiles implements HostFiles {
  constructor(private readonly records: ReadonlyMap<string, DumpRecord>) {}

  private record(query: Query, hostPath: string): DumpRecord | undefined {
    return this.records.get(`${query} ${hostPath}`);
  }

  /** The answer to `query`, or a thrown error: not answered, or answered with an error. Null when absent. */
  private answer(query: Query, hostPath: string): string | null {
    const r = this.record(query, hostPath);
    if (r === undefined) throw dumpError('ENODUMP', `${hostPath} is not in what the host printed over ssh`);
    if (r.status === 'error') throw dumpError('EIO', `${hostPath}: ${r.text.trim() || 'cannot be read'} (on the host, over ssh)`);
    return r.status === 'absent' ? null : r.text;
  }

  realpath(hostPath: string): string {
    const resolved = this.answer('P', hostPath);
    if (resolved === null) throw dumpError('ENOENT', `ENOENT: no such file or directory: ${hostPath}`);
    return resolved.trim();
  }

  readOptional(hostPath: string): string | null {
    return this.answer('F', hostPath);
  }

  readlink(hostPath: string): string | null {
    return this.answer('L', hostPath)?.trim() ?? null;
  }

  list(hostPath: string): string[] {
    const text = this.answer('D', hostPath);
    return text === null ? [] : text.split('\n').filter((n) => n !== '').sort();
  }

  /** From the question asked about the path itself, else from its directory's entries. */
  exists(hostPath: string): boolean {
    for (const query of ['E', 'P', 'D', 'F'] as const) {
      const r = this.record(query, hostPath);
      if (r !== undefined && r.status !== 'error') return r.status === 'ok';
    }
    return this.list(posix.dirname(hostPath)).includes(posix.basename(hostPath));
  }
}

/**
 * Parses what {@link hostDumpScript} printed. Throws when the output is not a whole dump: text before the first
 * record, a header that is not one, or no END record (ssh cut short, output over its bound).
 */
export function parseHostDump(text: string, nonce: string): DumpedFiles {
  const marker = `@@${nonce} `;
  const records = new Map<string, DumpRecord>();
  const lines = text.split('\n');
  let current: { key: string; status: DumpRecord['status']; body: string[] } | null = null;
  let ended = false;
  const close = () => {
    if (current === null) return;
    // The line after the last body line is the script's own newline (a file) or the header's end.
    const body = current.body.join('\n');
    records.set(current.key, { status: current.status, text: body });
    current = null;
  };
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith(marker)) {
      if (current === null) {
        if (i === lines.length - 1 && line === '' && ended) break;
        throw new Error(`the host's dump is garbled at line ${i + 1}: no record header before it`);
      }
      current.body.push(line);
      continue;
    }
    close();
    const header = line.slice(marker.length);
    if (header === 'END') {
      ended = true;
      continue;
    }
    const m = /^([FDPLE]) (ok|absent|error) (\/.*)$/.exec(header);
    if (!m) throw new Error(`the host's dump is garbled at line ${i + 1}: ${JSON.stringify(header.slice(0, 80))} is not a record header`);
    current = { key: `${m[1]} ${m[3]}`, status: m[2] as DumpRecord['status'], body: [] };
  }
  if (!ended) throw new Error("the host's dump is incomplete (no END record): the script was cut short");
  return new DumpedFiles(records);
}
