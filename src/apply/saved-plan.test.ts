import { describe, expect, it } from 'vitest';
import { bridgeNic, device, domain, hostdev, snapshot } from '../../test/helpers/builders.js';
import { InputError } from '../errors.js';
import type { InputDiagnostic } from '../errors.js';
import type { Plan } from '../model/plan.js';
import { fingerprintSnapshot } from '../plan/fingerprint.js';
import { loadDesiredState } from '../desired/load.js';
import type { DesiredState } from '../model/desired.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { planAll } from '../plan/plan-all.js';
import { checkSavedPlanIsItsOwn, describeDrift, parseSavedPlan, savedPlanToApply, serializeSavedPlan, staleHosts } from './saved-plan.js';
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

/** The InputError a call throws, as its single diagnostic. */
function refusal(call: () => unknown): InputDiagnostic {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    const diagnostics = (error as InputError).diagnostics;
    expect(diagnostics).toHaveLength(1);
    return diagnostics[0] as InputDiagnostic;
  }
  throw new Error('expected an InputError');
}

/** `saved` as its file, after `edit` (a deep copy is edited). */
function edited(edit: (copy: SavedPlan) => void): string {
  const copy = structuredClone(saved);
  edit(copy);
  return serializeSavedPlan(copy);
}

describe('saved plans', () => {
  it('round-trips', () => {
    expect(parseSavedPlan(serializeSavedPlan(saved), 'p.json')).toEqual(saved);
  });

  it.each([
    ['not json', [1, 1, 'not JSON: unexpected "n"']],
    ['{"a": 1,\n "a": 2}', [2, 2, 'key "a" is written twice in this object (first at 1:2)']],
    ['{"a": [1, 2,]}', [1, 13, 'not JSON: unexpected "]"']],
    ['{"a": "x\ty"}', [1, 9, 'not JSON: a control character in a string must be escaped']],
    [`${'['.repeat(101)}${']'.repeat(101)}`, [1, 101, 'nested deeper than 100 levels']],
    ['[]', [1, 1, 'not a saved plan: no format_version']],
    ['{}', [1, 1, 'not a saved plan: no format_version']],
    ['{"format_version":"2","plan":{"hosts":[]},"snapshots":[]}', [1, 19, 'saved plan format_version "2" is not supported (this passthru reads "1")']],
    ['{"format_version":"1","snapshots":[]}', [1, 1, "the saved plan must have required property 'plan'"]],
    ['{"format_version":"1","plan":{"hosts":[]},"snapshots":[]}', [1, 1, "the saved plan must have required property 'desired'"]],
    ['{"format_version":"1","plan":{"hosts":[]},"snapshots":[],"desired":{}}', [1, 30, "plan must have required property 'format_version'"]],
  ] as const)('refuses %j, positioned', (text, [line, col, message]) => {
    expect(refusal(() => parseSavedPlan(text, 'p.json'))).toMatchObject({ file: 'p.json', line, col, message, hint: expect.any(String) });
  });

  // issue 9, defect 11: the embedded desired state and snapshots were never validated; a malformed one crashed
  // later or reached virsh.
  it.each<[string, (copy: SavedPlan) => void, string]>([
    ['a URI with shell code', (c) => void ((c.desired.hosts[0] as { uri: string }).uri = 'qemu:///system;touch${IFS}x'), 'desired.hosts[0].uri must match pattern'],
    ['a URI the grammar refuses', (c) => void ((c.desired.hosts[0] as { uri: string }).uri = 'qemu:///system?a=b%0a'), 'desired: "qemu:///system?a=b%0a" is not a libvirt URI: %0a encodes a control character'],
    ['a remote URI marked local', (c) => void ((c.desired.hosts[0] as { uri: string }).uri = 'qemu+ssh://root@hv2/system'), 'desired: host local is marked local, but "qemu+ssh://root@hv2/system" is remote'],
    ['a NUL in a VM name', (c) => c.desired.vms.push({ name: 'a\u0000b', host: 'local', live: false, devices: [], removeInterfaces: [], pos: { file: 'f', line: 1, col: 1 } }), 'desired.vms[0].name must match pattern'],
    ['a VM on an undeclared host', (c) => c.desired.vms.push({ name: 'a', host: 'hv9', live: false, devices: [], removeInterfaces: [], pos: { file: 'f', line: 1, col: 1 } }), 'desired: host "hv9" is not declared in hosts'],
    ['a device claim of no kind', (c) => c.desired.vms.push({ name: 'a', host: 'local', live: false, devices: [{ kind: 'other' } as never], removeInterfaces: [], pos: { file: 'f', line: 1, col: 1 } }), "desired.vms[0].devices[0] must have required property 'address'"],
    ['an address in another spelling', (c) => c.desired.release.push({ host: 'local', address: '07:00.0', pos: { file: 'f', line: 1, col: 1 } }), 'desired.release[0].address must match pattern'],
    ['an unknown key', (c) => Object.assign(c.desired, { extra: true }), 'desired has an unknown key "extra"'],
    ['a wrong type in a snapshot', (c) => Object.assign(c.snapshots[0] as object, { devices: {} }), 'snapshots[0].devices must be array'],
    ['a snapshot of another host', (c) => Object.assign(c.snapshots[0] as object, { host: 'hv9' }), 'snapshots[0] is of host "hv9", which desired.hosts does not declare'],
    ['no snapshot', (c) => c.snapshots.splice(0), 'snapshots must NOT have fewer than 1 items'],
    ['a plan host without actions', (c) => delete (c.plan.hosts[0] as { actions?: unknown }).actions, "plan.hosts[0] must have required property 'actions'"],
  ])('refuses %s, positioned at it', (_, edit, message) => {
    const text = edited(edit);
    const diagnostic = refusal(() => parseSavedPlan(text, 'p.json'));
    expect(diagnostic.message).toContain(message);
    expect(diagnostic.line).toBeGreaterThan(1);
  });

  it('names the hosts that moved since, with what changed', () => {
    const moved = { ...before, devices: [device('0000:07:00.0', { driver: 'vfio-pci' }), before.devices[1] ?? device('x')] };
    expect(staleHosts(saved.snapshots, [{ ...before, observedAt: 'now' }])).toEqual([]);
    expect(staleHosts(saved.snapshots, [moved])).toEqual([{ host: 'local', changes: ['0000:07:00.0: driver igb → vfio-pci'] }]);
    const xmlOnly = { ...before, domains: before.domains.map((d) => ({ ...d, persistentXml: '<domain>changed</domain>' })) };
    expect(staleHosts(saved.snapshots, [xmlOnly])).toEqual([{ host: 'local', changes: ['domain XML or device details changed (not shown)'] }]);
  });
});

describe('a saved plan is the plan its own desired state gives on its own snapshots', () => {
  const state = loadDesiredState(
    ['version: 1', 'vms:', '  rhel7.3:', '    devices:', '      - address: "0000:07:00.0"', '      - address: "0000:07:00.1"', '    removeInterfaces: [{ type: bridge }]', ''].join('\n'),
    'passthrough.yaml',
  );
  const real: SavedPlan = { format_version: '1', plan: planAll(state, new Map([['local', before]])), snapshots: [before], desired: state };
  const text = serializeSavedPlan(real);

  /** A JSON text with every object's keys sorted, as `jq -S .` writes it. */
  const sortedKeys = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sortedKeys)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortedKeys(v)]))
        : value;

  it('has actions to check', () => {
    expect(real.plan.hosts[0]?.actions.map((a) => a.kind)).toEqual(['nodedev-detach', 'attach-hostdev', 'remove-interface']);
  });

  // issue 9, defect 13: the comparison was of JSON.stringify output, so `jq -S . plan.json` read as "edited".
  it('whatever its key order and formatting', () => {
    const jq = `${JSON.stringify(sortedKeys(JSON.parse(text)), null, 2)}\n`;
    expect(jq).not.toBe(text);
    expect(() => checkSavedPlanIsItsOwn(parseSavedPlan(jq, 'p.json'), jq, 'p.json')).not.toThrow();
    const compact = JSON.stringify(JSON.parse(text));
    expect(() => checkSavedPlanIsItsOwn(parseSavedPlan(compact, 'p.json'), compact, 'p.json')).not.toThrow();
  });

  const edits: [string, (plan: SavedPlan) => void, RegExp][] = [
    [
      'a changed address',
      (p) => Object.assign(p.plan.hosts[0]?.actions[0] as object, { address: '0000:07:00.1' }),
      /^plan\.hosts\[0\]\.actions\[0\]\.address is "0000:07:00\.1", but its desired state plans "0000:07:00\.0" there on its own snapshots: the file was edited/,
    ],
    [
      'an added action',
      (p) => p.plan.hosts[0]?.actions.push({ kind: 'nodedev-detach', address: '0000:07:00.1', fromDriver: 'igb', reason: 'x' }),
      /^plan\.hosts\[0\]\.actions is 4 entries, but its desired state plans 3 entries there/,
    ],
    ['a removed action', (p) => p.plan.hosts[0]?.actions.pop(), /^plan\.hosts\[0\]\.actions is 2 entries, but its desired state plans 3 entries/],
    ['reordered actions', (p) => p.plan.hosts[0]?.actions.reverse(), /^plan\.hosts\[0\]\.actions\[0\]\.address is nothing, but its desired state plans "0000:07:00\.0"/],
    // The reason is what the reviewer read: a different one is a different plan.
    ['a changed reason', (p) => Object.assign(p.plan.hosts[0]?.actions[1] as object, { reason: 'harmless' }), /^plan\.hosts\[0\]\.actions\[1\]\.reason is "harmless"/],
    ['an added field', (p) => Object.assign(p.plan.hosts[0]?.actions[1] as object, { live: true, force: true }), /^plan\.hosts\[0\]\.actions\[1\]\.force is true, but its desired state plans nothing there/],
    ['a flipped verdict', (p) => Object.assign(p.plan, { applyable: false }), /^plan\.applyable is false, but its desired state plans true/],
    [
      'a desired state edited to match nothing',
      (p) => Object.assign(p.desired.vms[0]?.devices[0] as object, { address: '0000:08:00.0' }),
      /^plan\.applyable is true, but its desired state plans false there/,
    ],
  ];

  it.each(edits)('refuses %s, positioned at the difference', (_, edit, message) => {
    const copy = structuredClone(real);
    edit(copy);
    const editedText = serializeSavedPlan(copy);
    const diagnostic = refusal(() => checkSavedPlanIsItsOwn(parseSavedPlan(editedText, 'p.json'), editedText, 'p.json'));
    expect(diagnostic.message).toMatch(message);
    expect(diagnostic.hint).toBe('plan again: passthru plan -o PLANFILE');
    expect(diagnostic.line).toBeGreaterThan(2);
  });

  it('is checked before any host is observed, and applied only when its host is unchanged', async () => {
    const observed: string[][] = [];
    const observe = (hostSnapshot: HostSnapshot) => async (d: DesiredState) => {
      observed.push(d.hosts.map((h) => h.name));
      return d.hosts.map((host) => ({ host, snapshot: hostSnapshot }));
    };
    const broken = text.replace('"0000:07:00.0"', '"0000:07:00.1"');
    await expect(savedPlanToApply(broken, 'p.json', observe(before))).rejects.toBeInstanceOf(InputError);
    await expect(savedPlanToApply('{', 'p.json', observe(before))).rejects.toBeInstanceOf(InputError);
    expect(observed).toEqual([]);

    const moved = { ...before, devices: before.devices.map((d) => ({ ...d, driver: 'vfio-pci' })) };
    await expect(savedPlanToApply(text, 'p.json', observe(moved))).rejects.toThrow(/^Saved plan is stale: the host changed since p\.json was made:\n {2}local:\n {4}- 0000:07:00\.0: driver igb → vfio-pci/);
    const toApply = await savedPlanToApply(text, 'p.json', observe({ ...before, observedAt: 'later' }));
    expect(toApply.plan).toEqual(real.plan);
    expect(observed).toEqual([['local'], ['local']]);
  });
});
