/**
 * Saved plans (`plan -o FILE`, `apply FILE`): the plan together with the snapshots it was computed from, so that
 * `apply` can tell whether the host moved since and, if it did, say how ("Saved plan is stale"). A saved plan is
 * untrusted input: it is checked in full (JSON, schema, consistency, and that it is the plan its own desired state
 * gives on its own snapshots) before any host is looked at. Pure, but for the observation `savedPlanToApply` is
 * given.
 */
import { desiredStateFault } from '../desired/consistency.js';
import { checkInputSize } from '../desired/input-limits.js';
import { locateJson, parseJsonText, pointerPath } from '../desired/json-source.js';
import { showString } from '../desired/show.js';
import { describePath } from '../desired/source.js';
import type { PathSegment } from '../desired/source.js';
import { InputError, PassthruError } from '../errors.js';
import type { DesiredState } from '../model/desired.js';
import type { HostObservation } from '../model/observation.js';
import type { Plan } from '../model/plan.js';
import type { DomainHostdev, DomainSnapshot, HostSnapshot, ParsedDomain, PciDevice } from '../model/snapshot.js';
import { fingerprintSnapshot } from '../plan/fingerprint.js';
import { planAll, planObservations } from '../plan/plan-all.js';
import { validateSavedPlan } from '../schemas/saved-plan.validate.js';

/** Version of the saved-plan file; bump on any incompatible change. */
export const SAVED_PLAN_FORMAT_VERSION = '1';

/** A saved plan file: what `plan -o` writes and `apply PLANFILE` reads (schemas/saved-plan.schema.json). */
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

const WRITE_ONE = 'write one with `passthru plan -o FILE`';
const PLAN_AGAIN = 'plan again: passthru plan -o PLANFILE';

/**
 * Parses a saved plan file and checks it in full: JSON (no key written twice), format version, the saved-plan
 * schema, and a desired state that holds together with one snapshot per host. Throws an InputError positioned at
 * the fault in the file; a plan is never reinterpreted across format versions (plan again).
 */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  checkInputSize(text, file, 'savedPlan');
  const data = parseJsonText(text, file, WRITE_ONE);
  const fail = (path: PathSegment[], message: string, hint = PLAN_AGAIN): never => {
    throw new InputError([{ ...locateJson(text, file, path), message, hint }]);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('format_version' in data)) {
    return fail([], 'not a saved plan: no format_version', WRITE_ONE);
  }
  const version = (data as { format_version: unknown }).format_version;
  if (version !== SAVED_PLAN_FORMAT_VERSION) {
    return fail(
      ['format_version'],
      `saved plan format_version ${JSON.stringify(version)} is not supported (this passthru reads "${SAVED_PLAN_FORMAT_VERSION}")`,
      'plan again with this version of passthru',
    );
  }
  if (!validateSavedPlan(data)) {
    const error = validateSavedPlan.errors?.[0];
    const path = pointerPath(data, error?.instancePath ?? '');
    const extra = error?.keyword === 'additionalProperties' ? String(error.params.additionalProperty) : null;
    if (extra !== null) return fail([...path, extra], `${where(path)} has an unknown key ${showString(extra)}`);
    return fail(path, `${where(path)} ${error?.message ?? 'is not valid'}${allowed(error?.params)}`);
  }
  const saved = data as SavedPlan;
  const stateFault = desiredStateFault(saved.desired);
  if (stateFault) return fail(['desired', ...stateFault.path], `desired: ${stateFault.message}`);
  const snapshotFault = snapshotsFault(saved);
  if (snapshotFault) return fail(snapshotFault.path, snapshotFault.message);
  return saved;
}

const where = (path: readonly PathSegment[]) => (path.length === 0 ? 'the saved plan' : describePath(path));

function allowed(params: Record<string, unknown> | undefined): string {
  const values = params?.allowedValues ?? (params && 'allowedValue' in params ? [params.allowedValue] : undefined);
  return Array.isArray(values) ? ` (${values.map((v) => JSON.stringify(v)).join(', ')})` : '';
}

/** Each host of the desired state has exactly one snapshot, and there is none of another host. */
function snapshotsFault(saved: SavedPlan): { path: PathSegment[]; message: string } | null {
  const hosts = new Set(saved.desired.hosts.map((h) => h.name));
  const seen = new Set<string>();
  for (const [i, snapshot] of saved.snapshots.entries()) {
    if (!hosts.has(snapshot.host)) {
      return { path: ['snapshots', i, 'host'], message: `snapshots[${i}] is of host ${showString(snapshot.host)}, which desired.hosts does not declare` };
    }
    if (seen.has(snapshot.host)) return { path: ['snapshots', i, 'host'], message: `host ${snapshot.host} has two snapshots` };
    seen.add(snapshot.host);
  }
  const missing = saved.desired.hosts.find((h) => !seen.has(h.name));
  return missing ? { path: ['snapshots'], message: `the saved plan has no snapshot of host ${missing.name}` } : null;
}

/** Where two JSON values first differ (objects compared key by key, in any order; lists item by item). */
interface Difference {
  path: PathSegment[];
  saved: unknown;
  planned: unknown;
}

function firstDifference(saved: unknown, planned: unknown, path: PathSegment[] = []): Difference | null {
  if (Array.isArray(saved) && Array.isArray(planned)) {
    for (let i = 0; i < Math.min(saved.length, planned.length); i++) {
      const difference = firstDifference(saved[i], planned[i], [...path, i]);
      if (difference) return difference;
    }
    return saved.length === planned.length ? null : { path, saved, planned };
  }
  if (isRecord(saved) && isRecord(planned)) {
    // undefined is what JSON leaves out, so a key holding it is no key.
    const keys = new Set([...Object.keys(saved), ...Object.keys(planned)]);
    for (const key of [...keys].sort()) {
      if (saved[key] === undefined && planned[key] === undefined) continue;
      const difference = firstDifference(saved[key], planned[key], [...path, key]);
      if (difference) return difference;
    }
    return null;
  }
  return saved === planned ? null : { path, saved, planned };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `${value.length} entr${value.length === 1 ? 'y' : 'ies'}`;
  if (isRecord(value)) return 'an object';
  return typeof value === 'string' ? showString(value) : JSON.stringify(value);
}

/**
 * Throws an InputError positioned at the first difference when the saved plan is not the plan its own desired
 * state gives on its own snapshots. The planner is pure, so anything else means the file was edited (or made by
 * another passthru version) and its actions are not what was reviewed. Key order and formatting do not matter:
 * `jq -S . plan.json` is the same plan.
 */
export function checkSavedPlanIsItsOwn(saved: SavedPlan, text: string, file: string): void {
  const replanned = planAll(saved.desired, new Map(saved.snapshots.map((s) => [s.host, s])));
  const difference = firstDifference(saved.plan, replanned);
  if (!difference) return;
  // The saved side of a difference may not exist (a key removed): point at the deepest part that does.
  const path = ['plan', ...difference.path];
  throw new InputError([
    {
      ...locateJson(text, file, path),
      message:
        `${describePath(path)} is ${describeJson(difference.saved)}, but its desired state plans ` +
        `${describeJson(difference.planned)} there on its own snapshots: the file was edited, or made by another passthru version`,
      hint: PLAN_AGAIN,
    },
  ]);
}

/**
 * Observes the hosts of a desired state, each on its own (for the CLI: `--root`, virsh and warnings included): one per
 * host, in the desired state's order, a host that could not be observed with its error.
 */
export type ObserveHosts = (desired: DesiredState) => Promise<HostObservation[]>;

/** What `apply PLANFILE` goes on with: the plan to apply, recomputed now, and the fresh snapshots it shows. */
export interface SavedPlanToApply {
  desired: DesiredState;
  /** Planned from the fresh observations: a host that could not be observed now is an error entry (not applied). */
  plan: Plan;
  /** The hosts observed now. */
  snapshots: Map<string, HostSnapshot>;
}

/**
 * `apply PLANFILE` up to the confirmation: reads and checks the file in full (parseSavedPlan,
 * checkSavedPlanIsItsOwn) before observing anything, then observes its hosts and refuses the plan when any moved
 * since ("Saved plan is stale", with what changed). The plan returned is computed from the fresh snapshots, which
 * then match the saved ones. Hosts are independent (SPEC 12): one that cannot be observed now is an error entry of
 * the plan, refused on its own like in a fresh `apply`, and the others go on.
 */
export async function savedPlanToApply(text: string, file: string, observe: ObserveHosts): Promise<SavedPlanToApply> {
  const saved = parseSavedPlan(text, file);
  checkSavedPlanIsItsOwn(saved, text, file);
  const observations = await observe(saved.desired);
  const snapshots = new Map(observations.flatMap((o) => ('snapshot' in o ? [[o.host.name, o.snapshot] as const] : [])));
  const stale = staleHosts(saved.snapshots, [...snapshots.values()]);
  if (stale.length > 0) {
    throw new PassthruError(
      `Saved plan is stale: the host changed since ${file} was made:\n` +
        stale.map((s) => `  ${s.host}:\n${s.changes.map((c) => `    - ${c}`).join('\n')}`).join('\n'),
      { hint: 'review the change, then plan again: passthru plan -o PLANFILE' },
    );
  }
  const plan = planObservations(saved.desired, observations);
  // Only the hosts observed now can be compared; the others are not applied.
  const observed = (p: Plan) => p.hosts.filter((h) => snapshots.has(h.name));
  if (firstDifference(observed(saved.plan), observed(plan))) {
    throw new PassthruError(`${file} does not match what its own desired state plans on this host: it was edited, or made by another passthru version`, {
      hint: PLAN_AGAIN,
    });
  }
  return { desired: saved.desired, plan, snapshots };
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
