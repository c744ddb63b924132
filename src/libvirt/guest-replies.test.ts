/**
 * The guest agent and QMP reply parsers on recordings in test/fixtures/guest-replies/.
 * Real replies, recorded by the lab's field scenario (test/lab/guest/field.sh) from its L2 (the busybox initramfs,
 * Debian kernel 6.1) run by L1's QEMU 7.2 (Debian 12) under libvirt 9.0: `*-lab-l2.json` — qemu-ga 7.2.22 (Debian's
 * qemu-guest-agent) for guest-get-osinfo, guest-exec of passthru's listing by /bin/sh (busybox), guest-exec-status
 * (running, then exited) and guest-info (which says guest-get-devices is disabled on Linux), and query-pci.
 * Written from QEMU's QAPI schema (qga/qapi-schema.json GuestOSInfo, GuestDeviceInfo; qapi/pci.json) where no real
 * reply exists here: agent-osinfo-debian.json (a Debian guest with os-release), agent-osinfo-windows.json,
 * agent-get-devices-windows.json (qemu-ga for Windows) and qmp-query-pci-q35.json (a NIC behind a bridge, hostdev0).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import { GUEST_PCI_LISTING, parseExecStarted, parseExecStatus, parseGuestDevices, parseGuestListing, parseOsInfo, parseQueryPci, qmpReturn } from './guest-replies.js';

const recording = (name: string) => readFileSync(new URL(`../../test/fixtures/guest-replies/${name}`, import.meta.url), 'utf8');

describe('guest agent replies', () => {
  it('tells a Windows guest from a Linux one (guest-get-osinfo id)', () => {
    expect(parseOsInfo(recording('agent-osinfo-debian.json'))).toEqual({ id: 'debian', windows: false });
    // real: a guest without /etc/os-release gets no id, only its kernel; not Windows
    expect(parseOsInfo(recording('agent-osinfo-lab-l2.json'))).toEqual({ id: null, windows: false });
    expect(parseOsInfo(recording('agent-osinfo-windows.json'))).toEqual({ id: 'mswindows', windows: true });
  });

  it('reads real guest-exec and guest-exec-status replies, decoding out-data (base64) of the listing', () => {
    expect(parseExecStarted(recording('agent-exec-lab-l2.json'))).toBe(238);
    expect(parseExecStatus(recording('agent-exec-status-running-lab-l2.json'))).toEqual({ exited: false });
    const done = parseExecStatus(recording('agent-exec-status-exited-lab-l2.json'));
    expect(done).toMatchObject({ exited: true, exitcode: 0, truncated: false });
    const devices = parseGuestListing(done.exited ? done.out : '');
    expect(devices.map((d) => `${d.address} ${d.vendor}:${d.product}`)).toEqual([
      '0000:00:00.0 8086:29c0',
      '0000:00:01.0 1b36:000c',
      '0000:00:01.1 1b36:000c',
      '0000:00:01.2 1b36:000c',
      '0000:00:1f.0 8086:2918',
      '0000:00:1f.2 8086:2922',
      '0000:00:1f.3 8086:2930',
      '0000:01:00.0 1b36:000d',
      '0000:02:00.0 1af4:1043',
      '0000:03:00.0 8086:10d3',
    ]);
  });

  it('reads the PCI devices of guest-get-devices and skips the others', () => {
    expect(parseGuestDevices(recording('agent-get-devices-windows.json'))).toEqual([
      { vendor: '1af4', product: '1041', address: null, qdevId: null },
      { vendor: '8086', product: '10c9', address: null, qdevId: null },
    ]);
  });

  it('turns an agent error into a HostError with its description, and refuses what the schema does not allow', () => {
    expect(() => qmpReturn('{"error":{"class":"GenericError","desc":"Command guest-exec has been disabled"}}', 'guest-exec')).toThrow(
      'guest-exec failed in the guest: Command guest-exec has been disabled',
    );
    expect(() => parseExecStatus('{"return":{"exited":true,"out-data":"not base64!"}}')).toThrow(HostError);
    expect(() => parseExecStarted('{"return":{}}')).toThrow(/no integer "pid"/);
    expect(() => parseGuestListing('0000:00:01.0 0x8086\n')).toThrow(/line "0000:00:01.0 0x8086"/);
    expect(() => parseOsInfo('<html>')).toThrow(/not JSON/);
  });

  it('lists PCI functions with a script a busybox sh can run', () => {
    expect(GUEST_PCI_LISTING).toContain('/sys/bus/pci/devices/*');
    expect(GUEST_PCI_LISTING).not.toMatch(/lspci|\[\[|bash/);
  });
});

describe('query-pci', () => {
  it('flattens every bus, devices behind bridges included, with qdev_id and guest address', () => {
    const devices = parseQueryPci(recording('qmp-query-pci-q35.json'));
    expect(devices.map((d) => `${d.address} ${d.vendor}:${d.product} ${d.qdevId ?? '-'}`)).toEqual([
      '0000:00:00.0 8086:29c0 -',
      '0000:00:01.0 1234:1111 video0',
      '0000:00:02.0 1b36:000c pci.1',
      '0000:01:00.0 8086:10c9 hostdev0',
      '0000:00:1f.0 8086:2918 -',
    ]);
  });

  it('reads a real reply (the lab\'s L2, QEMU 7.2 in L1): the NIC behind a pcie-root-port, with the members the schema-written one leaves out', () => {
    // recorded by test/lab/guest/field.sh (`virsh qemu-monitor-command l2 --pretty '{"execute":"query-pci"}'`): it
    // also carries irq, irq_pin and filled regions[]; the parser ignores them
    const devices = parseQueryPci(recording('qmp-query-pci-lab-l2.json'));
    expect(devices.map((d) => `${d.address} ${d.vendor}:${d.product} ${d.qdevId ?? '-'}`)).toEqual([
      '0000:00:00.0 8086:29c0 -',
      '0000:00:01.0 1b36:000c pci.1',
      '0000:01:00.0 1b36:000d usb',
      '0000:00:01.1 1b36:000c pci.2',
      '0000:02:00.0 8086:10d3 hostdev0',
      '0000:00:1f.0 8086:2918 -',
      '0000:00:1f.2 8086:2922 -',
      '0000:00:1f.3 8086:2930 -',
    ]);
  });

  it('refuses a reply without ids rather than reporting no devices', () => {
    expect(() => parseQueryPci('{"return":[{"bus":0,"devices":[{"bus":0,"slot":1,"function":0}]}]}')).toThrow(/integer id.vendor/);
    expect(() => parseQueryPci('{"return":{}}')).toThrow(/not an array/);
  });
});
