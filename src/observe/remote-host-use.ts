/**
 * Host use of a remote host (SPEC 12): its routes, addresses, mounts, swaps and boot GPU, read through ONE ssh per
 * host (observe/host-dump.ts's script) and parsed by the same observeHostUse as a local host's, so a remote host's
 * NIC under the default route or disk controller under `/` is protected like a local one.
 *
 * Where ssh is impossible (tls, tcp, unix, ext transports, an alias) or fails (refused, no key, a host key not in
 * known_hosts, a timeout, a garbled dump), host use stays unknown — both parts, with ssh's own message — and the
 * planner takes none of that host's NICs or disk controllers without `force` (host-use-unknown). Never a guess.
 */
import { randomBytes } from 'node:crypto';
import { sshTargetOf } from '../desired/ssh-target.js';
import type { Ssh } from '../io/ssh.js';
import type { HostUseUnknown, PciDevice } from '../model/snapshot.js';
import { hostDumpScript, parseHostDump, type DumpedFiles } from './host-dump.js';
import { observeHostUse } from './host-use.js';
import { bootVgaUse, type WarnFn } from './sysfs.js';

/** What ssh gave: the host's answers, or why there are none. */
export type RemoteDump = { files: DumpedFiles } | { unknown: string };

/** Why a host reached without ssh has unknown host use. */
const NO_SSH = 'the host is observed through libvirt only (its URI is not qemu+ssh://), which shows no routes, mounts or swap';

/** Reads the dump of the host at `uri` with one ssh; never rejects for a problem of ssh or of the host. */
export async function readRemoteDump(uri: string, ssh: Ssh): Promise<RemoteDump> {
  const target = sshTargetOf(uri);
  if (!target.ok) {
    return { unknown: target.kind === 'not-ssh' ? NO_SSH : `passthru does not run ssh for ${uri}: ${target.reason}` };
  }
  const nonce = randomBytes(16).toString('hex');
  try {
    return { files: parseHostDump(await ssh.run(target.target, hostDumpScript(nonce)), nonce) };
  } catch (err) {
    return { unknown: `host use could not be read over ssh: ${(err as Error).message}` };
  }
}

/** What a remote snapshot says about host use. */
export interface RemoteHostUse {
  hostUseKnown: boolean;
  hostUseUnknown?: HostUseUnknown;
}

/** Adds the dump's host uses to `devices` (in place), as observeLocalHost does for a local host. */
export function applyRemoteDump(dump: RemoteDump, devices: PciDevice[], warn: WarnFn): RemoteHostUse {
  if ('unknown' in dump) {
    warn(`${dump.unknown}; host use is unknown`);
    return { hostUseKnown: false, hostUseUnknown: { network: dump.unknown, storage: dump.unknown } };
  }
  const { uses, unknown } = observeHostUse(dump.files, devices, { warn });
  for (const d of devices) {
    const bootVga = bootVgaUse(d.class, () => {
      const file = `/sys/bus/pci/devices/${d.address}/boot_vga`;
      try {
        return dump.files.readOptional(file);
      } catch (err) {
        warn(`cannot read ${file}: ${(err as Error).message}`);
        return null;
      }
    });
    d.hostUse = [...(uses.get(d.address) ?? []), ...bootVga];
  }
  const known = unknown.network === undefined && unknown.storage === undefined;
  return known ? { hostUseKnown: true } : { hostUseKnown: false, hostUseUnknown: unknown };
}
