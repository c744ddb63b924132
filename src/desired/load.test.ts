import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../model/desired.js';
import { diagnosticsOf } from '../../test/helpers/diagnostics.js';
import { loadDesiredState } from './load.js';

const FILE = 'passthrough.yaml';
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;


const pos = (line: number, col: number) => ({ file: FILE, line, col });

/** [what, file text, every expected diagnostic as [line, col, fragment of its message]] */
const BAD_INPUTS: [string, string, [number, number, string][]][] = [
  // YAML syntax
  [
    'unclosed quote',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - address: "0000:07:00.0'),
    [[5, 18, 'unclosed quote']],
  ],
  [
    'bad indentation',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - address: "07:00.0"', '     managed: true'),
    [[6, 6, 'bad indentation']],
  ],
  ['tab indentation', yaml('version: 1', 'vms:', '\ta: {}'), [[3, 1, 'tab']]],
  ['two documents', yaml('version: 1', '---', 'version: 1'), [[2, 1, 'more than one YAML document']]],
  ['a YAML 1.1 directive', yaml('%YAML 1.1', '---', 'version: 1'), [[1, 1, '%YAML 1.1: passthru reads YAML 1.2 only']]],
  ['an unknown directive', yaml('%PASSTHRU on', '---', 'version: 1'), [[1, 1, 'YAML directive not understood']]],
  [
    'duplicate keys',
    yaml('version: 1', 'vms:', '  a:', '    live: true', '    devices: []', '    live: false'),
    [[6, 5, 'duplicate key "live" (first written at 4:5)']],
  ],
  // unknown keys, one per level
  [
    'unknown top-level key',
    yaml('version: 1', 'vm: {}'),
    [[2, 1, 'unknown key "vm" at the top level; did you mean "vms"?']],
  ],
  [
    'unknown host key',
    yaml('version: 1', 'hosts:', '  hv1:', '    url: qemu:///system'),
    [[4, 5, 'unknown key "url" in hosts.hv1; did you mean "uri"?']],
  ],
  ['unknown vm key', yaml('version: 1', 'vms:', '  a:', '    device: []'), [[4, 5, 'did you mean "devices"?']]],
  [
    'unknown device key',
    yaml('version: 1', 'vms:', '  rhel7.3:', '    devices:', '      - adress: "0000:07:00.0"'),
    [[5, 9, 'unknown key "adress" in vms.rhel7.3.devices[0]; did you mean "address"?']],
  ],
  [
    'unknown expect key',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "07:00.0"',
      '        expect: { vendor: "8086", prodcut: "1521" }',
    ),
    [[6, 35, 'unknown key "prodcut" in vms.a.devices[0].expect; did you mean "product"?']],
  ],
  [
    'unknown removeInterfaces key',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices: []',
      '    removeInterfaces:',
      '      - { type: bridge, bridge: br0 }',
    ),
    [[6, 25, 'unknown key "bridge" in vms.a.removeInterfaces[0]']],
  ],
  [
    'unknown release key',
    yaml('version: 1', 'release:', '  - address: "07:00.1"', '    hots: local'),
    [[4, 5, 'unknown key "hots" in release[0]']],
  ],
  // device entries: address vs match
  [
    'address and match together',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "07:00.0"',
      '        match: { vendor: "8086", product: "1521" }',
    ),
    [[5, 9, 'has both address and match']],
  ],
  [
    'neither address nor match',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - managed: false'),
    [[5, 9, 'missing key "address"']],
  ],
  [
    'count on an address',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - address: "07:00.0"', '        count: 2'),
    [[6, 9, 'count in vms.a.devices[0] only applies to a match selector']],
  ],
  // wrong types and values
  [
    'live as a string',
    yaml('version: 1', 'vms:', '  a:', '    live: "yes"', '    devices: []'),
    [[4, 11, 'vms.a.live must be true or false, not the string "yes"']],
  ],
  [
    'empty live',
    yaml('version: 1', 'vms:', '  a:', '    live:', '    devices: []'),
    [[4, 5, 'must be true or false, not an empty value']],
  ],
  [
    'count as a string',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - match: { vendor: "10de", product: "2330" }',
      '        count: "2"',
    ),
    [[6, 16, 'count must be a whole number, not the string "2"']],
  ],
  [
    'count 0',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - match: { vendor: "10de", product: "2330" }',
      '        count: 0',
    ),
    [[6, 16, 'count must be at least 1']],
  ],
  [
    'devices not a list',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      address: "07:00.0"'),
    [[5, 7, 'vms.a.devices must be a list, not a mapping']],
  ],
  ['devices missing', yaml('version: 1', 'vms:', '  a:', '    live: true'), [[3, 3, 'missing key "devices" in vms.a']]],
  [
    'host entry not a mapping',
    yaml('version: 1', 'hosts:', '  hv1: qemu:///system'),
    [[3, 8, 'hosts.hv1 must be a mapping']],
  ],
  ['host without uri', yaml('version: 1', 'hosts:', '  hv1: {}'), [[3, 3, 'missing key "uri" in hosts.hv1']]],
  [
    'unusable host name',
    yaml('version: 1', 'hosts:', '  "h v": { uri: "qemu:///system" }'),
    [[3, 3, 'host name "h v" is not usable']],
  ],
  [
    'domain name with a slash',
    yaml('version: 1', 'vms:', '  "a/b": { devices: [] }'),
    [[3, 3, '"a/b" is not a libvirt domain name']],
  ],
  [
    'malformed MAC',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices: []',
      '    removeInterfaces:',
      '      - { type: bridge, mac: "52:54:00:zz:00:00" }',
    ),
    [[6, 30, 'is not a MAC address']],
  ],
  ['version 2', yaml('version: 2'), [[1, 10, 'version must be 1, not the number 2']]],
  ['no version', yaml('vms: {}'), [[1, 1, 'missing key "version" at the top level']]],
  ['empty file', '', [[1, 1, 'the file is empty']]],
  ['a list instead of a mapping', yaml('- version: 1'), [[1, 1, 'the file must be a mapping of keys, not a list']]],
  // addresses and IDs
  [
    'slot above 0x1f',
    yaml('version: 1', 'release:', '  - address: "0000:07:20.0"'),
    [[3, 14, 'slot 0x20 is above 0x1f']],
  ],
  ['function 8', yaml('version: 1', 'release:', '  - address: "0000:07:00.8"'), [[3, 14, 'function 8 is above 7']]],
  ['bus 0x100', yaml('version: 1', 'release:', '  - address: "0000:100:00.0"'), [[3, 14, 'bus 0x100 is above 0xff']]],
  [
    'domain 0x10000',
    yaml('version: 1', 'protect:', '  - address: "10000:07:00.0"'),
    [[3, 14, 'domain 0x10000 is above 0xffff']],
  ],
  ['not an address', yaml('version: 1', 'protect:', '  - address: eth0'), [[3, 14, '"eth0" is not a PCI address']]],
  [
    'too many digits',
    yaml('version: 1', 'protect:', '  - address: "00000:07:00.0"'),
    [[3, 14, 'is not written as a PCI address passthru accepts']],
  ],
  [
    'malformed vendor',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - match: { vendor: "10dg", product: "2330" }'),
    [[5, 26, 'vms.a.devices[0].match.vendor "10dg" is not a PCI ID']],
  ],
  [
    'five-digit product',
    yaml('version: 1', 'vms:', '  a:', '    devices:', '      - match: { vendor: "10de", product: 12345 }'),
    [[5, 43, 'product "12345" is not a PCI ID']],
  ],
  // libvirt URIs (issue 9, defect 2): a URI is one argument of virsh and one word of a generated script
  [
    'a URI with shell code after ";"',
    yaml('version: 1', 'hosts:', '  hv2:', '    uri: qemu:///system;touch${IFS}PWNED;exit${IFS}0'),
    [[4, 24, 'hosts.hv2.uri "qemu:///system;touch${IFS}PWNED;exit${IFS}0" is not a libvirt URI: ";" is not allowed in the path']],
  ],
  [
    'a URI with $(...) in quotes',
    yaml('version: 1', 'hosts:', '  hv2: { uri: "qemu+ssh://root@hv2/system?keyfile=$(id)" }'),
    [[3, 51, '"$" is not allowed in the query']],
  ],
  [
    'a URI with a quote',
    yaml('version: 1', 'hosts:', "  hv2: { uri: 'qemu+ssh://root@hv2/sys\"tem' }"),
    [[3, 39, 'is not allowed in the path']],
  ],
  [
    'a URI with a space',
    yaml('version: 1', 'hosts:', '  hv2: { uri: "qemu:///system --readonly" }'),
    [[3, 30, 'a space is not allowed in the path']],
  ],
  [
    'a URI with an unknown transport',
    yaml('version: 1', 'hosts:', '  hv2: { uri: "qemu+rsh://hv2/system" }'),
    [[3, 21, '"rsh" is not a libvirt transport']],
  ],
  ['an empty URI', yaml('version: 1', 'hosts:', '  hv2: { uri: "" }'), [[3, 16, 'it is empty']]],
  // YAML beyond JSON's data model (issue 9, defect 3): each would change what the schema sees
  [
    'hosts as an !!omap',
    yaml('version: 1', 'hosts: !!omap [ {hv2: {uri: "qemu+ssh://root@hv2/system"}} ]'),
    [[2, 8, '!!omap (an ordered map) is not allowed']],
  ],
  [
    'vms as an !!omap',
    yaml('version: 1', 'vms: !!omap', '  - rhel7.3: { devices: [{ address: "07:00.0" }] }'),
    [[2, 6, '!!omap (an ordered map) is not allowed']],
  ],
  ['vms as a !!set', yaml('version: 1', 'vms: !!set { a, b }'), [[2, 6, '!!set is not allowed']]],
  [
    'vms as !!pairs',
    yaml('version: 1', 'vms: !!pairs [ a: { devices: [] } ]'),
    [[2, 6, '!!pairs is not allowed']],
  ],
  [
    'a complex key',
    yaml('version: 1', 'vms:', '  ? [rhel7.3]', '  : { devices: [{ address: "07:00.0" }] }'),
    [[3, 5, 'a list is used as a key']],
  ],
  [
    'a mapping as a key',
    yaml('version: 1', 'vms:', '  ? { a: 1 }', '  : { devices: [] }'),
    [[3, 5, 'a mapping is used as a key']],
  ],
  [
    'an alias as a key',
    yaml('version: 1', 'x: &k rhel7.3', 'vms:', '  *k : { devices: [] }'),
    [[4, 3, 'an alias (*name) is used as a key']],
  ],
  ['an empty key', yaml('version: 1', 'vms:', '  : { devices: [] }'), [[3, 3, 'a key is missing']]],
  ['a custom tag', yaml('version: 1', 'vms: !passthru {}'), [[2, 6, 'the tag "!passthru" is not allowed']]],
  [
    'a !!binary value',
    yaml('version: 1', 'hosts:', '  hv2: { uri: !!binary cWVtdTovLy9zeXN0ZW0= }'),
    [[3, 15, '!!binary is not allowed']],
  ],
  [
    'keys that collide once read as text',
    yaml('version: 1', 'vms:', '  true: { devices: [] }', '  "true": { devices: [] }'),
    [[4, 3, 'duplicate key "true" (first written at 3:3)']],
  ],
  // values that are not what they seem (issue 9, defect 11)
  [
    'an alias of a number as a PCI ID',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - match: { vendor: "8086", product: "1521" }',
      '        count: &n 2',
      '      - match: { vendor: *n, product: "1521" }',
    ),
    [[7, 26, 'vms.a.devices[1].match.vendor "2" is not a PCI ID']],
  ],
  [
    'a NUL in a URI',
    yaml('version: 1', 'hosts:', '  hv2: { uri: "qemu:///sys\\0tem" }'),
    [[3, 15, 'a NUL character is in this value']],
  ],
  [
    'a raw NUL in a URI',
    yaml('version: 1', 'hosts:', '  hv2: { uri: qemu:///sys\0tem }'),
    [[3, 26, 'a NUL character is in this value']],
  ],
  [
    'a terminal escape in a domain name',
    yaml('version: 1', 'vms:', '  "a\\e]0;owned\\a": { devices: [] }'),
    [[3, 3, 'the control character U+001B is in this value']],
  ],
  ['a tab in an interface type', yaml('version: 1', 'vms:', '  a:', '    devices: []', '    removeInterfaces: [{ type: "bri\\tdge" }]'), [[5, 32, 'a tab is in this value']]],
  ['nesting too deep', yaml('version: 1', `vms: ${'['.repeat(5000)}${']'.repeat(5000)}`), [[2, 1, 'nested too deeply']]],
  // semantics
  [
    'same device in two VMs',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "0000:07:00.0"',
      '  b:',
      '    devices:',
      '      - address: pci_0000_07_00_0',
    ),
    [[8, 9, 'vms.b.devices[0]: 0000:07:00.0 is already claimed by vms.a.devices[0] (5:9) on host local']],
  ],
  [
    'same device twice in one VM',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "0000:07:00.0"',
      '      - address: "0x7:0x0.0"',
    ),
    [[6, 9, 'already claimed by vms.a.devices[0] (5:9) in the same VM']],
  ],
  [
    'function inside a claimed slot',
    yaml(
      'version: 1',
      'vms:',
      '  gpu:',
      '    devices:',
      '      - address: "0000:01:00"',
      '  other:',
      '    devices:',
      '      - address: "01:00.1"',
    ),
    [[8, 9, '0000:01:00.1 overlaps 0000:01:00 (every function of slot 01:00), which is already claimed by vms.gpu']],
  ],
  [
    'claimed and released',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "0000:07:00.0"',
      'release:',
      '  - address: "07:00.0"',
    ),
    [[7, 5, '0000:07:00.0 is listed in release but vms.a.devices[0] (5:9) claims 0000:07:00.0']],
  ],
  [
    'claimed and protected',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "0000:00:1f.6"',
      'protect:',
      '  - { address: "0000:00:1f" }',
    ),
    [[7, 5, 'is listed in protect but vms.a.devices[0] (5:9) claims 0000:00:1f.6']],
  ],
  [
    'released and protected',
    yaml('version: 1', 'release:', '  - address: "07:00.1"', 'protect:', '  - address: "07:00.1"'),
    [[3, 5, 'listed in release and in protect (5:5)']],
  ],
  [
    'expect on a whole slot',
    yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    devices:',
      '      - address: "0000:01:00"',
      '        expect: { vendor: "10de", product: "2330" }',
    ),
    [[6, 9, 'expect cannot guard a whole slot']],
  ],
  [
    'undeclared host',
    yaml('version: 1', 'vms:', '  a:', '    host: hv1', '    devices: []'),
    [[4, 11, 'vms.a is on host "hv1", which is not declared under hosts']],
  ],
  [
    'misspelt host',
    yaml(
      'version: 1',
      'hosts:',
      '  hv1: { uri: "qemu:///system" }',
      'release:',
      '  - { host: hv2, address: "07:00.0" }',
    ),
    [[5, 13, 'release[0] is on host "hv2", which is not declared under hosts; did you mean "hv1"?']],
  ],
  [
    'host left out with two hosts',
    yaml(
      'version: 1',
      'hosts:',
      '  hv1: { uri: "qemu:///system" }',
      '  hv2: { uri: "qemu+ssh://root@hv2/system" }',
      'vms:',
      '  a:',
      '    devices: []',
    ),
    [[6, 3, 'vms.a does not say which host it is on, and 2 hosts are declared']],
  ],
];

describe('loadDesiredState rejects', () => {
  it.each(BAD_INPUTS)('%s', (_, text, expected) => {
    const diagnostics = diagnosticsOf(text);
    expect(diagnostics.map((d) => [d.line, d.col])).toEqual(expected.map(([line, col]) => [line, col]));
    diagnostics.forEach((d, i) => {
      expect(d.file).toBe(FILE);
      expect(d.message).toContain(expected[i]?.[2]);
      expect(d.hint, 'every diagnostic says what to do').toMatch(/\S/);
    });
  });

  it('reports every schema error of a file, in file order', () => {
    const text = yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    live: "no"',
      '    devices:',
      '      - address: "0000:07:20.0"',
      '      - adress: "0000:08:00.0"',
      'relase: []',
      'protect:',
      '  - address: "0000:00:1f.9"',
    );
    expect(diagnosticsOf(text).map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual([
      '4:11 vms.a.live must be true or false, not the string "no"',
      '6:18 vms.a.devices[0].address: "0000:07:20.0": slot 0x20 is above 0x1f',
      '7:9 unknown key "adress" in vms.a.devices[1]; did you mean "address"?',
      '8:1 unknown key "relase" at the top level; did you mean "release"?',
      '10:14 protect[0].address: "0000:00:1f.9": function 9 is above 7',
    ]);
  });

  it('reports every semantic error of a file, in file order', () => {
    const text = yaml(
      'version: 1',
      'vms:',
      '  a:',
      '    host: elsewhere',
      '    devices:',
      '      - address: "0000:07:00.0"',
      '  b:',
      '    devices:',
      '      - address: "0000:08:00.0"',
      '      - address: "0000:08:00.0"',
      '  c:',
      '    devices:',
      '      - address: "0000:08:00"',
      'release:',
      '  - address: "0000:08:00.0"',
    );
    expect(diagnosticsOf(text).map((d) => [d.line, d.col])).toEqual([
      [4, 11],
      [10, 9],
      [13, 9],
      [15, 5],
    ]);
  });

  it('still checks the rest of a file with a duplicate key, using the value YAML keeps', () => {
    const diagnostics = diagnosticsOf(yaml('version: 1', 'version: 2'));
    expect(diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual([
      '2:1 duplicate key "version" (first written at 1:1)',
      '2:10 version must be 1, not the number 2',
    ]);
  });

  it('throws one InputError whose message lists every diagnostic as file:line:col', () => {
    expect(() => loadDesiredState(yaml('version: 1', 'vm: {}', 'host: {}'), FILE)).toThrow(
      /^passthrough\.yaml:2:1: unknown key "vm".*\n.*\npassthrough\.yaml:3:1: unknown key "host"/,
    );
  });
});

describe('loadDesiredState accepts', () => {
  it('the SPEC 1 example, normalised with every default filled in', () => {
    const text = readFileSync(new URL('../../test/fixtures/desired/spec-example.yaml', import.meta.url), 'utf8');
    const expected: DesiredState = {
      file: FILE,
      hosts: [{ name: 'hv1', uri: 'qemu:///system', local: true }],
      vms: [
        {
          name: 'rhel7.3',
          host: 'hv1',
          live: false,
          devices: [
            {
              kind: 'address',
              address: '0000:07:00.0',
              expect: { vendor: '8086', product: '1521' },
              managed: true,
              force: false,
              pos: pos(10, 9),
            },
            { kind: 'address', address: '0000:01:00', expect: null, managed: true, force: false, pos: pos(13, 9) },
            {
              kind: 'match',
              match: { vendor: '10de', product: '2330' },
              count: 2,
              managed: true,
              force: false,
              pos: pos(14, 9),
            },
          ],
          removeInterfaces: [{ type: 'bridge', source: 'br0', mac: null, pos: pos(17, 9) }],
          pos: pos(6, 3),
        },
      ],
      release: [{ host: 'hv1', address: '0000:07:00.1', pos: pos(19, 5) }],
      protect: [{ host: 'hv1', address: '0000:00:1f.6', pos: pos(21, 5) }],
    };
    expect(loadDesiredState(text, FILE)).toEqual(expected);
  });

  it('a file without hosts: one local host, and host: local may still be written', () => {
    const state = loadDesiredState(
      yaml('version: 1', 'vms:', '  a:', '    host: local', '    devices: []', 'release:', '  - address: "7:0.1"'),
      FILE,
    );
    expect(state.hosts).toEqual([{ name: 'local', uri: 'qemu:///system', local: true }]);
    expect(state.vms.map((vm) => vm.host)).toEqual(['local']);
    expect(state.release).toEqual([{ host: 'local', address: '0000:07:00.1', pos: pos(7, 5) }]);
  });

  it('a minimal file', () => {
    expect(loadDesiredState('version: 1\n', FILE)).toEqual({
      file: FILE,
      hosts: [{ name: 'local', uri: 'qemu:///system', local: true }],
      vms: [],
      release: [],
      protect: [],
    });
  });

  it('every address spelling, canonical and lowercase', () => {
    const state = loadDesiredState(
      yaml(
        'version: 1',
        'vms:',
        '  a:',
        '    devices:',
        '      - address: "0000:0A:1F.7"',
        '      - address: "0b:00.0"',
        '      - address: pci_0000_0c_00_1',
        '      - address: "0x0001:0x0d:0x00.0x2"',
        '      - address: "0000:0e:00"',
      ),
      FILE,
    );
    expect((state.vms[0]?.devices ?? []).map((d) => (d.kind === 'address' ? d.address : null))).toEqual([
      '0000:0a:1f.7',
      '0000:0b:00.0',
      '0000:0c:00.1',
      '0001:0d:00.2',
      '0000:0e:00',
    ]);
  });

  it('PCI IDs written bare, with 0x or in capitals', () => {
    const state = loadDesiredState(
      yaml(
        'version: 1',
        'vms:',
        '  a:',
        '    devices:',
        '      - match: { vendor: 8086, product: 0x10FB }',
        '        count: 3',
        '        managed: false',
        '        force: true',
        '      - address: "07:00.0"',
        '        expect: { vendor: "0x10DE", product: 1e10 }',
      ),
      FILE,
    );
    expect(state.vms[0]?.devices).toEqual([
      {
        kind: 'match',
        match: { vendor: '8086', product: '10fb' },
        count: 3,
        managed: false,
        force: true,
        pos: pos(5, 9),
      },
      {
        kind: 'address',
        address: '0000:07:00.0',
        expect: { vendor: '10de', product: '1e10' },
        managed: true,
        force: false,
        pos: pos(9, 9),
      },
    ]);
  });

  it('domain names with spaces, quotes, ";", a leading "--" or that YAML would read as numbers, in file order', () => {
    const state = loadDesiredState(
      yaml(
        'version: 1',
        'vms:',
        '  "my vm": { devices: [] }',
        `  'it''s "quoted"': { devices: [] }`,
        '  "a;b && c": { devices: [] }',
        '  --help: { devices: [] }',
        '  1.10: { devices: [] }',
        '  true: { devices: [] }',
        '  7: { devices: [] }',
      ),
      FILE,
    );
    const names = ['my vm', `it's "quoted"`, 'a;b && c', '--help', '1.10', 'true', '7'];
    expect(state.vms.map((vm) => vm.name)).toEqual(names);
  });

  it('two identical match selectors (the planner picks distinct devices for them)', () => {
    const selector = '      - match: { vendor: "10de", product: "2330" }';
    const text = yaml('version: 1', 'vms:', '  a:', '    devices:', selector, '  b:', '    devices:', selector);
    const state = loadDesiredState(text, FILE);
    expect(state.vms.map((vm) => vm.devices.length)).toEqual([1, 1]);
  });

  it('the same address on two hosts', () => {
    const state = loadDesiredState(
      yaml(
        'version: 1',
        'hosts:',
        '  hv1: { uri: "qemu:///system" }',
        '  hv2: { uri: "qemu+ssh://root@hv2/system" }',
        'vms:',
        '  a: { host: hv1, devices: [{ address: "07:00.0" }] }',
        '  b: { host: hv2, devices: [{ address: "07:00.0" }] }',
        'release:',
        '  - { host: hv2, address: "07:00.1" }',
        'protect:',
        '  - { host: hv1, address: "07:00.1" }',
      ),
      FILE,
    );
    expect(state.hosts).toEqual([
      { name: 'hv1', uri: 'qemu:///system', local: true },
      { name: 'hv2', uri: 'qemu+ssh://root@hv2/system', local: false },
    ]);
    expect(state.vms.map((vm) => vm.host)).toEqual(['hv1', 'hv2']);
  });

  it('removeInterfaces selectors with their optional fields', () => {
    const state = loadDesiredState(
      yaml(
        'version: 1',
        'vms:',
        '  a:',
        '    devices: []',
        '    removeInterfaces:',
        '      - type: network',
        '      - { type: bridge, source: br0, mac: "52:54:00:AB:cd:01" }',
      ),
      FILE,
    );
    expect(state.vms[0]?.removeInterfaces).toEqual([
      { type: 'network', source: null, mac: null, pos: pos(6, 9) },
      { type: 'bridge', source: 'br0', mac: '52:54:00:ab:cd:01', pos: pos(7, 9) },
    ]);
  });
});

describe('loadDesiredState at scale', () => {
  /** A file of `n` VMs, each with one guarded device: vm-0 on 0000:00:00.0, vm-1 on 0000:01:00.0, ... */
  const manyVms = (n: number) => {
    const lines = ['version: 1', 'vms:'];
    for (let i = 0; i < n; i++) {
      const address = `${Math.floor(i / 256).toString(16).padStart(4, '0')}:${(i % 256).toString(16).padStart(2, '0')}:00.0`;
      lines.push(`  vm-${i}:`, '    live: true', '    devices:', `      - address: "${address}"`, '        expect: { vendor: "8086", product: "1521" }');
    }
    return lines;
  };

  // Positions were looked up by scanning each mapping from the start: 8,000 VMs took 3.5 s, 32,000 over 120 s.
  // The timing itself is bench/run.js's business; this checks the result, and that 32,000 VMs load at all.
  it.each([8192, 32768])('%i VMs, every entry with its position', (n) => {
    const state = loadDesiredState(`${manyVms(n).join('\n')}\n`, FILE);
    expect(state.vms).toHaveLength(n);
    const last = state.vms[n - 1];
    expect(last?.name).toBe(`vm-${n - 1}`);
    expect(last?.pos).toEqual(pos(2 + (n - 1) * 5 + 1, 3));
    // n is a multiple of 256: the last VM is on bus ff of PCI domain n/256 - 1.
    const domain = (n / 256 - 1).toString(16).padStart(4, '0');
    expect(last?.devices[0]).toMatchObject({ kind: 'address', address: `${domain}:ff:00.0`, pos: pos(2 + (n - 1) * 5 + 4, 9) });
  }, 120_000);

  it('8192 VMs and a conflict at the very end, positioned', () => {
    const clash = [...manyVms(8192), '  clash:', '    devices:', '      - address: "0000:00:00.0"'];
    expect(diagnosticsOf(`${clash.join('\n')}\n`)).toEqual([
      expect.objectContaining({ ...pos(clash.length, 9), message: expect.stringContaining('already claimed by vms.vm-0.devices[0] (6:9)') }),
    ]);
  }, 120_000);
});

describe('loadDesiredState limits', () => {
  it('refuses a file over 8 MiB before parsing it', () => {
    const huge = `version: 1\n#${'x'.repeat(8 * 2 ** 20)}\n`;
    expect(diagnosticsOf(huge)).toEqual([
      { ...pos(1, 1), message: 'the file is 8.0 MiB, more than the 8 MiB passthru reads as a desired-state file', hint: expect.any(String) },
    ]);
  });

  it('refuses a file of more than 500,000 keys, values and lines where it runs over, before parsing it', () => {
    const dense = `version: 1\nrelease: [${'1,'.repeat(600_000)}1]\n`;
    expect(diagnosticsOf(dense)).toEqual([
      // version: 1 and its line break are 2 units, "release: [" 2 more: the 499,997th comma runs over.
      { ...pos(2, 11 + 2 * 499_996 + 1), message: expect.stringContaining('more than 500,000 keys, values and lines by here'), hint: expect.any(String) },
    ]);
  });

  it('lists the first hundred problems of a file with thousands and says how many more there are', () => {
    const wrong = yaml('version: 1', 'release:', ...Array.from({ length: 5000 }, () => '  - 1'));
    const diagnostics = diagnosticsOf(wrong);
    expect(diagnostics).toHaveLength(101);
    expect(diagnostics[0]).toMatchObject({ ...pos(3, 5), message: 'release[0] must be a mapping, not the number 1' });
    expect(diagnostics[100]).toMatchObject({ ...pos(103, 5), message: 'and at least 900 more problems from here on, not listed' });
  });
});
