/**
 * Saved plans (`plan -o FILE`, `apply FILE`): the plan together with the snapshots it was computed from, so that
 * `apply` can tell whether the host moved since and, if it did, say how ("Saved plan is stale"). Pure functions.
 */
import { InputError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import type { DomainHostdev, DomainSnapshot, HostSnapshot, ParsedDomain, PciDevice } from '../model/snapshot.js';
import { fingerprintSnapshot } from '../plan/fingerprint.js';

/** Version of the saved-plan file; bump on any incompatible change. */
export const SAVED_PLAN_FORMAT_VERSION = '1';

/** A saved plan file: what `plan -o` writes and `apply PLANFILE` reads. */
export interface SavedPlan {
  format_version: typeof SAVED_PLAN_FORMAT_VERSION;
  plan: Plan;
  /** One snapshot per planned host, as observed when the plan was made. */
  snapshots: HostSnapshot[];
  /** The desired state the plan was made from: after applying, a fresh plan of it must be empty (SPEC 6). */
  desired: DesiredState;
}

/** The file's text: pretty JSON with a trailing newline. */
export function serializeSavedPlan(saved: SavedPlan): string {
  return `${JSON.stringify(saved, null, 2)}\n`;
}

/**
 * Parses a saved plan file. Throws an InputError naming `file` when it is not JSON, not a saved plan, or of another
 * format version (a plan is never reinterpreted across versions: plan again).
 */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  const fail = (message: string, hint?: string): never => {
    throw new InputError([{ file, line: 1, col: 1, message, ...(hint ? { hint } : {}) }]);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return fail(`not a saved plan: ${(err as Error).message}`, 'write one with `passthru plan -o FILE`');
  }
  if (typeof data !== 'object' || data === null || !('format_version' in data)) {
    return fail('not a saved plan: no format_version', 'write one with `passthru plan -o FILE`');
  }
  const d = data as Record<string, unknown>;
  if (d.format_version !== SAVED_PLAN_FORMAT_VERSION) {
    return fail(
      `saved plan format_version ${JSON.stringify(d.format_version)} is not supported (this passthru reads "${SAVED_PLAN_FORMAT_VERSION}")`,
      'plan again with this version of passthru',
    );
  }
  const plan = d.plan as Partial<Plan> | undefined;
  if (typeof plan !== 'object' || plan === null || !Array.isArray(plan.hosts)) return fail('saved plan has no "plan.hosts"');
  if (!Array.isArray(d.snapshots)) return fail('saved plan has no "snapshots"');
  const desired = d.desired as Partial<DesiredState> | undefined;
  if (typeof desired !== 'object' || desired === null || !Array.isArray(desired.hosts)) return fail('saved plan has no "desired"');
  return data as SavedPlan;
}

/** Human lines describing what changed on a host between two snapshots, most telling first. */
export function describeDrift(before: HostSnapshot, after: HostSnapshot): string[] {
  return [...deviceDrift(before.devices, after.devices), ...domainDrift(before.domains, after.domains), ...factDrift(before, after)];
}

const byKey = <T>(items: T[], key: (t: T) => string) => new Map(items.map((t) => [key(t), t]));

/** Keys of `a` not in `b`, in `a`'s order. */
const missingFrom = <T>(a: Map<string, T>, b: Map<string, T>) => [...a.keys()].filter((k) => !b.has(k));

const driverName = (d: string | null) => d ?? '(no driver)';

function deviceDrift(before: PciDevice[], after: PciDevice[]): string[] {
  const old = byKey(before, (d) => d.address);
  const now = byKey(after, (d) => d.address);
  const lines = [
    ...missingFrom(old, now).map((a) => `device ${a} disappeared`),
    ...missingFrom(now, old).map((a) => `device ${a} appeared`),
  ];
  for (const [address, d] of now) {
    const o = old.get(address);
    if (o && o.driver !== d.driver) lines.push(`${address}: driver ${driverName(o.driver)} → ${driverName(d.driver)}`);
    if (o && o.driverOverride !== d.driverOverride) {
      lines.push(`${address}: driver_override ${o.driverOverride ?? '(none)'} → ${d.driverOverride ?? '(none)'}`);
    }
  }
  return lines;
}

const vmName = (d: DomainSnapshot) => `VM "${d.name}"`;

function domainDrift(before: DomainSnapshot[], after: DomainSnapshot[]): string[] {
  const old = byKey(before, (d) => d.uuid);
  const now = byKey(after, (d) => d.uuid);
  const lines = [
    ...missingFrom(old, now).map((u) => `${vmName(old.get(u) as DomainSnapshot)} was undefined`),
    ...missingFrom(now, old).map((u) => `${vmName(now.get(u) as DomainSnapshot)} was defined`),
  ];
  for (const [uuid, d] of now) {
    const o = old.get(uuid);
    if (!o) continue;
    if (o.name !== d.name) lines.push(`${vmName(o)} was renamed to "${d.name}"`);
    if (o.state !== d.state) lines.push(`${vmName(d)}: ${o.state} → ${d.state}`);
    lines.push(...hostdevDrift(vmName(d), 'persistent config', o.persistent, d.persistent));
    if (o.live && d.live) lines.push(...hostdevDrift(vmName(d), 'running domain', o.live, d.live));
    const oldNics = byKey(o.persistent.interfaces, (i) => i.mac ?? i.xml);
    const newNics = byKey(d.persistent.interfaces, (i) => i.mac ?? i.xml);
    lines.push(
      ...missingFrom(oldNics, newNics).map((m) => `${vmName(d)}: interface ${m} removed`),
      ...missingFrom(newNics, oldNics).map((m) => `${vmName(d)}: interface ${m} added`),
    );
  }
  return lines;
}

const hostdevLabel = (h: DomainHostdev) => `${h.source === 'interface' ? 'VF interface' : 'hostdev'} ${h.address} (managed=${h.managed ? 'yes' : 'no'})`;

function hostdevDrift(vm: string, where: string, before: ParsedDomain, after: ParsedDomain): string[] {
  // Keyed by everything apply cares about, so a managed flip reads as one removed and one added.
  const old = byKey(before.hostdevs, hostdevLabel);
  const now = byKey(after.hostdevs, hostdevLabel);
  return [
    ...missingFrom(old, now).map((h) => `${vm}: ${h} removed from the ${where}`),
    ...missingFrom(now, old).map((h) => `${vm}: ${h} added to the ${where}`),
  ];
}

function factDrift(before: HostSnapshot, after: HostSnapshot): string[] {
  const lines: string[] = [];
  if (JSON.stringify(before.iommu) !== JSON.stringify(after.iommu)) lines.push('IOMMU facts changed (groups, ACPI tables or kernel command line)');
  if (JSON.stringify(before.selinux) !== JSON.stringify(after.selinux)) lines.push('SELinux settings changed');
  return lines;
}

/** A host whose state moved since the saved plan was made. */
export interface StaleHost {
  host: string;
  /** What changed; never empty (a change outside the described fields says so). */
  changes: string[];
}

/**
 * Compares each saved snapshot with a fresh one of the same host (matched by name) and returns the hosts that
 * moved. A host without a fresh snapshot is not compared: the caller observes every host it applies to.
 */
export function staleHosts(planned: HostSnapshot[], fresh: HostSnapshot[]): StaleHost[] {
  const freshByHost = byKey(fresh, (s) => s.host);
  const stale: StaleHost[] = [];
  for (const old of planned) {
    const now = freshByHost.get(old.host);
    if (!now || fingerprintSnapshot(old) === fingerprintSnapshot(now)) continue;
    const changes = describeDrift(old, now);
    stale.push({ host: old.host, changes: changes.length > 0 ? changes : ['domain XML or device details changed (not shown)'] });
  }
  return stale;
}
