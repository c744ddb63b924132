import { describe, expect, it } from 'vitest';
import { InternalError } from '../errors.js';
import { desiredForHost } from './slice.js';
import { loadDesiredState } from './load.js';

const state = loadDesiredState(
  [
    'version: 1',
    'hosts:',
    '  hv1: { uri: "qemu:///system" }',
    '  hv2: { uri: "qemu+ssh://root@hv2/system" }',
    'vms:',
    '  a: { host: hv2, devices: [] }',
    '  b: { host: hv1, devices: [] }',
    '  c: { host: hv2, devices: [] }',
    'release: [{ host: hv1, address: "07:00.1" }]',
    'protect: [{ host: hv2, address: "00:1f.6" }]',
    '',
  ].join('\n'),
  'p.yaml',
);

describe('desiredForHost', () => {
  it("keeps one host's entries, in file order", () => {
    const slice = desiredForHost(state, 'hv2');
    expect(slice.host).toEqual({ name: 'hv2', uri: 'qemu+ssh://root@hv2/system', local: false });
    expect(slice.vms.map((vm) => vm.name)).toEqual(['a', 'c']);
    expect(slice.release).toEqual([]);
    expect(slice.protect.map((p) => p.address)).toEqual(['0000:00:1f.6']);
  });

  it('refuses a host the state does not have: that is a caller bug', () => {
    expect(() => desiredForHost(state, 'hv3')).toThrow(InternalError);
  });
});
