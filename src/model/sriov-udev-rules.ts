/**
 * How passthru persists SR-IOV VF counts for the next boot (SPEC 11 `persist-numvfs`): one udev rule file that
 * the package owns, one line per PF,
 *
 *   ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:3b:00.0", ATTR{sriov_numvfs}="8"
 *
 * `ATTR{file}="value"` with the assignment operator writes the sysfs attribute (udev(7)). The rule fires on
 * `bind`, not `add`: the kernel accepts a write to `sriov_numvfs` only while a driver with `sriov_configure` is
 * bound to the PF, and at the PF's `add` event its driver may not be bound yet. A PF with 0 VFs has no line (0 is
 * what every PF boots with). Pure: the text in, the counts out, and back.
 */
import type { SriovPersisted } from './snapshot.js';

/** Where the rule file lives under the host's root. */
export const SRIOV_RULES_FILE = '/etc/udev/rules.d/70-passthru-sriov.rules';

const HEADER = [
  '# Written by passthru (persist-numvfs): the SR-IOV VF counts of passthrough.yaml `sriov:`, set at each boot.',
  '# Edits are overwritten; change the counts in passthrough.yaml instead.',
];

const LINE = /^ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="([0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7])", ATTR\{sriov_numvfs\}="(\d{1,5})"$/;

/** The rule line of one PF. */
export function sriovRuleLine(pf: string, numVfs: number): string {
  return `ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="${pf}", ATTR{sriov_numvfs}="${numVfs}"`;
}

/** The whole file for these counts (PFs with 0 left out), lowest address first; null when no line remains. */
export function renderSriovRules(counts: readonly SriovPersisted[]): string | null {
  const lines = counts
    .filter((c) => c.numVfs > 0)
    .sort((a, b) => (a.pf < b.pf ? -1 : a.pf > b.pf ? 1 : 0))
    .map((c) => sriovRuleLine(c.pf, c.numVfs));
  return lines.length === 0 ? null : `${[...HEADER, ...lines].join('\n')}\n`;
}

/** The counts a rule file persists, and the lines that are not passthru's form (reported, never trusted). */
export function parseSriovRules(text: string): { counts: SriovPersisted[]; foreign: string[] } {
  const counts = new Map<string, number>();
  const foreign: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) foreign.push(line);
    else counts.set(m[1] as string, Number(m[2]));
  }
  return { counts: [...counts].map(([pf, numVfs]) => ({ pf, numVfs })), foreign };
}

/** `counts` with `pf` set to `numVfs` (0 removes it). */
export function withSriovCount(counts: readonly SriovPersisted[], pf: string, numVfs: number): SriovPersisted[] {
  return [...counts.filter((c) => c.pf !== pf), ...(numVfs > 0 ? [{ pf, numVfs }] : [])];
}

/** What the file persists for `pf` (0 without a line). */
export function persistedCount(counts: readonly SriovPersisted[], pf: string): number {
  return counts.find((c) => c.pf === pf)?.numVfs ?? 0;
}
