/**
 * Boot-time bindings (SPEC 10): a device claimed with `managed: false` must be on vfio-pci whenever the host is up,
 * right after boot included, so its binding is persisted through driverctl (`persist-binding`); the override is
 * removed again (`unpersist-binding`) when the device leaves every VM.
 *
 * Which overrides are passthru's: the override of a device the file claims with `managed: false` (whatever driver it
 * names: anything but vfio-pci is drift, replaced), and the `vfio-pci` override of a device that leaves every VM in
 * this plan (listed under `release`, or pruned from a listed VM and claimed by no other) — an override passthru
 * would have written. Every other override is left alone (a human's, another tool's; `doctor` reports it): a
 * `vfio-pci` override on a device claimed with `managed: true` included, since libvirt binds that device itself
 * and the override only decides where it sits at boot.
 *
 * driverctl unbinds a device before it binds it again, for `set-override` and `unset-override` alike (even with
 * `--noprobe`), and unbinding vfio-pci from a device a running QEMU holds makes the kernel ask QEMU to give it back
 * (a hot-unplug request to the guest). So no binding action is planned for a device a running domain holds: a
 * persist waits, with a warning, until that VM stops; a device that leaves a VM that still runs is not leaving yet
 * (plan-host.ts already warns about it).
 *
 * A host whose bindings were not observed (remote: libvirt shows no `/etc`) gets no binding action, and a warning
 * when it has `managed: false` claims: nothing is invented.
 */
import { formatPos } from '../model/desired.js';
import type { Action, Problem } from '../model/plan.js';
import type { DomainSnapshot, PersistedOverride } from '../model/snapshot.js';
import type { HostView } from './host-view.js';
import type { Assignment } from './resolve-claims.js';

const VFIO = 'vfio-pci';

/** How to install driverctl, for the `driverctl-missing` hint. */
export const DRIVERCTL_INSTALL = 'install driverctl: `apt-get install driverctl` (Debian/Ubuntu) or `dnf install driverctl` (RHEL/Fedora), then plan again';

/** The binding actions of one host and the problems they raise. */
export interface BindingPlan {
  actions: Action[];
  problems: Problem[];
}

/**
 * Plans the persisted bindings of one host. `leaving`: the devices this plan gives back to the host (released or
 * pruned, held by no domain that keeps running), each with why (from plan-host.ts's binding rules). `runningHolder`:
 * a running domain other than the one it is claimed for that still holds a device once the plan's unplugs ran.
 */
export function planPersistedBindings(
  view: HostView,
  assignments: readonly Assignment[],
  leaving: ReadonlyMap<string, string>,
  runningHolder: (address: string) => DomainSnapshot | undefined,
): BindingPlan {
  const pinned = assignments.filter((a) => !a.managed && !a.device.isBridge && view.domain(a.vm.name) !== undefined);
  const { bindings, bindingsUnknown } = view.snapshot;
  if (!bindings) {
    if (pinned.length === 0) return { actions: [], problems: [] };
    const addresses = pinned.map((a) => a.device.address).join(', ');
    return {
      actions: [],
      problems: [
        {
          severity: 'warn',
          code: 'bindings-unknown',
          message: `the persisted driver bindings of host ${view.snapshot.host} are unknown (${bindingsUnknown ?? 'not observed'}): whether ${addresses} (managed: false) will be on vfio-pci after a reboot cannot be told`,
          hint: 'run passthru on that host itself (its /etc/driverctl.d is read locally), or check `driverctl list-overrides` there',
        },
      ],
    };
  }
  const overrides = new Map<string, PersistedOverride>(bindings.overrides.map((o) => [o.address, o]));
  const actions: Action[] = [];
  const problems: Problem[] = [];
  // Addresses whose binding must be persisted or removed, now or once a VM stops: each needs driverctl.
  const needed: string[] = [];
  for (const a of pinned) {
    const address = a.device.address;
    const persisted = overrides.get(address);
    if (persisted?.unreadable !== undefined) {
      problems.push(unreadable(address, persisted.unreadable));
      continue;
    }
    if (persisted?.driver === VFIO) continue;
    needed.push(address);
    // The VM it is claimed for keeps it too when it already runs with it.
    const own = view.domain(a.vm.name);
    const holder = runningHolder(address) ?? (own?.live?.hostdevs.some((h) => h.address === address) ? own : undefined);
    if (holder) {
      problems.push({
        severity: 'warn',
        code: 'takes-effect-at-next-start',
        message:
          `the vfio-pci binding of ${address} is not persisted while running VM "${holder.name}" uses it: driverctl unbinds a device ` +
          `before binding it, which would ask the VM to give the device back; the next apply after "${holder.name}" stops persists it`,
        address,
        vm: holder.name,
      });
      continue;
    }
    const claim = `managed: false for ${a.vm.name} at ${formatPos(a.pos)}`;
    actions.push({
      kind: 'persist-binding',
      address,
      fromDriver: persisted?.driver ?? null,
      reason:
        persisted?.driver == null
          ? `${claim}: it must be on vfio-pci from boot, and no driverctl override is persisted`
          : `${claim}: the driverctl override persists ${persisted.driver}, not vfio-pci (drift)`,
    });
  }
  for (const [address, why] of leaving) {
    const persisted = overrides.get(address);
    if (persisted?.driver !== VFIO || view.device(address) === undefined) continue;
    needed.push(address);
    actions.push({ kind: 'unpersist-binding', address, fromDriver: VFIO, reason: `${why}: its vfio-pci override is removed` });
  }
  // Blocked even when the only need waits for a VM to stop: the file cannot be converged on this host as it is.
  if (needed.length > 0 && bindings.driverctl === null) {
    problems.push({
      severity: 'block',
      code: 'driverctl-missing',
      message: `host ${view.snapshot.host} must persist (or remove) the boot-time binding of ${needed.join(', ')}, but driverctl is not installed (no /usr/sbin/driverctl)`,
      hint: DRIVERCTL_INSTALL,
    });
  }
  return { actions, problems };
}

function unreadable(address: string, why: string): Problem {
  return {
    severity: 'block',
    code: 'binding-unreadable',
    message: `the persisted driver binding of ${address} cannot be trusted: ${why}`,
    hint: `remove it (\`rm '/etc/driverctl.d/pci-${address}'\`) or write the driver name into it, then plan again`,
    address,
  };
}
