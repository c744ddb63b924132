/**
 * What most commands do first: read the desired state, get one snapshot per host (observed live, or read from
 * `--snapshot`), and build the Virsh. Kept here so that the commands themselves stay a few lines of glue.
 */
import { writeFile } from 'node:fs/promises';
import { InputError, PassthruError } from '../errors.js';
import { readTextAtMost, type BoundedText } from '../io/bounded-read.js';
import { createVirsh } from '../io/execa-virsh.js';
import type { Virsh } from '../io/virsh.js';
import { systemClock } from '../io/clock.js';
import { errorCode } from '../observe/sysfs.js';
import { inputTooLarge, MAX_INPUT_BYTES } from '../desired/input-limits.js';
import { loadDesiredState } from '../desired/load.js';
import { withConnectUri } from '../desired/connect.js';
import type { DesiredState } from '../model/desired.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { observeHost } from '../observe/observe-host.js';
import { parseSnapshotFile } from '../observe/snapshot-file.js';
import type { Invocation } from './args.js';
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

export async function loadDesired(inv: Invocation): Promise<DesiredState> {
  const text = await readUserFile(
    inv.common.file,
    'the desired state',
    'create passthrough.yaml (see examples/), pass -f FILE, or write one from the host with `passthru import`',
    'desired',
  );
  const state = loadDesiredState(text, inv.common.file);
  return inv.common.connect !== null ? withConnectUri(state, inv.common.connect) : state;
}

export function makeVirsh(inv: Invocation, term: Terminal): Virsh {
  return createVirsh({
    binary: inv.common.virsh,
    ...(inv.common.debug ? { debug: (line: string) => term.err(`[virsh] ${line}\n`) } : {}),
  });
}

/**
 * One snapshot per declared host: read from `--snapshot` (offline) or observed now. Hosts are observed in
 * parallel: they are independent machines.
 */
export async function snapshotsFor(desired: DesiredState, inv: Invocation, term: Terminal): Promise<Map<string, HostSnapshot>> {
  if (inv.snapshot) {
    const file = inv.snapshot;
    const snapshots = parseSnapshotFile(await readUserFile(file, 'the snapshot', 'write one with `passthru observe -o FILE`', 'snapshot'), file);
    const only = snapshots.length === 1 && desired.hosts.length === 1 ? snapshots[0] : undefined;
    return new Map(
      desired.hosts.map((h) => {
        const s = only ?? snapshots.find((x) => x.host === h.name);
        if (!s) {
          throw new InputError([
            { file, line: 1, col: 1, message: `the snapshot has no host "${h.name}" (it has: ${snapshots.map((x) => x.host).join(', ')})` },
          ]);
        }
        return [h.name, s];
      }),
    );
  }
  const virsh = makeVirsh(inv, term);
  const observed = await Promise.all(
    desired.hosts.map((h) => observeHost(h, { virsh, root: inv.common.root, clock: systemClock, warn: (m) => term.err(`warning: ${m}\n`) })),
  );
  return new Map(observed.map((s) => [s.host, s]));
}
