/**
 * Reading what a guest says about its PCI devices (SPEC 13 `verify`): the QEMU guest agent's replies as `virsh
 * qemu-agent-command` prints them (`guest-get-osinfo`, `guest-exec`, `guest-exec-status`, `guest-get-devices`) and
 * QEMU's own `query-pci` as `virsh qemu-monitor-command` prints it. Shapes follow QEMU's QAPI schema (qga/qapi-schema.json,
 * qapi/pci.json); anything else in a reply is ignored, and a reply that is not what the schema says is an error,
 * never "no devices". Pure: text in, plain data out.
 */
import { HostError } from '../errors.js';
import { formatPciAddress } from '../model/pci-address.js';

/** One PCI function as the guest (or QEMU) lists it. Ids are 4 lowercase hex digits, like the snapshot's. */
export interface GuestPciDevice {
  vendor: string;
  product: string;
  /** The guest's address of it (`0000:01:00.0`), when the source tells. */
  address: string | null;
  /** QEMU's device id (`query-pci` `qdev_id`): libvirt names a hostdev's by its `<alias>` (`hostdev0`). */
  qdevId: string | null;
}

/** What a guest-exec'd process has done so far. */
export type ExecStatus = { exited: false } | { exited: true; exitcode: number | null; out: string; truncated: boolean };

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

function malformed(what: string, why: string): HostError {
  return new HostError(`the ${what} reply is not what QEMU's schema says: ${why}`, { hint: 'run with --debug to see the reply' });
}

/** The `return` member of a QMP / guest agent reply; an `error` member is thrown with its `desc`. */
export function qmpReturn(text: string, what: string): Json {
  let reply: Json;
  try {
    reply = JSON.parse(text);
  } catch {
    throw malformed(what, 'not JSON');
  }
  if (!isObject(reply)) throw malformed(what, 'not an object');
  if (isObject(reply.error)) throw new HostError(`${what} failed in the guest: ${String(reply.error.desc ?? reply.error.class ?? 'error')}`);
  if (!('return' in reply)) throw malformed(what, 'no "return" member');
  return reply.return;
}

/** `guest-get-osinfo`: the OS id (`debian`, `mswindows`), null when the agent does not say. */
export function parseOsInfo(text: string): { id: string | null; windows: boolean } {
  const r = qmpReturn(text, 'guest-get-osinfo');
  if (!isObject(r)) throw malformed('guest-get-osinfo', '"return" is not an object');
  const id = typeof r.id === 'string' ? r.id : null;
  return { id, windows: id === 'mswindows' };
}

/** `guest-exec`: the PID of the started process. */
export function parseExecStarted(text: string): number {
  const r = qmpReturn(text, 'guest-exec');
  if (!isObject(r) || !Number.isSafeInteger(r.pid)) throw malformed('guest-exec', 'no integer "pid"');
  return r.pid as number;
}

/** `guest-exec-status`: running, or exited with its code and its standard output (base64 `out-data`, decoded). */
export function parseExecStatus(text: string): ExecStatus {
  const r = qmpReturn(text, 'guest-exec-status');
  if (!isObject(r) || typeof r.exited !== 'boolean') throw malformed('guest-exec-status', 'no boolean "exited"');
  if (!r.exited) return { exited: false };
  const data = r['out-data'];
  if (data !== undefined && (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data))) throw malformed('guest-exec-status', '"out-data" is not base64');
  return {
    exited: true,
    exitcode: Number.isSafeInteger(r.exitcode) ? (r.exitcode as number) : null,
    out: data === undefined ? '' : Buffer.from(data, 'base64').toString('utf8'),
    truncated: r['out-truncated'] === true,
  };
}

/**
 * The shell script passthru runs in a Linux guest: one line per PCI function, `ADDRESS 0xVVVV 0xDDDD`, from sysfs
 * (present in every Linux guest, an initramfs too, unlike `lspci`).
 */
export const GUEST_PCI_LISTING = 'for d in /sys/bus/pci/devices/*; do [ -r "$d/vendor" ] && printf \'%s %s %s\\n\' "${d##*/}" "$(cat "$d/vendor")" "$(cat "$d/device")"; done; exit 0';

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const idOf = (v: string) => v.toLowerCase().replace(/^0x/, '').padStart(4, '0');

/** The output of {@link GUEST_PCI_LISTING}. A line that does not parse is an error: the guest's view is incomplete. */
export function parseGuestListing(out: string): GuestPciDevice[] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const m = /^([0-9a-f]{4,}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]) 0x([0-9a-f]{4}) 0x([0-9a-f]{4})$/i.exec(line.trim());
      if (!m) throw malformed('guest PCI listing', `line "${line.slice(0, 80)}"`);
      return { address: (m[1] as string).toLowerCase(), vendor: idOf(m[2] as string), product: idOf(m[3] as string), qdevId: null };
    });
}

/** `guest-get-devices` (Windows guests): the PCI ones (`id.type: pci`, integer `vendor-id` / `device-id`). */
export function parseGuestDevices(text: string): GuestPciDevice[] {
  const r = qmpReturn(text, 'guest-get-devices');
  if (!Array.isArray(r)) throw malformed('guest-get-devices', '"return" is not an array');
  return r.flatMap((d): GuestPciDevice[] => {
    const id = isObject(d) ? d.id : undefined;
    if (!isObject(id) || id.type !== 'pci') return [];
    if (!Number.isSafeInteger(id['vendor-id']) || !Number.isSafeInteger(id['device-id'])) throw malformed('guest-get-devices', 'a pci id without integer vendor-id/device-id');
    return [{ vendor: hex4(id['vendor-id'] as number), product: hex4(id['device-id'] as number), address: null, qdevId: null }];
  });
}

/** `query-pci`: every function on every bus, those behind bridges (`pci_bridge.devices`) included. */
export function parseQueryPci(text: string): GuestPciDevice[] {
  const r = qmpReturn(text, 'query-pci');
  if (!Array.isArray(r)) throw malformed('query-pci', '"return" is not an array');
  const out: GuestPciDevice[] = [];
  const walk = (devices: Json, depth: number) => {
    if (!Array.isArray(devices)) throw malformed('query-pci', '"devices" is not an array');
    // QEMU allows 256 buses: deeper nesting is not a real reply.
    if (depth > 256) throw malformed('query-pci', 'bridges nested too deep');
    for (const d of devices) {
      if (!isObject(d) || !isObject(d.id) || !Number.isSafeInteger(d.id.vendor) || !Number.isSafeInteger(d.id.device)) throw malformed('query-pci', 'a device without integer id.vendor/id.device');
      const int = (n: Json) => (Number.isSafeInteger(n) ? (n as number) : -1);
      const [bus, slot, fn] = [int(d.bus), int(d.slot), int(d.function)];
      const inRange = bus >= 0 && bus <= 0xff && slot >= 0 && slot <= 0x1f && fn >= 0 && fn <= 7;
      const address = inRange ? formatPciAddress({ domain: 0, bus, slot, fn }) : null;
      out.push({ vendor: hex4(d.id.vendor as number), product: hex4(d.id.device as number), address, qdevId: typeof d.qdev_id === 'string' && d.qdev_id !== '' ? d.qdev_id : null });
      if (isObject(d.pci_bridge) && d.pci_bridge.devices !== undefined) walk(d.pci_bridge.devices, depth + 1);
    }
  };
  for (const bus of r) {
    if (!isObject(bus)) throw malformed('query-pci', 'a bus that is not an object');
    walk(bus.devices, 0);
  }
  return out;
}
