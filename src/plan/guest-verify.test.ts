import { describe, expect, it } from 'vitest';
import type { GuestPciDevice } from '../libvirt/guest-replies.js';
import type { Action, Plan } from '../model/plan.js';
import { verifyExitCode, verifyVm, vmsChangedLive, type ClaimedDevice, type HostVerdict } from './guest-verify.js';

const nic = (address: string, live: ClaimedDevice['live']): ClaimedDevice => ({ address, vendor: '8086', product: '1521', live });
const guest = (address: string | null, qdevId: string | null = null, product = '1521'): GuestPciDevice => ({ vendor: '8086', product, address, qdevId });

describe('verifyVm', () => {
  it('a device in the live XML and listed by the guest is seen; one not in the live XML is missing', () => {
    const v = verifyVm('web', 'u', [nic('0000:07:00.0', { alias: 'hostdev0', guestAddress: '0000:01:00.0' }), nic('0000:07:00.1', null)], { via: 'agent', devices: [guest('0000:01:00.0')] });
    expect(v.devices.map((d) => [d.address, d.status, d.reason])).toEqual([
      ['0000:07:00.0', 'seen', '8086:1521 listed by the guest (agent) at 0000:01:00.0'],
      ['0000:07:00.1', 'missing', "not in the running domain's XML"],
    ]);
  });

  it('each guest function answers for one device: two identical NICs need two', () => {
    const live = { alias: null, guestAddress: null };
    const v = verifyVm('web', 'u', [nic('0000:07:00.0', live), nic('0000:07:00.1', live)], { via: 'agent', devices: [guest('0000:05:00.0')] });
    expect(v.devices.map((d) => d.status)).toEqual(['seen', 'missing']);
    expect(v.devices[1]?.reason).toBe('the guest (agent) lists no 8086:1521 device');
  });

  it("QEMU's qdev_id (the hostdev's alias) and then the guest address pick among functions with the same ids", () => {
    const claimed = [nic('0000:07:00.0', { alias: 'hostdev1', guestAddress: null }), nic('0000:07:00.1', { alias: null, guestAddress: '0000:03:00.0' })];
    const v = verifyVm('web', 'u', claimed, { via: 'qmp', devices: [guest('0000:03:00.0', 'hostdev0'), guest('0000:04:00.0', 'hostdev1')] });
    expect(v.devices.map((d) => d.guestAddress)).toEqual(['0000:04:00.0', '0000:03:00.0']);
  });

  it('a guest that could not be asked leaves its devices unknown, with the reason, never seen', () => {
    const v = verifyVm('web', 'u', [nic('0000:07:00.0', { alias: null, guestAddress: null })], { via: null, reason: 'no answer from the guest agent (x)' });
    expect(v.devices[0]).toMatchObject({ status: 'unknown', reason: 'no answer from the guest agent (x)' });
  });
});

describe('verifyExitCode', () => {
  const host = (statuses: ('seen' | 'missing' | 'unknown')[], error?: string): HostVerdict => ({
    name: 'h',
    uri: 'qemu:///system',
    notRunning: [],
    vms: [{ vm: 'v', uuid: 'u', via: 'agent', devices: statuses.map((status) => ({ address: 'a', vendor: 'v', product: 'p', status, reason: '', guestAddress: null })) }],
    ...(error ? { error } : {}),
  });
  it('0 all seen, 2 any missing (over unknown), 1 unknown or a host not observed', () => {
    expect(verifyExitCode([host(['seen', 'seen'])])).toBe(0);
    expect(verifyExitCode([host(['seen', 'unknown', 'missing'])])).toBe(2);
    expect(verifyExitCode([host(['seen', 'unknown'])])).toBe(1);
    expect(verifyExitCode([host(['missing']), { ...host([]), error: 'unreachable' }])).toBe(1);
    expect(verifyExitCode([])).toBe(0);
  });
});

describe('vmsChangedLive (apply --verify)', () => {
  it('names only the VMs with a live action, per host', () => {
    const change = (vm: string, live: boolean): Action => ({ kind: 'attach-hostdev', vm, vmUuid: 'u', address: '0000:07:00.0', managed: true, hostdevXml: '', config: true, live, reason: '' });
    const plan: Plan = {
      format_version: '1',
      applyable: true,
      changes: true,
      hosts: [
        { name: 'hv1', uri: 'x', fingerprint: null, problems: [], actions: [change('a', true), change('b', false), { kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: '' }] },
        { name: 'hv2', uri: 'y', fingerprint: null, problems: [], actions: [change('c', false)] },
      ],
    };
    expect(vmsChangedLive(plan)).toEqual(new Map([['hv1', new Set(['a'])]]));
  });
});
