/**
 * The guest agent and QMP reply parsers on recordings in test/fixtures/guest-replies/. Those were written from
 * QEMU's QAPI schema (qga/qapi-schema.json GuestOSInfo, GuestExec, GuestExecStatus, GuestDeviceInfo; qapi/pci.json
 * PciInfo, PciDeviceInfo, PciBridgeInfo) in the shape virsh prints them, not captured from a running QEMU; the lab
 * (test/lab) confirms them on a real QEMU 10 guest. qmp-query-pci-lab-l2.json is a real reply, recorded in the lab.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import { GUEST_PCI_LISTING, parseExecStarted, parseExecStatus, parseGuestDevices, parseGuestListing, parseOsInfo, parseQueryPci, qmpReturn } from './guest-replies.js';

const recording = (name: string) => readFileSync(new URL(`../../test/fixtures/guest-replies/${name}`, import.meta.url), 'utf8');

describe('guest agent replies', () => {
  it('tells a Windows guest from a Linux one (guest-get-osinfo id)', () => {
    expect(parseOsInfo(recording('agent-osinfo-debian.json'))).toEqual({ id: 'debian', windows: false });
    expect(parseOsInfo(recording('agent-osinfo-windows.json'))).toEqual({ id: 'mswindows', windows: true });
  });

  it('reads guest-exec and guest-exec-status, decoding out-data (base64)', () => {
    expect(parseExecStarted(recording('agent-exec.json'))).toBe(1183);
    expect(parseExecStatus(recording('agent-exec-status-running.json'))).toEqual({ exited: false });
    const done = parseExecStatus(recording('agent-exec-status-exited.json'));
    expect(done).toMatchObject({ exited: true, exitcode: 0, truncated: false });
    const devices = parseGuestListing(done.exited ? done.out : '');
    expect(devices).toHaveLength(6);
    expect(devices.at(-1)).toEqual({ address: '0000:02:00.0', vendor: '8086', product: '10c9', qdevId: null });
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
