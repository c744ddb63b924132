import { describe, expect, it } from 'vitest';
import { bridgeNic, device, domain, hostdev, snapshot } from '../../test/helpers/builders.js';
import { InputError } from '../errors.js';
import type { Plan } from '../model/plan.js';
import { fingerprintSnapshot } from '../plan/fingerprint.js';
import { describeDrift, parseSavedPlan, serializeSavedPlan, staleHosts } from './saved-plan.js';
import type { SavedPlan } from './saved-plan.js';

const before = snapshot(
  [device('0000:07:00.0'), device('0000:07:00.1', { driver: 'vfio-pci' })],
  [domain('rhel7.3', { hostdevs: [hostdev('0000:07:00.1')], interfaces: [bridgeNic('br0', '52:54:00:aa:bb:01')] })],
);

describe('fingerprintSnapshot', () => {
  it('ignores the observation time and key order, and sees any change', () => {
    const later = { ...before, observedAt: '2030-01-01T00:00:00.000Z' };
    expect(fingerprintSnapshot(later)).toBe(fingerprintSnapshot(before));
    const reordered = Object.fromEntries(Object.entries(before).reverse()) as typeof before;
    expect(fingerprintSnapshot(reordered)).toBe(fingerprintSnapshot(before));
    expect(fingerprintSnapshot({ ...before, devices: [device('0000:07:00.0', { driver: 'vfio-pci' })] })).not.toBe(fingerprintSnapshot(before));
    expect(fingerprintSnapshot(before)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('describeDrift', () => {
  it('says what moved: drivers, devices, hostdevs per VM, domain states, NICs', () => {
    const after = snapshot(
      [device('0000:07:00.0', { driver: 'vfio-pci', driverOverride: 'vfio-pci' }), device('0000:08:00.0')],
      [
        domain('rhel7.3', { state: 'running', hostdevs: [hostdev('0000:07:00.0'), hostdev('0000:07:00.1', { managed: false })] }),
        domain('new-vm', { uuid: '00000000-0000-4000-8000-00000000ffff' }),
      ],
    );
    expect(describeDrift(before, after)).toEqual([
      'device 0000:07:00.1 disappeared',
      'device 0000:08:00.0 appeared',
      '0000:07:00.0: driver igb → vfio-pci',
      '0000:07:00.0: driver_override (none) → vfio-pci',
      'VM "new-vm" was defined',
      'VM "rhel7.3": shut off → running',
      'VM "rhel7.3": hostdev 0000:07:00.1 (managed=yes) removed from the persistent config',
      'VM "rhel7.3": hostdev 0000:07:00.0 (managed=yes) added to the persistent config',
      'VM "rhel7.3": hostdev 0000:07:00.1 (managed=no) added to the persistent config',
      'VM "rhel7.3": interface 52:54:00:aa:bb:01 removed',
    ]);
    expect(describeDrift(before, { ...before, observedAt: 'later' })).toEqual([]);
  });
});

const plan: Plan = { format_version: '1', applyable: true, changes: true, hosts: [{ name: 'local', uri: 'qemu:///system', fingerprint: fingerprintSnapshot(before), actions: [], problems: [] }] };
const desired = { file: 'passthrough.yaml', hosts: [{ name: 'local', uri: 'qemu:///system', local: true }], vms: [], release: [], protect: [] };
const saved: SavedPlan = { format_version: '1', plan, snapshots: [before], desired };

describe('saved plans', () => {
  it('round-trips', () => {
    expect(parseSavedPlan(serializeSavedPlan(saved), 'p.json')).toEqual(saved);
  });

  it.each([
    ['not json', 'p.json:1:1: not a saved plan: '],
    ['{}', 'p.json:1:1: not a saved plan: no format_version'],
    ['{"format_version":"2","plan":{"hosts":[]},"snapshots":[]}', 'p.json:1:1: saved plan format_version "2" is not supported (this passthru reads "1")\n  hint: plan again with this version of passthru'],
    ['{"format_version":"1","snapshots":[]}', 'p.json:1:1: saved plan has no "plan.hosts"'],
    ['{"format_version":"1","plan":{"hosts":[]},"snapshots":[]}', 'p.json:1:1: saved plan has no "desired"'],
  ])('refuses %s', (text, message) => {
    expect(() => parseSavedPlan(text, 'p.json')).toThrow(InputError);
    expect(() => parseSavedPlan(text, 'p.json')).toThrow(message);
  });

  it('names the hosts that moved since, with what changed', () => {
    const moved = { ...before, devices: [device('0000:07:00.0', { driver: 'vfio-pci' }), before.devices[1] ?? device('x')] };
    expect(staleHosts(saved.snapshots, [{ ...before, observedAt: 'now' }])).toEqual([]);
    expect(staleHosts(saved.snapshots, [moved])).toEqual([{ host: 'local', changes: ['0000:07:00.0: driver igb → vfio-pci'] }]);
    const xmlOnly = { ...before, domains: before.domains.map((d) => ({ ...d, persistentXml: '<domain>changed</domain>' })) };
    expect(staleHosts(saved.snapshots, [xmlOnly])).toEqual([{ host: 'local', changes: ['domain XML or device details changed (not shown)'] }]);
  });
});
