/**
 * The planner: a pure function from (desired state of one host, observed snapshot of it) to the ordered actions
 * that converge the two and the problems that block or qualify them. No I/O, no clock: two JSON values in, one out.
 *
 * Ownership (SPEC 2): passthru owns the PCI hostdev set of the VMs the file lists and the driver binding of the
 * devices it names. VMs the file does not list are never changed, but their hostdevs count when checking that a
 * device is free.
 */
import { formatPos, type DesiredHostState, type DesiredVm, type InterfaceSelector } from '../model/desired.js';
import type { Action, HostPlan, Problem } from '../model/plan.js';
import { ACTION_ORDER } from '../model/plan.js';
import type { DomainHostdev, DomainInterface, DomainSnapshot, HostSnapshot } from '../model/snapshot.js';
import { withManaged } from '../libvirt/hostdev-xml.js';
import { checkSriovAssignments, markCreatedVfs, planSriov } from './sriov.js';
import { observedVfInterface, vfInterfaceChange, vfElement } from './vf-interface.js';
import type { VfInterface } from '../model/desired.js';
import { fingerprintSnapshot } from './fingerprint.js';
import { planPersistedBindings } from './bindings.js';
import { hostView, type HostView } from './host-view.js';
import { resolveClaims, type Assignment } from './resolve-claims.js';
import { checkAssignedDevices, checkHostWarnings, checkIommu } from './safety.js';
import { releasedWithoutDriver } from './not-back.js';
import { checkDeviceBusy } from './device-busy.js';

const VFIO = 'vfio-pci';

/** Computes the plan for one host. */
export function planHost(desired: DesiredHostState, snapshot: HostSnapshot): HostPlan {
  // Claims are resolved on the host as the plan's VF counts leave it (a VF created by this plan can be claimed).
  const sriov = planSriov(desired, snapshot, hostView(snapshot));
  const view = hostView(sriov.snapshot);
  const { assignments, problems: claimProblems } = resolveClaims(desired, view);
  const problems: Problem[] = [...sriov.problems];
  const actions: Action[] = [...sriov.actions];
  const pruned: { address: string; vm: DomainSnapshot }[] = [];
  const keepers = keepersAfterPlan(desired, view);
  for (const vm of desired.vms) {
    const dom = view.domain(vm.name);
    if (!dom) {
      problems.push({
        severity: 'block',
        code: 'unknown-vm',
        message: `VM "${vm.name}" (${formatPos(vm.pos)}) is not defined on host ${desired.host.name}`,
        hint: 'names are case-sensitive: check `virsh list --all --name`, or define the VM first',
        vm: vm.name,
      });
      continue;
    }
    if (dom.transient) {
      problems.push({
        severity: 'block',
        code: 'transient-vm',
        message: `VM "${vm.name}" is transient (started with \`virsh create\`): it has no persistent config for passthru to manage`,
        hint: `make it persistent first: virsh dumpxml '${vm.name}' > vm.xml && virsh define vm.xml`,
        vm: vm.name,
      });
      continue;
    }
    const mine = assignments.filter((a) => a.vm === vm);
    const vmActions = [...planVmHostdevs(vm, dom, mine, pruned, keepers, problems), ...planInterfaces(vm, dom, problems)];
    if (dom.active && !vm.live && vmActions.length > 0) {
      problems.push({
        severity: 'warn',
        code: 'takes-effect-at-next-start',
        message: `VM "${vm.name}" is running: its config changes take effect at the next VM start (\`live: false\`)`,
        hint: 'restart the VM when convenient, or set `live: true` to also hot-plug/unplug on the running domain',
        vm: vm.name,
      });
    }
    actions.push(...vmActions);
  }
  const leaving = new Map<string, string>();
  actions.push(...planBindings(desired, view, assignments, pruned, keepers, problems, leaving));
  const runningHolder = (address: string) => keepers(address).find((dom) => dom.live?.hostdevs.some((h) => h.address === address));
  const persisted = planPersistedBindings(view, assignments, leaving, runningHolder);
  actions.push(...persisted.actions);
  problems.push(...persisted.problems);

  const guarded = dropProtected(actions, desired, view, problems);
  // The group rules judge the bindings the file asks for: a sibling given back to the host breaks the group, now
  // (reattached by this plan) or once the running VM that keeps it stops (listed under `release`).
  const returned = new Map<string, string>();
  for (const r of desired.release) for (const d of view.devicesAt(r.address)) returned.set(d.address, 'listed under `release`');
  for (const a of guarded) if (a.kind === 'nodedev-reattach') returned.set(a.address, a.reason);
  return {
    name: desired.host.name,
    uri: desired.host.uri,
    fingerprint: fingerprintSnapshot(snapshot),
    actions: sortActions(markCreatedVfs(guarded, sriov.pending, view)),
    problems: sortProblems([
      ...claimProblems,
      ...checkIommu(view, assignments),
      // A VF this plan creates has no IOMMU group yet: checkSriovAssignments warns about that instead.
      ...checkAssignedDevices(desired, view, assignments, returned).filter((p) => !(p.code === 'no-iommu-group' && sriov.pending.has(p.address ?? ''))),
      ...checkSriovAssignments(view, assignments, sriov.pending),
      ...checkHostWarnings(view, assignments),
      ...releasedWithoutDriver(desired, view),
      ...checkDeviceBusy(guarded, snapshot, view),
      ...problems,
    ]),
  };
}

/** The domains that still hold a device once the plan ran. */
type Keepers = (address: string) => DomainSnapshot[];

/**
 * A VM the file does not list keeps every device it has; a listed running VM with `live: false` keeps what its
 * running domain holds until it stops. Every other hold ends with the plan (pruned, or unplugged).
 */
function keepersAfterPlan(desired: DesiredHostState, view: HostView): Keepers {
  const listed = new Map(desired.vms.map((v) => [v.name, v]));
  return (address) =>
    view.usersOf(address).filter((dom) => {
      const vm = listed.get(dom.name);
      return !vm || (!vm.live && (dom.live?.hostdevs.some((h) => h.address === address) ?? false));
    });
}

/** Hostdev adds and prunes for one listed VM. */
function planVmHostdevs(
  vm: DesiredVm,
  dom: DomainSnapshot,
  mine: Assignment[],
  pruned: { address: string; vm: DomainSnapshot }[],
  keepers: Keepers,
  problems: Problem[],
): Action[] {
  const actions: Action[] = [];
  const liveToo = vm.live && dom.active;
  const live = new Map((dom.live?.hostdevs ?? []).map((h) => [h.address, h]));
  const persistent = new Map(dom.persistent.hostdevs.map((h) => [h.address, h]));
  const wanted = new Map(mine.map((a) => [a.device.address, a]));
  const vmRef = { vm: dom.name, vmUuid: dom.uuid };

  // What the running domain holds as the actions so far leave it, so that nothing is plugged in twice.
  const plugged = new Set(liveToo ? live.keys() : []);
  const detach = (h: DomainHostdev, config: boolean, reason: string) => {
    if (h.source === 'interface' && h.mac === undefined) {
      problems.push(interfaceWithoutMac(dom.name, `the VF interface of ${h.address}`, h.address));
      return;
    }
    const inLive = plugged.delete(h.address);
    actions.push({
      kind: 'detach-hostdev',
      ...vmRef,
      address: h.address,
      managed: h.managed,
      source: h.source,
      ...(h.mac ? { mac: h.mac } : {}),
      hostdevXml: h.xml,
      ...(h.source === 'interface' ? { interface: observedVfInterface(h) } : {}),
      config,
      live: inLive,
      reason,
    });
  };
  const attach = (a: Assignment, element: { xml: string; interface?: VfInterface }, config: boolean, reason: string) => {
    const address = a.device.address;
    // A device stays with another running domain that keeps it: libvirt refuses to plug it in here meanwhile.
    const holder = keepers(address).find((d) => d !== dom && d.live?.hostdevs.some((h) => h.address === address));
    if (liveToo && holder && !plugged.has(address)) {
      problems.push({
        severity: 'warn',
        code: 'takes-effect-at-next-start',
        message: `${address} is not hot-plugged into "${vm.name}" while running VM "${holder.name}" holds it; the next apply after "${holder.name}" stops plugs it in`,
        address,
        vm: vm.name,
      });
    }
    const plug = liveToo && !holder && !plugged.has(address);
    if (plug) plugged.add(address);
    if (config || plug) {
      const iface = element.interface ? { interface: element.interface } : {};
      actions.push({ kind: 'attach-hostdev', ...vmRef, address, managed: a.managed, hostdevXml: element.xml, ...iface, config, live: plug, reason });
    }
  };

  for (const h of persistent.values()) {
    const want = wanted.get(h.address);
    const vfChange = want ? vfInterfaceChange(h, want) : null;
    if (!want) {
      detach(h, true, `not claimed for ${vm.name} in ${vm.pos.file}`);
      pruned.push({ address: h.address, vm: dom });
    } else if (vfChange !== null) {
      // A MAC, VLAN or trust change (or hostdev ↔ interface): detach and re-attach that element (SPEC 11).
      detach(h, true, vfChange);
      attach(want, vfElement(want, h), true, vfChange);
    } else if (h.source === 'hostdev' && h.managed !== want.managed) {
      const lost = bootOrderLost(dom, h);
      if (lost) {
        problems.push(lost);
        continue;
      }
      // Re-added from the element the VM has, every child kept, only `managed` rewritten (SPEC 13).
      const change = `managed changes from ${yesNo(h.managed)} to ${yesNo(want.managed)}`;
      detach(h, true, change);
      attach(want, { xml: withManaged(h.xml, want.managed) }, true, change);
    }
  }
  if (liveToo) {
    for (const h of live.values()) {
      if (!persistent.has(h.address) && !wanted.has(h.address)) {
        detach(h, false, `hot-plugged into running ${vm.name} but not claimed`);
        pruned.push({ address: h.address, vm: dom });
      }
    }
  }
  for (const a of wanted.values()) {
    const where = formatPos(a.pos);
    const inConfig = persistent.get(a.device.address);
    if (!inConfig) {
      attach(a, vfElement(a, undefined), true, `claimed for ${vm.name} at ${where}`);
    } else {
      // Hot-plugged as its config declares it, so the running domain gets the same children.
      const iface = observedVfInterface(inConfig);
      attach(a, { xml: inConfig.xml, ...(iface ? { interface: iface } : {}) }, false, `in ${vm.name}'s config but missing from the running domain (${where})`);
    }
  }
  return actions;
}

/**
 * libvirt refuses per-device `<boot order>` next to `<os><boot dev>`, and adds `<boot dev='hd'/>` to a domain left
 * with no per-device boot entry. So a hostdev carrying the VM's only `<boot order>` cannot be detached and re-added
 * (a `managed` change) without libvirt refusing the re-add, and the rollback's re-add too: blocked instead.
 * libvirt prints `<` in text as `&lt;`, so the tags can be counted in its XML text.
 */
function bootOrderLost(dom: DomainSnapshot, h: DomainHostdev): Problem | null {
  const count = (xml: string) => (xml.match(/<boot\s+order=/g) ?? []).length;
  if (count(h.xml) === 0 || count(dom.persistentXml) > count(h.xml)) return null;
  return {
    severity: 'block',
    code: 'boot-order-lost',
    message:
      `changing managed of ${h.address} in VM "${dom.name}" needs a detach and re-attach, but its <boot order> is the VM's only ` +
      'per-device boot entry: libvirt would then add <os><boot dev=\'hd\'/> and refuse to re-attach the device with its boot order',
    hint: `give another device of "${dom.name}" a boot order, or change managed by hand (virsh edit), then plan again`,
    address: h.address,
    vm: dom.name,
  };
}

/** A guest NIC without a MAC cannot be detached safely: libvirt matches `detach-device` of an interface by MAC. */
function interfaceWithoutMac(vm: string, what: string, address?: string): Problem {
  return {
    severity: 'block',
    code: 'interface-without-mac',
    message: `VM "${vm}" declares ${what} without a <mac>: libvirt matches an interface by its MAC, so passthru cannot remove it safely`,
    hint: 'libvirt assigns a MAC when a domain is defined: observe the host afresh rather than this snapshot, or define the VM again (virsh dumpxml, virsh define)',
    vm,
    ...(address ? { address } : {}),
  };
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function interfaceMatches(sel: InterfaceSelector, i: DomainInterface): boolean {
  return (
    sel.type === i.type &&
    (sel.source === null || sel.source === i.source) &&
    (sel.mac === null || sel.mac.toLowerCase() === i.mac?.toLowerCase())
  );
}

/**
 * Guest NICs that a passed-through NIC replaces (the seed's step 15): from the config, and with `live: true` from
 * the running domain too, including one that was only hot-plugged there.
 */
function planInterfaces(vm: DesiredVm, dom: DomainSnapshot, problems: Problem[]): Action[] {
  const liveToo = vm.live && dom.active;
  const liveNics = liveToo ? (dom.live?.interfaces ?? []) : [];
  const liveMacs = new Set(liveNics.map((i) => i.mac));
  const configMacs = new Set(dom.persistent.interfaces.map((i) => i.mac));
  const remove = (i: DomainInterface, config: boolean, live: boolean): Action[] => {
    const sel = vm.removeInterfaces.find((s) => interfaceMatches(s, i));
    if (!sel) return [];
    if (i.mac === null) {
      problems.push(interfaceWithoutMac(dom.name, `the ${i.type} interface${i.source ? ` on ${i.source}` : ''} that ${formatPos(sel.pos)} removes`));
      return [];
    }
    return [
      {
        kind: 'remove-interface' as const,
        vm: dom.name,
        vmUuid: dom.uuid,
        interfaceXml: i.xml,
        type: i.type,
        source: i.source,
        mac: i.mac,
        config,
        live,
        reason: `replaced by a passed-through device (removeInterfaces at ${formatPos(sel.pos)})`,
      },
    ];
  };
  return [
    ...dom.persistent.interfaces.flatMap((i) => remove(i, true, liveMacs.has(i.mac))),
    ...liveNics.filter((i) => !configMacs.has(i.mac)).flatMap((i) => remove(i, false, true)),
  ];
}

/**
 * Driver bindings (SPEC 2): newly assigned devices go to vfio-pci; devices of running VMs and `managed: false`
 * devices must stay there; devices that leave every VM go back to a host driver. A device moving between VMs is
 * not reattached in between. `leaving` receives every device given back to the host (whatever its driver now), each
 * with why: its persisted binding goes too (bindings.ts).
 */
function planBindings(
  desired: DesiredHostState,
  view: HostView,
  assignments: Assignment[],
  pruned: { address: string; vm: DomainSnapshot }[],
  keepers: Keepers,
  problems: Problem[],
  leaving: Map<string, string>,
): Action[] {
  const actions: Action[] = [];
  const assigned = new Set(assignments.map((a) => a.device.address));
  for (const a of assignments) {
    const d = a.device;
    if (d.driver === VFIO || d.isBridge) continue;
    const dom = view.domain(a.vm.name);
    if (!dom) continue;
    const inConfig = dom.persistent.hostdevs.some((h) => h.address === d.address);
    let reason: string | null = null;
    if (!inConfig) reason = `newly assigned to ${a.vm.name}`;
    else if (!a.managed) reason = `assigned to ${a.vm.name} with managed: false, so libvirt will not bind it to ${VFIO} itself`;
    else if (dom.live?.hostdevs.some((h) => h.address === d.address)) {
      reason = `running VM ${a.vm.name} uses it, but it is not on ${VFIO} (drift)`;
    } else if (a.vm.live && dom.active) {
      // Hot-plugged by this plan: bound first, like every device plugged in, so that its group is viable when
      // the first of its siblings is plugged in (libvirt would bind only the device it plugs).
      reason = `hot-plugged into running VM ${a.vm.name}`;
    }
    if (reason) actions.push({ kind: 'nodedev-detach', address: d.address, fromDriver: d.driver, reason });
  }

  const listed = new Set(desired.vms.map((v) => v.name));
  const releases = leaving;
  const kept = new Set<string>();
  const released = new Set(desired.release.flatMap((r) => view.devicesAt(r.address).map((d) => d.address)));
  const release = (address: string, why: string) => {
    // The device is the keeper's, and libvirt refuses to reattach it while a domain runs with it.
    const held = keepers(address);
    if (held.length === 0) {
      releases.set(address, why);
      return;
    }
    const running = held.find((dom) => listed.has(dom.name));
    if (running && !kept.has(address)) {
      kept.add(address);
      problems.push({
        severity: 'warn',
        code: 'takes-effect-at-next-start',
        message:
          `${address} stays in use by running VM "${running.name}" until it stops; ` +
          (released.has(address)
            ? 'it is returned to its host driver by the next apply after that'
            : 'list it under `release` to have the next apply after that return it to its host driver (once in no config, nothing names it)'),
        address,
        vm: running.name,
      });
    }
  };
  for (const p of pruned) {
    if (!assigned.has(p.address)) release(p.address, `removed from ${p.vm.name} and claimed by no VM`);
  }
  for (const r of desired.release) {
    const found = view.devicesAt(r.address);
    if (found.length === 0) {
      problems.push({
        severity: 'block',
        code: 'device-not-found',
        message: `${r.address} (released at ${formatPos(r.pos)}) does not exist on host ${desired.host.name}`,
        hint: 'check the address with `lspci -Dnn`, or drop the entry',
        address: r.address,
      });
    }
    for (const d of found) {
      const holders = view.usersOf(d.address).filter((dom) => !listed.has(dom.name));
      for (const dom of holders) {
        problems.push({
          severity: 'block',
          code: 'release-in-use',
          message: `${d.address} is listed under \`release\` but VM "${dom.name}" (not in the file) uses it`,
          hint: `detach it from "${dom.name}" first, or add "${dom.name}" to the file`,
          address: d.address,
          vm: dom.name,
        });
      }
      if (holders.length === 0 && !releases.has(d.address)) release(d.address, 'listed under `release`');
    }
  }
  for (const [address, why] of releases) {
    const d = view.device(address);
    if (d?.driver !== VFIO) continue;
    actions.push({ kind: 'nodedev-reattach', address, fromDriver: d.driver, reason: why });
  }
  return actions;
}

/** `protect` wins over everything: an action on a protected device is dropped and reported instead. */
function dropProtected(actions: Action[], desired: DesiredHostState, view: HostView, problems: Problem[]): Action[] {
  const patterns = desired.protect.map((p) => p.address);
  if (patterns.length === 0) return actions;
  return actions.filter((a) => {
    if (a.kind === 'remove-interface' || !view.covers(patterns, a.address)) return true;
    // The claim of a protected device is reported where it is resolved; what would undo a binding is blocked here.
    if (a.kind !== 'attach-hostdev' && a.kind !== 'nodedev-detach' && a.kind !== 'persist-binding') {
      problems.push({
        severity: 'block',
        code: 'protected',
        message: `${a.address} is under \`protect\`, but the plan would ${a.kind} it (${a.reason})`,
        hint: 'claim it for that VM explicitly, detach it by hand, or remove it from `protect`',
        address: a.address,
        ...('vm' in a ? { vm: a.vm } : {}),
      });
    }
    return false;
  });
}

const actionKey = (a: Action) => `${'vm' in a ? a.vm : ''}\u0000${'address' in a ? a.address : (a.mac ?? '')}`;

function sortActions(actions: Action[]): Action[] {
  return actions
    .map((a, i) => ({ a, i }))
    .sort(
      (x, y) =>
        ACTION_ORDER.indexOf(x.a.kind) - ACTION_ORDER.indexOf(y.a.kind) ||
        (actionKey(x.a) < actionKey(y.a) ? -1 : actionKey(x.a) > actionKey(y.a) ? 1 : 0) ||
        x.i - y.i,
    )
    .map(({ a }) => a);
}

function sortProblems(problems: Problem[]): Problem[] {
  const rank = (p: Problem) => (p.severity === 'block' ? 0 : 1);
  return problems.map((p, i) => ({ p, i })).sort((x, y) => rank(x.p) - rank(y.p) || x.i - y.i).map(({ p }) => p);
}
