import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../errors.js';
import { selectHosts, withConnectUri } from './connect.js';
import { loadDesiredState } from './load.js';

const load = (...lines: string[]) => loadDesiredState(`${lines.join('\n')}\n`, 'p.yaml');

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

  it('refuses -c on a file of several hosts unless --host picks one (it would prune the other hosts\' VMs)', () => {
    expect(() => selectHosts(twoHosts, { hosts: [], connect: 'qemu:///system' })).toThrow(UsageError);
    expect(() => selectHosts(twoHosts, { hosts: [], connect: 'qemu:///system' })).toThrow(
      '-c qemu:///system is for one host, and this run has 2 from p.yaml: hv1, hv2',
    );
    expect(() => selectHosts(twoHosts, { hosts: ['hv1', 'hv2'], connect: 'qemu:///system' })).toThrow('has 2 from p.yaml');
    expect(() => withConnectUri(twoHosts, 'qemu:///system')).toThrow(UsageError);
    const picked = selectHosts(twoHosts, { hosts: ['hv2'], connect: 'qemu+ssh://root@10.0.0.2/system' });
    expect(picked.hosts).toEqual([{ name: 'hv2', uri: 'qemu+ssh://root@10.0.0.2/system', local: false }]);
    expect([...picked.vms, ...picked.release].map((e) => [e.host, 'name' in e ? e.name : e.address])).toEqual([
      ['hv2', 'b'],
      ['hv2', '0000:09:00.0'],
    ]);
    expect(picked.protect).toEqual([]);
  });

  it('--host keeps only the hosts named, in file order, with their entries', () => {
    const state = selectHosts(twoHosts, { hosts: ['hv2', 'hv1'], connect: null });
    expect(state.hosts.map((h) => h.name)).toEqual(['hv1', 'hv2']);
    const hv1 = selectHosts(twoHosts, { hosts: ['hv1'], connect: null });
    expect(hv1.hosts.map((h) => h.name)).toEqual(['hv1']);
    expect([hv1.vms.map((v) => v.name), hv1.release, hv1.protect.map((p) => p.host)]).toEqual([['a'], [], ['hv1']]);
    expect(selectHosts(twoHosts, { hosts: [], connect: null })).toBe(twoHosts);
  });

  it('refuses a --host the file does not declare, listing the declared ones', () => {
    expect(() => selectHosts(twoHosts, { hosts: ['hv1', 'hv3'], connect: null })).toThrow(UsageError);
    expect(() => selectHosts(twoHosts, { hosts: ['hv1', 'hv3'], connect: null })).toThrow(
      '--host "hv3": p.yaml declares no such host (it declares: hv1, hv2)',
    );
    const implicit = load('version: 1');
    expect(() => selectHosts(implicit, { hosts: ['hv1'], connect: null })).toThrow('(it declares: local)');
    expect(selectHosts(implicit, { hosts: ['local'], connect: null }).hosts.map((h) => h.name)).toEqual(['local']);
  });
});

describe('withConnectUri: the URI', () => {
  it('refuses a -c that is not a libvirt URI, pointing at the character at fault', () => {
    const implicit = load('version: 1');
    let error: unknown;
    try {
      withConnectUri(implicit, 'qemu:///system;touch${IFS}PWNED');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe(
      '-c:1:15: "qemu:///system;touch${IFS}PWNED" is not a libvirt URI: ";" is not allowed in the path\n' +
        '  hint: a libvirt URI is driver[+transport]://[user@][host][:port]/path[?name=value&...], e.g. qemu:///system ' +
        'or qemu+ssh://root@hv2/system?keyfile=/root/.ssh/id_ed25519; percent-encode any other character (%3B for ";")',
    );
    expect(withConnectUri(implicit, 'qemu+ssh://user@[fe80::1%25eth0]:2222/system').hosts[0]?.local).toBe(false);
  });
});
