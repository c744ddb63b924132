/**
 * Reading a snapshot file (`plan --snapshot`, saved plans): JSON validated against schemas/snapshot.schema.json
 * so that a hand-edited or outdated capture fails with a clear message instead of a confusing plan.
 */
import { checkInputSize } from '../desired/input-limits.js';
import { InputError } from '../errors.js';
import type { DomainHostdev, HostSnapshot } from '../model/snapshot.js';
import { domainHostdevXml } from '../libvirt/hostdev-xml.js';
import { validateSnapshot } from '../schemas/snapshot.validate.js';

/** Parses and validates snapshot JSON (one host, or an array of hosts). */
export function parseSnapshotFile(text: string, file: string): HostSnapshot[] {
  checkInputSize(text, file, 'snapshot');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError([{ file, line: 1, col: 1, message: `not JSON: ${(e as Error).message}`, hint: 'write snapshots with `passthru observe -o FILE`' }]);
  }
  const version = (Array.isArray(value) ? value[0] : value) as { format_version?: unknown } | undefined;
  if (version?.format_version !== '1') {
    throw new InputError([
      {
        file,
        line: 1,
        col: 1,
        message: `unsupported snapshot format_version ${JSON.stringify(version?.format_version)} (this passthru reads "1")`,
        hint: 'observe the host again with this version of passthru',
      },
    ]);
  }
  if (!validateSnapshot(value)) {
    const e = validateSnapshot.errors?.[0];
    throw new InputError([
      { file, line: 1, col: 1, message: `not a valid snapshot: ${e?.instancePath || '/'} ${e?.message ?? ''}`, hint: 'see schemas/snapshot.schema.json' },
    ]);
  }
  const snapshots = Array.isArray(value) ? (value as HostSnapshot[]) : [value as HostSnapshot];
  for (const s of snapshots) for (const d of s.domains) for (const h of [...d.persistent.hostdevs, ...(d.live?.hostdevs ?? [])]) withElement(h);
  return snapshots;
}

/**
 * A hostdev of a capture written before snapshots carried each element (`xml` is additive to format_version "1")
 * gets the element passthru itself would write for it: the snapshot stays readable, and a plan made from it says
 * what it re-adds.
 */
function withElement(h: Omit<DomainHostdev, 'xml'> & { xml?: string }): void {
  h.xml ??= domainHostdevXml(h);
}
