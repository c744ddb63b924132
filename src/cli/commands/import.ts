/**
 * `passthru import`: brings an existing host under passthru by writing the passthrough.yaml that describes what
 * it has now — every VM with PCI hostdevs, and `protect` entries for the devices the host itself depends on.
 * Planning the result against the same host reports no domain changes.
 */
import { ExitCode, HostError, PassthruError } from '../../errors.js';
import { systemClock } from '../../io/clock.js';
import type { HostSnapshot } from '../../model/snapshot.js';
import type { Invocation } from '../args.js';
import { observeHosts, reportContext, writeUserFile } from '../context.js';
import { render } from '../reporters.js';
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
  const observations = await observeHosts(desired, inv, term);
  const failed = observations.flatMap((o) => ('error' in o ? [o] : []));
  // The file describes every host or none: one written without a host would leave that host's VMs unmanaged.
  if (failed.length > 0) {
    const first = failed[0]?.error;
    const fix = first instanceof PassthruError && first.hint ? `${first.hint}; ` : '';
    throw new HostError(
      `cannot import: ${failed.length} of ${observations.length} host(s) could not be observed\n` +
        failed.map((f) => `  ${f.host.name}: ${f.error.message}`).join('\n'),
      { hint: `${fix}or import only the hosts that answer, with --host NAME` },
    );
  }
  const snapshots = observations.flatMap((o) => ('snapshot' in o ? [o.snapshot] : []));
  const document = describeAssignments(snapshots, new Map(desired.hosts.map((h) => [h.name, h.uri])));
  const header =
    `# yaml-language-server: $schema=./node_modules/${packageInfo().name}/schemas/passthrough.schema.json\n` +
    `# Written by \`passthru import\` on ${systemClock.now().toISOString()}: the current assignments; \`protect\` lists the\n` +
    '# devices the host itself uses (default route, addresses, mounts, swap, boot VGA).\n';
  const text = render('import', inv.format, { header, document }, reportContext(inv, term, term.outStream));
  if (inv.out) {
    await writeUserFile(inv.out, text, 'the desired state');
    if (!inv.common.quiet) term.err(`Wrote ${inv.out}; check it with: passthru plan -f ${inv.out}\n`);
  } else term.out(text);
  return ExitCode.ok;
}
