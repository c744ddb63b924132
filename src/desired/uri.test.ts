import { describe, expect, it } from 'vitest';
import { isLocalUri, remoteHostOf } from './uri.js';

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
    ['myalias', false],
  ])('%s → %s', (uri, local) => {
    expect(isLocalUri(uri)).toBe(local);
  });
});

describe('remoteHostOf', () => {
  it('names the host part, without user or port', () => {
    expect(remoteHostOf('qemu+ssh://root@hv2.example.com:2222/system?keyfile=/k')).toBe('hv2.example.com');
    expect(remoteHostOf('qemu:///system')).toBe('');
    expect(remoteHostOf('myalias')).toBeNull();
  });
});
