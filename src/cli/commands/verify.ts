/**
 * `passthru verify` (SPEC 13): observe the hosts, ask each running VM's guest (agent, or QEMU with --qmp) which
 * PCI devices it has, and report per claimed device `seen` / `missing` / `unknown`. Exit 0 all seen, 2 any missing,
 * 1 a host not observed or a device unknown. `apply --verify` runs the same on the VMs it changed live.
 */
import type { DesiredState } from '../../model/desired.js';
import type { HostObservation } from '../../model/observation.js';
import { desiredForHost } from '../../desired/slice.js';
import { DEFAULT_GUEST_PROBE, probeGuest } from '../../io/guest-probe.js';
import { verifyExitCode, verifyTargets, verifyVm, type GuestView, type HostVerdict } from '../../plan/guest-verify.js';
import { printable } from '../../render/printable.js';
import type { Invocation } from '../args.js';
import { loadDesired, makeVirsh, observeHosts, reportContext } from '../context.js';
import { report } from '../reporters.js';
import type { Terminal } from '../terminal.js';

/** Nothing to ask the guest when none of the VM's devices is in its running domain: they are missing anyway. */
const NOT_ASKED: GuestView = { via: null, reason: 'the guest was not asked: none of its devices is in the running domain' };

/**
 * The verdicts of every observed host; `only` limits a host to some of its VMs (by host name; a host not in it is
 * skipped entirely).
 */
export async function verifyHosts(
  desired: DesiredState,
  observations: readonly HostObservation[],
  inv: Invocation,
  term: Terminal,
  only?: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<HostVerdict[]> {
  const virsh = makeVirsh(inv, term);
  const options = { ...DEFAULT_GUEST_PROBE, qmp: inv.qmp, execPolls: Math.max(1, Math.ceil(inv.guestTimeoutMs / DEFAULT_GUEST_PROBE.execPollMs)) };
  const hosts = observations.filter((o) => !only || only.has(o.host.name));
  return Promise.all(
    hosts.map(async (o): Promise<HostVerdict> => {
      const base = { name: o.host.name, uri: o.host.uri };
      if ('error' in o) return { ...base, vms: [], notRunning: [], error: o.error.message };
      const { targets, notRunning } = verifyTargets(desiredForHost(desired, o.host.name), o.snapshot, only?.get(o.host.name));
      const vms = [];
      // One VM at a time per host: a guest agent answers one command at a time anyway.
      for (const t of targets) {
        const taint = () => term.err(`warning: VM "${printable(t.vm)}": asking QEMU's monitor (query-pci); libvirt marks the domain tainted (custom-monitor) from now on\n`);
        const view = t.claimed.some((c) => c.live !== null) ? await probeGuest(virsh, o.host.uri, t.uuid, options, taint) : NOT_ASKED;
        vms.push(verifyVm(t.vm, t.uuid, t.claimed, view));
      }
      return { ...base, vms, notRunning };
    }),
  );
}

export async function runVerify(inv: Invocation, term: Terminal): Promise<number> {
  const desired = await loadDesired(inv);
  const hosts = await verifyHosts(desired, await observeHosts(desired, inv, term), inv, term);
  report(term, 'verify', inv.format, { hosts }, reportContext(inv, term, term.outStream));
  return verifyExitCode(hosts);
}
