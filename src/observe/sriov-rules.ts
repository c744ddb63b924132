/**
 * Reads passthru's SR-IOV udev rule file under the local host's root (model/sriov-udev-rules.ts), so that a count
 * that is not persisted is drift. A missing file persists nothing; lines that are not passthru's are warned about
 * and ignored.
 */
import { describeError } from '../io/error-code.js';
import { HostFs } from '../io/host-fs.js';
import { parseSriovRules, SRIOV_RULES_FILE } from '../model/sriov-udev-rules.js';
import type { SriovPersisted } from '../model/snapshot.js';
import type { WarnFn } from './sysfs.js';

/** The persisted counts; empty when the file is absent or unreadable (with a warning). */
export function readSriovPersisted(root: string, warn: WarnFn): SriovPersisted[] {
  let text: string | null;
  try {
    text = new HostFs(root).readOptional(SRIOV_RULES_FILE, { maxBytes: 1024 * 1024 });
  } catch (err) {
    warn(`cannot read ${SRIOV_RULES_FILE}: ${describeError(err)}; taken as persisting no VF count`);
    return [];
  }
  if (text === null) return [];
  const { counts, foreign } = parseSriovRules(text);
  for (const line of foreign) warn(`${SRIOV_RULES_FILE}: line not written by passthru, ignored: ${line}`);
  return counts;
}
