/**
 * The planner's property test (issue 9): on generated hosts and files, every applyable plan, carried out on a model
 * of the host (`simulate`), converges (re-planning finds nothing to do), touches nothing it must not, and runs in
 * SPEC 2 order; every blocked plan says why with stable codes. Seeded: a failure prints the seed, fast-check's path
 * and the case as a human reads it; `PASSTHRU_PROPERTY_SEED=<seed> PASSTHRU_PROPERTY_PATH=<path>` replays it, and
 * `PASSTHRU_PROPERTY_RUNS` sets how many cases run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findConflicts } from '../src/desired/conflicts.js';
import type { DesiredHostState } from '../src/model/desired.js';
import { canonicalOverlaps } from '../src/model/pci-address.js';
import type { Action, HostPlan, ProblemCode } from '../src/model/plan.js';
import { ACTION_ORDER } from '../src/model/plan.js';
import type { DomainSnapshot, HostSnapshot, PciDevice } from '../src/model/snapshot.js';
import { planHost } from '../src/plan/plan-host.js';
import { simulate } from '../src/plan/simulate.js';
import { describeCase, generateCase, type GeneratedCase } from './helpers/generate-host.js';

const SEED = Number(process.env.PASSTHRU_PROPERTY_SEED ?? 20261124);
const RUNS = Number(process.env.PASSTHRU_PROPERTY_RUNS ?? 1000);
/** fast-check's `path` of a failure, to replay exactly that case (and its shrinking) with the same seed. */
const PATH = process.env.PASSTHRU_PROPERTY_PATH;

/** Every problem code, and whether a problem with it concerns one device (and so must name its address). */
const CODES: Record<ProblemCode, boolean> = {
  'iommu-disabled': false,
  'iommu-group-not-viable': true,
  'iommu-group-split': true,
  'host-critical': true,
  protected: true,
  'unknown-vm': false,
  'transient-vm': false,
  'device-not-found': true,
  'identity-mismatch': true,
  'not-an-endpoint': true,
  'pf-and-vf-assigned': true,
  'device-in-use': true,
  'selector-shortfall': false,
  'release-in-use': true,
  'selinux-virt-use-sysfs': false,
  'takes-effect-at-next-start': false,
  'host-use-unknown': false,
  'no-iommu-group': true,
  'interface-without-mac': false,
  'boot-order-lost': true,
  'vfs-in-use': true,
  'numvfs-too-many': true,
  'numvfs-remote': true,
  'not-sriov-capable': true,
  'pf-has-vfs': true,
  'interface-not-a-vf': true,
  'vf-claimed-twice': true,
  'vf-not-yet-created': true,
  'pf-link-down': true,
  'device-not-back': true,
  'device-busy': true,
  'device-holders-unknown': true,
  'driverctl-missing': false,
  'binding-unreadable': true,
  'bindings-unknown': false,
};

const CANONICAL = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$|^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]$/;

const describeAction = (a: Action) =>
  `${a.kind} ${'vm' in a ? `"${a.vm}" ` : ''}${a.kind === 'remove-interface' ? `${a.type}:${a.source} ${a.mac}` : a.address}` +
  ('config' in a ? ` ${a.config ? 'config' : ''}${a.live ? '+live' : ''}` : '');
const describePlan = (p: HostPlan) =>
  [...p.actions.map((a) => `  ${describeAction(a)}`), ...p.problems.map((x) => `  ${x.severity}:${x.code} ${x.message}`)].join('\n');

/** A property that does not hold, with what was seen. */
class Violation extends Error {}
const check = (ok: boolean, what: string): void => {
  if (!ok) throw new Violation(what);
};

const addressOf = (a: Action) => ('address' in a ? a.address : null);
const persistentHas = (dom: DomainSnapshot | undefined, address: string) => dom?.persistent.hostdevs.some((h) => h.address === address) ?? false;

/** The properties of an applyable plan. */
function checkApplyable(c: GeneratedCase, plan: HostPlan): void {
  const { desired, snapshot } = c;
  const listed = new Set(desired.vms.map((v) => v.name));
  const byUuid = new Map(snapshot.domains.map((d) => [d.uuid, d]));
  const deviceAt = (address: string) => snapshot.devices.find((d) => d.address === address);
  const unlistedUsers = (address: string) =>
    snapshot.domains.filter((d) => !listed.has(d.name) && [...d.persistent.hostdevs, ...(d.live?.hostdevs ?? [])].some((h) => h.address === address));

  // (d) SPEC 2 order.
  const ranks = plan.actions.map((a) => ACTION_ORDER.indexOf(a.kind));
  check(ranks.every((r, i) => i === 0 || ranks[i - 1]! <= r), 'actions are not in SPEC 2 order');

  for (const a of plan.actions) {
    // (b) only listed VMs are changed, and no device an unlisted VM holds is rebound.
    if ('vm' in a) {
      check(listed.has(a.vm), `${describeAction(a)} changes VM "${a.vm}", which the file does not list`);
      check(byUuid.get(a.vmUuid)?.name === a.vm, `${describeAction(a)} names UUID ${a.vmUuid}, which is not "${a.vm}"'s`);
    }
    const address = addressOf(a);
    if (address === null) continue;
    if (a.kind === 'nodedev-detach' || a.kind === 'nodedev-reattach') {
      const users = unlistedUsers(address);
      check(users.length === 0, `${describeAction(a)} rebinds a device that unlisted VM "${users[0]?.name}" holds`);
    }
    // (c) protected devices are never touched; host-critical ones only by a claim that says force.
    check(!desired.protect.some((p) => canonicalOverlaps(p.address, address)), `${describeAction(a)} touches a protected device`);
    const d = deviceAt(address);
    if ((a.kind === 'nodedev-detach' || a.kind === 'attach-hostdev') && d && d.hostUse.length > 0) {
      check(forcedFor(desired, d, a.kind === 'attach-hostdev' ? a.vm : null), `${describeAction(a)} takes host-critical ${address} without force`);
    }
  }

  const after = simulate(snapshot, plan.actions, { hostDrivers: c.hostDrivers });
  const again = planHost(desired, after);
  // (a) convergence: the plan, carried out, leaves nothing to do and nothing blocked.
  check(again.actions.length === 0, `re-planning after the plan still has actions:\n${describePlan(again)}`);
  check(again.problems.every((p) => p.severity !== 'block'), `re-planning after the plan is blocked:\n${describePlan(again)}`);
  // (b) unlisted VMs are exactly as they were.
  for (const dom of snapshot.domains.filter((d) => !listed.has(d.name))) {
    check(JSON.stringify(after.domains.find((d) => d.uuid === dom.uuid)) === JSON.stringify(dom), `unlisted VM "${dom.name}" changed`);
  }
  // (e) a device that ends in a VM was not given back to the host on the way.
  const afterDomain = (name: string) => after.domains.find((d) => d.name === name);
  for (const a of plan.actions) {
    if (a.kind !== 'nodedev-reattach') continue;
    const holder = desired.vms.find((v) => persistentHas(afterDomain(v.name), a.address));
    check(holder === undefined, `${a.address} is reattached to the host but ends in VM "${holder?.name}"`);
  }
  checkClaims(desired, after);
  checkReleases(desired, after);

  // (h) What waited for a VM to stop ("takes effect at next start") is done by the next apply after it stopped.
  if (!after.domains.some((d) => d.active)) return;
  const stopped = stopDomains(after);
  const later = planHost(desired, stopped);
  check(later.problems.every((p) => p.severity !== 'block'), `once the VMs stopped, the plan is blocked:\n${describePlan(later)}`);
  const settled = simulate(stopped, later.actions, { hostDrivers: c.hostDrivers });
  const last = planHost(desired, settled);
  check(last.actions.length === 0, `once the VMs stopped, two plans do not converge:\n${describePlan(later)}\nthen:\n${describePlan(last)}`);
  checkReleases(desired, settled);
}

/** The host after every domain stopped: a transient one is gone, the others are shut off with their config. */
function stopDomains(host: HostSnapshot): HostSnapshot {
  return {
    ...host,
    domains: host.domains.filter((d) => !d.transient).map((d) => ({ ...d, state: 'shut off', active: false, live: null })),
  };
}

/** Whether a claim of `vm` (any VM when null) with `force: true` covers host-critical device `d`. */
function forcedFor(desired: DesiredHostState, d: PciDevice, vm: string | null): boolean {
  return desired.vms
    .filter((v) => vm === null || v.name === vm)
    .some((v) =>
      v.devices.some((claim) =>
        claim.force && (claim.kind === 'address' ? canonicalOverlaps(claim.address, d.address) : claim.kind === 'match' && claim.match.vendor === d.vendor && claim.match.product === d.product),
      ),
    );
}

/**
 * (f) After the plan, each listed VM's config holds exactly what the file claims: every function of its address
 * claims with the claimed `managed`, `count` devices for its selectors, nothing else; and a device it needs on
 * vfio-pci (managed: false, or held by the running domain) is there.
 */
function checkClaims(desired: DesiredHostState, after: HostSnapshot): void {
  for (const vm of desired.vms) {
    const dom = after.domains.find((d) => d.name === vm.name);
    if (!dom) continue;
    const held = new Map(dom.persistent.hostdevs.map((h) => [h.address, h]));
    const expected = new Map<string, boolean>();
    for (const claim of vm.devices) {
      if (claim.kind !== 'address') continue;
      for (const d of after.devices.filter((x) => canonicalOverlaps(claim.address, x.address))) expected.set(d.address, claim.managed);
    }
    for (const [address, managed] of expected) {
      const h = held.get(address);
      check(h !== undefined, `${address} is claimed for "${vm.name}" but is not in its config after the plan`);
      // An <interface type='hostdev'> is kept as it is: a claim by address does not turn it into a <hostdev>.
      if (h!.source === 'hostdev') check(h!.managed === managed, `${address} is in "${vm.name}"'s config with managed=${h!.managed}, the file says ${managed}`);
    }
    const others = [...held.keys()].filter((a) => !expected.has(a));
    const wanted = new Map<string, number>();
    for (const claim of vm.devices) {
      if (claim.kind === 'match') wanted.set(`${claim.match.vendor}:${claim.match.product}`, (wanted.get(`${claim.match.vendor}:${claim.match.product}`) ?? 0) + claim.count);
    }
    const got = new Map<string, number>();
    for (const address of others) {
      const d = after.devices.find((x) => x.address === address);
      const id = d ? `${d.vendor}:${d.product}` : `(absent ${address})`;
      got.set(id, (got.get(id) ?? 0) + 1);
    }
    check(
      JSON.stringify([...got].sort()) === JSON.stringify([...wanted].sort()),
      `"${vm.name}" holds ${JSON.stringify([...got])} besides its address claims, its selectors want ${JSON.stringify([...wanted])}`,
    );
    // The guest NICs the passed-through devices replace are gone from the config, and from the running domain too
    // when the VM is live-managed.
    const replaced = [...dom.persistent.interfaces, ...(vm.live ? (dom.live?.interfaces ?? []) : [])].filter((i) =>
      vm.removeInterfaces.some((sel) => sel.type === i.type && (sel.source === null || sel.source === i.source) && (sel.mac === null || sel.mac === i.mac)),
    );
    check(replaced.length === 0, `"${vm.name}" still has ${replaced.map((i) => `${i.type}:${i.source} ${i.mac}`).join(', ')}, which removeInterfaces replaces`);
    for (const h of dom.persistent.hostdevs) {
      const d = after.devices.find((x) => x.address === h.address);
      const inLive = dom.live?.hostdevs.some((l) => l.address === h.address) ?? false;
      if (!h.managed || inLive) check(d?.driver === 'vfio-pci', `${h.address} of "${vm.name}" must be on vfio-pci, is on ${d?.driver ?? 'no driver'}`);
    }
  }
}

/** (g) A released device ends in no listed VM and off vfio-pci, unless a running domain still holds it. */
function checkReleases(desired: DesiredHostState, after: HostSnapshot): void {
  for (const r of desired.release) {
    for (const d of after.devices.filter((x) => canonicalOverlaps(r.address, x.address))) {
      const holder = desired.vms.find((v) => persistentHas(after.domains.find((x) => x.name === v.name), d.address));
      check(holder === undefined, `released ${d.address} is still in "${holder?.name}"'s config`);
      const live = after.domains.some((x) => x.live?.hostdevs.some((h) => h.address === d.address));
      check(live || d.driver !== 'vfio-pci', `released ${d.address} is still on vfio-pci`);
    }
  }
}

/** The problems of any plan: every one has a known code, and names the device it is about. */
function checkProblems(c: GeneratedCase, plan: HostPlan): void {
  const vms = new Set([...c.desired.vms.map((v) => v.name), ...c.snapshot.domains.map((d) => d.name)]);
  for (const p of plan.problems) {
    check(Object.hasOwn(CODES, p.code), `unknown problem code ${p.code}`);
    if (CODES[p.code]) check(p.address !== undefined && CANONICAL.test(p.address), `${p.code} problem without a canonical address: ${p.message}`);
    if (p.vm !== undefined) check(vms.has(p.vm), `${p.code} names VM "${p.vm}", which neither the file nor the host has`);
  }
}

/** The plan does not depend on the order in which the host listed its devices and domains. */
function checkOrderIndependent(c: GeneratedCase, plan: HostPlan): void {
  const reversed: HostSnapshot = {
    ...c.snapshot,
    devices: [...c.snapshot.devices].reverse(),
    domains: [...c.snapshot.domains].reverse().map((d) => ({ ...d, persistent: { ...d.persistent, hostdevs: [...d.persistent.hostdevs].reverse() } })),
  };
  const other = planHost(c.desired, reversed);
  check(JSON.stringify(other.actions) === JSON.stringify(plan.actions), `the actions depend on the snapshot's order:\n${describePlan(other)}`);
  const codes = (p: HostPlan) => p.problems.map((x) => `${x.severity}:${x.code}:${x.address ?? ''}:${x.vm ?? ''}`).sort();
  check(JSON.stringify(codes(other)) === JSON.stringify(codes(plan)), 'the problems depend on the snapshot\'s order');
}

/** What kind of plan a case made, to show that the generator reaches every kind. */
type Outcome = 'blocked' | 'applyable, no changes' | 'applyable, with changes';

function checkCase(c: GeneratedCase): Outcome {
  const plan = planHost(c.desired, c.snapshot);
  try {
    const file = { file: 'passthrough.yaml', hosts: [c.desired.host], ...c.desired };
    check(findConflicts(file).length === 0, `the generator made a file that does not load: ${findConflicts(file)[0]?.message}`);
    checkOrderIndependent(c, plan);
    checkProblems(c, plan);
    if (plan.problems.some((p) => p.severity === 'block')) return 'blocked';
    checkApplyable(c, plan);
    return plan.actions.length > 0 ? 'applyable, with changes' : 'applyable, no changes';
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${why}\n--- case (seed ${SEED}) ---\n${describeCase(c)}\n--- plan ---\n${describePlan(plan)}`, { cause: e });
  }
}

/**
 * A case is drawn from a tape of numbers: each choice the generator makes reads the next one (past the end, the
 * simplest choice). Shrinking the tape's numbers towards 0 makes the case simpler, and the counterexample fast-check
 * prints is the tape, short enough to paste into a test.
 */
const tape = fc.array(fc.nat({ max: 99 }), { minLength: 256, maxLength: 256 });
const caseFrom = (numbers: readonly number[]): GeneratedCase => {
  let next = 0;
  return generateCase({ int: (min, max) => min + ((numbers[next++] ?? 0) % (max - min + 1)) });
};

describe('planHost on generated hosts and files (property)', () => {
  it(`holds for ${RUNS} generated cases (seed ${SEED})`, () => {
    const seen = new Map<Outcome, number>();
    fc.assert(
      fc.property(tape, (numbers) => {
        const outcome = checkCase(caseFrom(numbers));
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
    );
    // The generator reaches every kind of plan, each often enough to matter.
    for (const outcome of ['blocked', 'applyable, no changes', 'applyable, with changes'] as const) {
      expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(RUNS / 10);
    }
  });
});
