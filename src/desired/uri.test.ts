import { describe, expect, it } from 'vitest';
import { checkLibvirtUri, isLocalUri, remoteHostOf } from './uri.js';

describe('isLocalUri', () => {
  it.each([
    ['qemu:///system', true],
    ['qemu:///session', true],
    ['qemu+unix:///system', true],
    ['test:///abs/path/node.xml', true],
    ['qemu+ssh://root@hv2/system', false],
    ['qemu://hv2/system', false],
    ['qemu+tcp://localhost/system', false],
    ['qemu+ssh://root@[fe80::1]:22/system', false],
    ['qemu+ssh://user@[fe80::1%25eth0]:2222/system', false],
    ['myalias', false],
  ])('%s → %s', (uri, local) => {
    expect(isLocalUri(uri)).toBe(local);
  });
});

describe('remoteHostOf', () => {
  it('names the host part, without user or port', () => {
    expect(remoteHostOf('qemu+ssh://root@hv2.example.com:2222/system?keyfile=/k')).toBe('hv2.example.com');
    expect(remoteHostOf('qemu+ssh://user@[fe80::1%25eth0]:2222/system')).toBe('[fe80::1%25eth0]');
    expect(remoteHostOf('qemu:///system')).toBe('');
    expect(remoteHostOf('myalias')).toBeNull();
  });
});

describe('checkLibvirtUri', () => {
  it.each([
    'qemu:///system',
    'qemu:///session',
    'qemu+ssh://root@hv2/system?keyfile=/k&no_verify=1',
    'qemu+ssh://user@[fe80::1%25eth0]:2222/system',
    'test:///default',
    'test:///abs/path/node.xml',
    'qemu+tls://hv.example.com/system?pkipath=/etc/pki',
    'qemu+unix:///system?socket=/run/libvirt/libvirt-sock',
    'qemu+ext:///system?command=/opt/bin/connect&name=qemu:///system',
    'qemu+libssh2://root@10.0.0.2:22/system?known_hosts=/root/.ssh/known_hosts;sshauth=privkey,agent',
    'xen:///system',
    'lxc:///',
    'esx://esx1.example.com/?no_verify=1',
    'vpx://vcenter.example.com/dc1/srv1',
    'qemu+tcp://localhost:16509/system',
    'test:///tmp/a%20file.xml',
    'hail',
    'my-alias_2',
  ])('accepts %s', (uri) => {
    expect(checkLibvirtUri(uri)).toBeNull();
  });

  it.each([
    // [uri, index of the fault, fragment of the reason]
    ['', 0, 'empty'],
    ['qemu:///system;touch${IFS}PWNED;exit${IFS}0', 14, '";" is not allowed in the path'],
    ['qemu:///system$(reboot)', 14, '"$" is not allowed in the path'],
    ['qemu:///system`id`', 14, '"`" is not allowed in the path'],
    ['qemu:///system|nc', 14, '"|" is not allowed in the path'],
    ['qemu:///sys tem', 11, 'a space is not allowed in the path'],
    ['qemu:///sys\0tem', 11, 'a NUL character is not allowed in the path'],
    ['qemu:///system\n--help', 14, 'a line break'],
    ['qemu:///sys\u001b]0;x\u0007', 11, 'the control character U+001B'],
    ['qemu:///system?a="b"', 17, '"\\"" is not allowed in the query'],
    ["qemu:///system?a='b'", 17, `"'" is not allowed in the query`],
    ['qemu:///system?a=b\\c', 18, '"\\\\" is not allowed in the query'],
    ['qemu:///system?a={b}', 17, '"{" is not allowed in the query'],
    ['qemu:///system?a=<b>', 17, '"<" is not allowed in the query'],
    ['qemu:///system?a=(b)', 17, '"(" is not allowed in the query'],
    ['qemu:///system#frag', 14, 'fragment'],
    ['qemu:///system?x=%0a', 17, 'control character'],
    ['qemu:///system?x=%zz', 17, 'two hex digits'],
    ['qemu:///systém', 12, '"é" is not allowed in the path'],
    ['qemu+bogus:///system', 5, '"bogus" is not a libvirt transport'],
    ['qe;mu:///system', 2, 'driver name'],
    ['qemu+ssh://ro;ot@hv2/system', 13, '";" is not allowed in the user name'],
    ['qemu+ssh://@hv2/system', 11, 'user name before "@" is empty'],
    ['qemu+ssh://hv$2/system', 13, '"$" is not allowed in the host name'],
    ['qemu+ssh://hv2:99999/system', 15, 'port'],
    ['qemu+ssh://hv2:/system', 15, 'port'],
    ['qemu+ssh://[fe80::1/system', 11, 'no closing "]"'],
    ['qemu+ssh://[fe80::1%eth0]/system', 12, 'not an IPv6 address'],
    ['qemu+ssh://[fe80::1]x/system', 20, 'cannot follow the host'],
    ['--help', 0, 'option'],
    ['my alias', 2, 'alias'],
    ['qemu:system', 4, 'alias'],
  ])('refuses %j at %i', (uri, index, reason) => {
    const fault = checkLibvirtUri(uri);
    expect(fault?.index).toBe(index);
    if (reason) expect(fault?.reason).toContain(reason);
  });
});
