/**
 * The views of `passthru verify` (SPEC 13): text, one line per device under its VM and host, then a verdict line;
 * and JSON (`verify --format json`, versioned like the plan's). Pure.
 */
import { VERIFY_FORMAT_VERSION, verifyExitCode, type DeviceStatus, type HostVerdict } from '../plan/guest-verify.js';
import { printable } from './printable.js';
import type { Style } from './style.js';

const VIA = { agent: 'through the guest agent', qmp: "through QEMU's query-pci" } as const;

function statusText(s: DeviceStatus, style: Style): string {
  const padded = s.padEnd(7);
  return s === 'seen' ? style.green(padded) : s === 'missing' ? style.red(padded) : style.yellow(padded);
}

/** Counts of each status over every host. */
function counts(hosts: readonly HostVerdict[]): Record<DeviceStatus, number> {
  const c: Record<DeviceStatus, number> = { seen: 0, missing: 0, unknown: 0 };
  for (const d of hosts.flatMap((h) => h.vms.flatMap((v) => v.devices))) c[d.status]++;
  return c;
}

export function renderVerifyText(hosts: readonly HostVerdict[], style: Style): string {
  const lines: string[] = [];
  for (const h of hosts) {
    lines.push(style.bold(`Host ${printable(h.name)} (${printable(h.uri)}):`));
    if (h.error !== undefined) lines.push(style.red(`  not observed: ${h.error}`));
    for (const v of h.vms) {
      lines.push(`  VM "${printable(v.vm)}"${v.via ? ` (${VIA[v.via]})` : ''}:${v.devices.length === 0 ? ' claims no device' : ''}`);
      for (const d of v.devices) lines.push(`    ${d.address} [${d.vendor}:${d.product}] ${statusText(d.status, style)} ${d.reason}`);
    }
    for (const vm of h.notRunning) lines.push(style.dim(`  VM "${printable(vm)}": not running, nothing to verify`));
  }
  const c = counts(hosts);
  const code = verifyExitCode(hosts);
  const verdict = code === 0 ? style.green('all seen') : code === 2 ? style.red('devices missing') : style.yellow('not verified');
  lines.push(`passthru verify: ${verdict} (${c.seen} seen, ${c.missing} missing, ${c.unknown} unknown)`);
  return `${lines.join('\n')}\n`;
}

/**
 * The JSON value: `{"format_version": "1", "ok", "counts", "hosts": [{"name", "uri", "error"?, "vms": [{"vm", "uuid",
 * "via", "devices": [{"address", "vendor", "product", "status", "reason", "guestAddress"}]}], "notRunning"}]}`.
 */
export function verifyJson(hosts: readonly HostVerdict[]): object {
  return { format_version: VERIFY_FORMAT_VERSION, ok: verifyExitCode(hosts) === 0, counts: counts(hosts), hosts };
}

export function renderVerifyJson(hosts: readonly HostVerdict[]): string {
  return `${JSON.stringify(verifyJson(hosts), null, 2)}\n`;
}
