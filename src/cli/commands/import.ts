/**
 * `passthru import`: brings an existing host under passthru by writing the passthrough.yaml that describes what
 * it has now — every VM with PCI hostdevs, and `protect` entries for the devices the host itself depends on.
 * Planning the result against the same host reports no domain changes.
 */
import { stringify } from 'yaml';
import { ExitCode } from '../../errors.js';
import { systemClock } from '../../io/clock.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import type { Invocation } from '../args.js';
import { snapshotsFor, writeUserFile } from '../context.js';
import { hostsToObserve } from './observe.js';
import { packageInfo } from '../package-info.js';
import type { Terminal } from '../terminal.js';

/** The desired state (as the user-facing YAML shape) that matches the snapshots. Pure. */
function describeAssignments(snapshots: HostSnapshot[], uris: Map<string, string>): Record<string, unknown> {
  const single = snapshots.length === 1;
  const vms: Record<string, unknown> = {};
  const protect: Record<string, string>[] = [];
  for (const s of snapshots) {
    const devices = new Map(s.devices.map((d) => [d.address, d]));
    for (const dom of s.domains) {
      if (dom.persistent.hostdevs.length === 0) continue;
      vms[dom.name] = {
        ...(single ? {} : { host: s.host }),
        devices: dom.persistent.hostdevs.map((h) => {
          const d = devices.get(h.address);
          return { address: h.address, ...(d ? { expect: { vendor: d.vendor, product: d.product } } : {}), managed: h.managed };
        }),
      };
    }
    for (const d of s.devices.filter((x) => x.hostUse.length > 0)) {
      protect.push({ ...(single ? {} : { host: s.host }), address: d.address });
    }
  }
  const hosts = Object.fromEntries(snapshots.map((s) => [s.host, { uri: uris.get(s.host) ?? s.uri }]));
  const defaultHost = single && snapshots[0]?.host === 'local' && snapshots[0].uri === 'qemu:///system';
  return {
    version: 1,
    ...(defaultHost ? {} : { hosts }),
    vms,
    ...(protect.length > 0 ? { protect } : {}),
  };
}

export async function runImport(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await hostsToObserve(inv);
  const snapshots = [...(await snapshotsFor(desired, inv, term)).values()];
  const doc = describeAssignments(snapshots, new Map(desired.hosts.map((h) => [h.name, h.uri])));
  const header =
    `# yaml-language-server: $schema=./node_modules/${packageInfo().name}/schemas/passthrough.schema.json\n` +
    `# Written by \`passthru import\` on ${systemClock.now().toISOString()}: the current assignments; \`protect\` lists the\n` +
    '# devices the host itself uses (default route, addresses, mounts, swap, boot VGA).\n';
  const text = header + stringify(doc, { lineWidth: 0 });
  if (inv.out) {
    await writeUserFile(inv.out, text, 'the desired state');
    if (!inv.common.quiet) term.err(`Wrote ${inv.out}; check it with: passthru plan -f ${inv.out}\n`);
  } else term.out(text);
  return ExitCode.ok;
}
