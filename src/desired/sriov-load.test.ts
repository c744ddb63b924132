import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { diagnosticsOf } from '../../test/helpers/diagnostics.js';
import { loadDesiredState } from './load.js';

const FILE = 'passthrough.yaml';
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;


const SRIOV = ['version: 1', 'sriov:', '  - { pf: "3b:00.0", numVfs: 4 }', 'vms:', '  nfv1:', '    devices:'];

describe('SR-IOV in passthrough.yaml (SPEC 11)', () => {
  it('normalises sriov entries, vf and match: { pf } claims and their interfaces', () => {
    const state = loadDesiredState(
      yaml(
        ...SRIOV,
        '      - vf: { pf: "0000:3b:00.0", index: 3 }',
        '        interface: { mac: "52:54:00:AB:34:56", vlan: 100, trust: true }',
        '      - match: { pf: "pci_0000_3b_00_0" }',
        '        count: 2',
        '        interface: { vlan: 200 }',
        '      - address: "3b:10.1"',
      ),
      FILE,
    );
    expect(state.sriov).toEqual([{ host: 'local', pf: '0000:3b:00.0', numVfs: 4, pos: { file: FILE, line: 3, col: 5 } }]);
    const [vf, match, plain] = state.vms[0]?.devices ?? [];
    expect(vf).toMatchObject({ kind: 'vf', pf: '0000:3b:00.0', index: 3, managed: true, interface: { mac: '52:54:00:ab:34:56', vlan: 100, trust: true } });
    expect(match).toMatchObject({ kind: 'vf-match', pf: '0000:3b:00.0', count: 2, interface: { mac: null, vlan: 200, trust: false } });
    expect(plain).toMatchObject({ kind: 'address', address: '0000:3b:10.1' });
    expect(plain).not.toHaveProperty('interface');
  });

  /** [what, device lines (after SRIOV), expected [line, col, fragment]] */
  const BAD: [string, string[], [number, number, string][]][] = [
    ['a VLAN above 4095', ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { vlan: 4096 }'], [[8, 28, 'must be at most 4095']]],
    ['a negative VLAN', ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { vlan: -1 }'], [[8, 28, 'must be at least 0']]],
    ['a malformed MAC', ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { mac: "52:54:00:12:34" }'], [[8, 27, 'is not a MAC address']]],
    ['a multicast MAC', ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { mac: "01:00:5e:00:00:01" }'], [[8, 27, 'is a multicast address']]],
    ['an index the declared count lacks', ['      - vf: { pf: "3b:00.0", index: 4 }'], [[7, 9, 'VF 4 of 0000:3b:00.0 does not exist: sriov (3:5) gives it 4 VFs (0-3)']]],
    ['more VFs than declared', ['      - match: { pf: "3b:00.0" }', '        count: 5'], [[7, 9, 'wants 5 VFs of 0000:3b:00.0, but sriov (3:5) gives it 4']]],
    ['a PF both split and claimed', ['      - address: "0000:3b:00"'], [[7, 9, 'claims 0000:3b:00, which sriov (3:5) splits into 4 VFs']]],
    [
      'one VF claimed twice by PF + index',
      ['      - vf: { pf: "3b:00.0", index: 1 }', '      - vf: { pf: "0000:3b:00.0", index: 1 }'],
      [[8, 9, 'VF 1 of 0000:3b:00.0 is already claimed by vms.nfv1.devices[0] (7:9)']],
    ],
    [
      'one MAC on two VFs',
      ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { mac: "52:54:00:00:00:01" }', '      - vf: { pf: "3b:00.0", index: 1 }', '        interface: { mac: "52:54:00:00:00:01" }'],
      [[9, 9, 'MAC 52:54:00:00:00:01 is already given to vms.nfv1.devices[0] (7:9)']],
    ],
    ['a whole slot as PF', ['      - vf: { pf: "3b:01", index: 0 }'], [[7, 19, 'is a whole slot; an SR-IOV physical function is one function']]],
    ['a PF address out of range', ['      - match: { pf: "3b:20.0" }'], [[7, 22, 'slot']]],
    ['an unknown interface key', ['      - vf: { pf: "3b:00.0", index: 0 }', '        interface: { vlans: 1 }'], [[8, 22, 'unknown key "vlans"']]],
    ['a vf without index', ['      - vf: { pf: "3b:00.0" }'], [[7, 9, 'missing key "index"']]],
  ];
  it.each(BAD)('refuses %s, positioned', (_what, lines, expected) => {
    const found = diagnosticsOf(yaml(...SRIOV, ...lines)).map((d) => [d.line, d.col, d.message]);
    expect(found).toHaveLength(expected.length);
    expected.forEach(([line, col, fragment], i) => {
      expect(found[i]).toEqual([line, col, expect.stringContaining(fragment)]);
    });
  });

  it('refuses a PF listed twice and numVfs out of range', () => {
    expect(diagnosticsOf(yaml('version: 1', 'sriov:', '  - { pf: "3b:00.0", numVfs: 2 }', '  - { pf: "0000:3b:00.0", numVfs: 3 }'))).toEqual([
      expect.objectContaining({ line: 4, col: 5, message: expect.stringContaining('already listed under sriov (3:5)') }),
    ]);
    expect(diagnosticsOf(yaml('version: 1', 'sriov:', '  - { pf: "3b:00.0", numVfs: -1 }'))[0]).toMatchObject({ line: 3, col: 30, message: expect.stringContaining('sriov[0].numVfs must be at least 0') });
  });
});

describe('examples/sriov/passthrough.yaml', () => {
  it('loads: the PF split into 8, VF 3 with MAC, VLAN and trust, two more VFs on VLAN 200', async () => {
    const state = loadDesiredState(await readFile('examples/sriov/passthrough.yaml', 'utf8'), 'examples/sriov/passthrough.yaml');
    expect(state.sriov?.map((s) => [s.pf, s.numVfs])).toEqual([['0000:3b:00.0', 8]]);
    expect(state.vms[0]?.devices.map((d) => d.kind)).toEqual(['vf', 'vf-match']);
  });
});
