import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { withConnectUri } from './connect.js';
import { loadDesiredState } from './load.js';

const load = (...lines: string[]) => loadDesiredState(`${lines.join('\n')}\n`, 'p.yaml');

/** The InputError `call` throws. */
function refusal(call: () => unknown): InputError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

const twoHosts = load(
  'version: 1',
  'hosts:',
  '  hv1: { uri: "qemu:///system" }',
  '  hv2: { uri: "qemu+ssh://root@hv2/system" }',
  'vms:',
  '  a: { host: hv1, devices: [{ address: "07:00.0" }] }',
  '  b: { host: hv2, devices: [{ address: "08:00.0" }] }',
  'release: [{ host: hv2, address: "09:00.0" }]',
  'protect: [{ host: hv1, address: "00:1f.6" }]',
);

describe('withConnectUri', () => {
  it('keeps the name of the one host the file declares', () => {
    const oneHost = load('version: 1', 'hosts:', '  lab: { uri: "qemu:///system" }');
    const state = withConnectUri(oneHost, 'qemu+ssh://root@hv9/system');
    expect(state.hosts).toEqual([{ name: 'lab', uri: 'qemu+ssh://root@hv9/system', local: false }]);
  });

  it('names the implicit host after the URI', () => {
    const implicit = load('version: 1', 'vms:', '  a: { devices: [] }');
    expect(withConnectUri(implicit, 'qemu+ssh://root@hv2/system').hosts).toEqual([
      { name: 'hv2', uri: 'qemu+ssh://root@hv2/system', local: false },
    ]);
    expect(withConnectUri(implicit, 'test:///tmp/node.xml').hosts).toEqual([
      { name: 'local', uri: 'test:///tmp/node.xml', local: true },
    ]);
    expect(withConnectUri(implicit, 'myalias').hosts).toEqual([{ name: 'myalias', uri: 'myalias', local: false }]);
  });

  it('puts every VM, release and protect entry of several hosts on the one host', () => {
    const state = withConnectUri(twoHosts, 'qemu:///system');
    expect(state.hosts).toEqual([{ name: 'local', uri: 'qemu:///system', local: true }]);
    expect([...state.vms, ...state.release, ...state.protect].map((entry) => entry.host)).toEqual([
      'local',
      'local',
      'local',
      'local',
    ]);
    expect(twoHosts.vms.map((vm) => vm.host)).toEqual(['hv1', 'hv2']);
  });

  it('refuses entries that only collide once their hosts are merged', () => {
    const state = load(
      'version: 1',
      'hosts:',
      '  hv1: { uri: "qemu:///system" }',
      '  hv2: { uri: "qemu+ssh://root@hv2/system" }',
      'vms:',
      '  a: { host: hv1, devices: [{ address: "07:00.0" }] }',
      '  b: { host: hv2, devices: [{ address: "07:00.0" }] }',
    );
    const error = refusal(() => withConnectUri(state, 'qemu:///system'));
    expect(error.diagnostics).toMatchObject([
      { line: 7, col: 29, message: expect.stringContaining('already claimed by vms.a.devices[0] (6:29)') },
    ]);
    expect(error.diagnostics[0]?.hint).toContain('(-c qemu:///system puts the entries of every host');
  });

  it('refuses a -c that is not a libvirt URI, pointing at the character at fault', () => {
    const implicit = load('version: 1');
    expect(refusal(() => withConnectUri(implicit, 'qemu:///system;touch${IFS}PWNED')).message).toBe(
      '-c:1:15: "qemu:///system;touch${IFS}PWNED" is not a libvirt URI: ";" is not allowed in the path\n' +
        '  hint: a libvirt URI is driver[+transport]://[user@][host][:port]/path[?name=value&...], e.g. qemu:///system ' +
        'or qemu+ssh://root@hv2/system?keyfile=/root/.ssh/id_ed25519; percent-encode any other character (%3B for ";")',
    );
    expect(withConnectUri(implicit, 'qemu+ssh://user@[fe80::1%25eth0]:2222/system').hosts[0]?.local).toBe(false);
  });
});
