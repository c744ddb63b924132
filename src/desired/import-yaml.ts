/**
 * The passthrough.yaml that describes what hosts have now (`passthru import`): every VM with PCI hostdevs, and a
 * `protect` entry for each device the host itself depends on. Planning it against the same hosts reports no
 * domain changes. Pure: snapshots in, text out.
 *
 * The text is read by more than passthru (editors, linters, CI tools, Ansible), some of them YAML 1.1 readers,
 * which turn unquoted `0000:00:02.0` into a number (base-60), `yes` into true and `0x10` into 16. So every
 * string value is written in double quotes, and so is every key that is not a plain word to every reader.
 */
import { Document, visit } from 'yaml';
import type { HostSnapshot } from '../model/snapshot.js';

/**
 * Where the editor schema comment points: the schema as `npm install passthru-vfio` puts it, relative to the
 * passthrough.yaml at the root of the repository that installs it (yaml-language-server resolves a relative path
 * from the file).
 */
export const IMPORTED_SCHEMA_PATH = './node_modules/passthru-vfio/schemas/passthrough.schema.json';

/** A key every YAML reader takes as this very string: a word that is no number, boolean or null in YAML 1.1. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const YAML11_WORDS = /^(?:y|yes|n|no|true|false|on|off|null)$/i;

/**
 * The passthrough.yaml text for `snapshots`, with each host at the URI `uris` gives (else the snapshot's own),
 * headed by the editor schema comment and a line saying when and how it was written.
 */
export function importedDesiredYaml(snapshots: HostSnapshot[], uris: ReadonlyMap<string, string>, writtenAt: Date): string {
  const header =
    `# yaml-language-server: $schema=${IMPORTED_SCHEMA_PATH}\n` +
    `# Written by \`passthru import\` on ${writtenAt.toISOString()}: the current assignments; \`protect\` lists the\n` +
    '# devices the host itself uses (default route, addresses, mounts, swap, boot VGA).\n';
  return header + quotedYaml(describeAssignments(snapshots, uris));
}

/** `value` as YAML in which every string value is double-quoted, and every key that is not a plain word. */
export function quotedYaml(value: unknown): string {
  const doc = new Document(value);
  visit(doc, {
    Scalar(key, node) {
      if (typeof node.value !== 'string') return;
      if (key !== 'key' || !PLAIN_KEY.test(node.value) || YAML11_WORDS.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/** The desired state (in the user-facing YAML shape) that matches the snapshots. */
export function describeAssignments(snapshots: HostSnapshot[], uris: ReadonlyMap<string, string>): Record<string, unknown> {
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
