/**
 * What most commands do first: read the desired state (limited to `--host`/`-c`), get one observation per host
 * (observed live, or read from `--snapshot`), and build the Virsh. Kept here so that the commands themselves stay a
 * few lines of glue.
 */
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { HostError, InputError, PassthruError } from '../errors.js';
import { createVirsh } from '../io/execa-virsh.js';
import { createSsh, type Ssh } from '../io/ssh.js';
import { createDriverctl, type Driverctl } from '../io/driverctl.js';
import type { Virsh } from '../io/virsh.js';
import { settleBounded } from '../io/bounded.js';
import { systemClock } from '../io/clock.js';
import { errorCode } from '../io/error-code.js';
import { readTextAtMost, type BoundedText } from '../io/bounded-read.js';
import { inputTooLarge, MAX_INPUT_BYTES } from '../desired/input-limits.js';
import { loadDesiredState } from '../desired/load.js';
import { selectHosts } from '../desired/connect.js';
import type { DesiredHost, DesiredState } from '../model/desired.js';
import type { HostObservation } from '../model/observation.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { observeHost } from '../observe/observe-host.js';
import { parseSnapshotFile } from '../observe/snapshot-file.js';
import { styleFor } from '../render/style.js';
import type { Invocation } from './args.js';
import type { ReportContext } from './reporters.js';
import type { Terminal } from './terminal.js';

/**
 * Reads a file a user named, turning "not there" into a positioned error with a hint, and refusing (without
 * reading it) a file over the size limit of its `kind`.
 */
export async function readUserFile(path: string, what: string, hint: string, kind: keyof typeof MAX_INPUT_BYTES): Promise<string> {
  let read: BoundedText;
  try {
    read = await readTextAtMost(path, MAX_INPUT_BYTES[kind]);
  } catch (e) {
    throw new InputError([{ file: path, line: 1, col: 1, message: `cannot read ${what}: ${errorCode(e) ?? String(e)}`, hint }]);
  }
  if ('overLimit' in read) throw inputTooLarge(path, kind, read.size ?? undefined);
  return read.text;
}

/**
 * Writes the file a user named with `-o`, turning a failure (no such directory, no permission) into a user error.
 * With `overwrite: false` an existing file (or symlink) is refused, not replaced.
 */
export async function writeUserFile(path: string, text: string, what: string, o: { overwrite: boolean } = { overwrite: true }): Promise<void> {
  try {
    await writeFile(path, text, { flag: o.overwrite ? 'w' : 'wx' });
  } catch (e) {
    if (errorCode(e) === 'EEXIST') {
      throw new PassthruError(`${path} already exists: refusing to replace it with ${what}`, {
        hint: 'pass --force to replace it, or -o another file',
      });
    }
    throw new PassthruError(`cannot write ${what} to ${path}: ${errorCode(e) ?? String(e)}`, {
      hint: 'check that the directory exists and is writable, or pass another -o FILE',
    });
  }
}

/** The desired state of `-f`, limited to the hosts of `--host` and `-c` (before anything is observed). */
export async function loadDesired(inv: Invocation): Promise<DesiredState> {
  const text = await readUserFile(
    inv.common.file,
    'the desired state',
    'create passthrough.yaml (see examples/), pass -f FILE, or write one from the host with `passthru import`',
    'desired',
  );
  return selectHosts(loadDesiredState(text, inv.common.file), inv.common);
}

/** The context of a report written to `stream`: its style (colour only on a terminal) and `-q`. */
export function reportContext(inv: Invocation, term: Terminal, stream: { isTTY?: boolean }): ReportContext {
  return { style: styleFor(stream, term.env, inv.common.noColor), quiet: inv.common.quiet };
}

export function makeVirsh(inv: Invocation, term: Terminal): Virsh {
  return createVirsh({
    binary: inv.common.virsh,
    ...(inv.common.debug ? { debug: (line: string) => term.err(`[virsh] ${line}\n`) } : {}),
  });
}

/** The ssh that reads remote hosts' host use (SPEC 12): `$PASSTHRU_SSH`, else `ssh` on PATH. */
export function makeSsh(term: Terminal, inv: Invocation): Ssh {
  return createSsh({
    binary: term.env.PASSTHRU_SSH ?? 'ssh',
    ...(inv.common.debug ? { debug: (line: string) => term.err(`[ssh] ${line}\n`) } : {}),
  });
}

/**
 * The driverctl that apply's binding steps run: `$PASSTHRU_DRIVERCTL`, else `driverctl` on PATH (SPEC 10). With a
 * `--root` other than `/` only `$PASSTHRU_DRIVERCTL` is run: driverctl has no root option, so the one on PATH would
 * change this machine's devices while the plan was made from that tree's.
 */
export function makeDriverctl(inv: Invocation, term: Terminal): Driverctl {
  const root = path.resolve(inv.common.root);
  if (term.env.PASSTHRU_DRIVERCTL === undefined && root !== '/') {
    const refusal = new HostError(`refusing to run driverctl for the tree at ${root}: the driverctl on PATH changes this machine's devices, not that tree's`, {
      hint: 'set PASSTHRU_DRIVERCTL to a driverctl that acts on that tree, or apply on the host itself (--root /)',
    });
    return { run: () => Promise.reject(refusal) };
  }
  return createDriverctl({
    binary: term.env.PASSTHRU_DRIVERCTL ?? 'driverctl',
    ...(term.env.PATH !== undefined ? { searchPath: term.env.PATH } : {}),
    ...(inv.common.debug ? { debug: (line: string) => term.err(`[driverctl] ${line}\n`) } : {}),
  });
}

/**
 * One observation per host of `desired`, in its order: read from `--snapshot` (offline) or observed now. Hosts are
 * independent machines: each is observed on its own, and one that fails (unreachable, not in the snapshot file)
 * gets its error in its own entry while the others go on. A snapshot file that cannot be read at all is the whole
 * command's error; so is a bug (not a PassthruError), once every host has finished.
 */
export async function observeHosts(desired: DesiredState, inv: Invocation, term: Terminal): Promise<HostObservation[]> {
  // A file of one snapshot serves a run of one host whatever its name (the seed's `local` for a file's `hv1`), but
  // not a host that --host picked by name: that one must be in the file.
  const anyName = desired.hosts.length === 1 && inv.common.hosts.length === 0;
  const observe = inv.snapshot ? await fromSnapshotFile(inv.snapshot, anyName) : liveObserver(inv, term, desired.hosts.length > 1);
  const settled = await eachHost(desired.hosts, inv, observe);
  const bug = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof PassthruError));
  if (bug?.status === 'rejected') throw bug.reason;
  return settled.map((s, i) => {
    const host = desired.hosts[i] as DesiredHost;
    return s.status === 'fulfilled' ? { host, snapshot: s.value } : { host, error: s.reason as Error };
  });
}

/**
 * Runs `fn` for every host, at most `--parallelism` at once (SPEC 12), and waits for all of them whatever each one's
 * outcome; results are in the order of `hosts`.
 */
function eachHost<T>(hosts: readonly DesiredHost[], inv: Invocation, fn: (host: DesiredHost) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return settleBounded(hosts, inv.parallelism, (host) => fn(host));
}

function liveObserver(inv: Invocation, term: Terminal, multi: boolean): (host: DesiredHost) => Promise<HostSnapshot> {
  const virsh = makeVirsh(inv, term);
  const ssh = makeSsh(term, inv);
  return (host) =>
    observeHost(host, {
      virsh,
      ssh,
      root: inv.common.root,
      clock: systemClock,
      warn: (m) => term.err(`warning: ${multi ? `${host.name}: ` : ''}${m}\n`),
    });
}

/** Hosts looked up by name in a snapshot file; with `anyName`, a file of one snapshot serves the host. */
async function fromSnapshotFile(file: string, anyName: boolean): Promise<(host: DesiredHost) => Promise<HostSnapshot>> {
  const snapshots = parseSnapshotFile(await readUserFile(file, 'the snapshot', 'write one with `passthru observe -o FILE`', 'snapshot'), file);
  const only = anyName && snapshots.length === 1 ? snapshots[0] : undefined;
  return async (host) => {
    const s = snapshots.find((x) => x.host === host.name) ?? only;
    if (s) return s;
    throw new HostError(`${file} has no snapshot of host "${host.name}" (it has: ${snapshots.map((x) => x.host).join(', ')})`, {
      hint: `observe it with \`passthru observe --host ${host.name} -o FILE\`, or plan only the hosts of the snapshot with --host`,
    });
  };
}
