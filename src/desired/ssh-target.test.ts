import { describe, expect, it } from 'vitest';
import { sshArgv } from '../io/ssh.js';
import { sshTargetOf } from './ssh-target.js';

describe('sshTargetOf', () => {
  it("takes the URI's user, host, port and keyfile", () => {
    expect(sshTargetOf('qemu+ssh://root@hv2:2222/system?keyfile=/root/.ssh/id_ed25519&no_verify=1')).toEqual({
      ok: true,
      target: { host: 'hv2', user: 'root', port: 2222, keyfile: '/root/.ssh/id_ed25519' },
    });
    expect(sshTargetOf('qemu+ssh://hv2/system')).toEqual({ ok: true, target: { host: 'hv2', user: null, port: null, keyfile: null } });
    expect(sshTargetOf('qemu+libssh2://ops%2Ba@[fe80::1%25eth0]/system')).toEqual({ ok: true, target: { host: 'fe80::1%eth0', user: 'ops+a', port: null, keyfile: null } });
  });

  it('is no target for tls, tcp, unix, ext, a local URI or an alias', () => {
    for (const uri of ['qemu+tls://hv2/system', 'qemu+tcp://hv2/system', 'qemu://hv2/system', 'qemu+ext://hv2/system', 'qemu:///system', 'qemu+ssh:///system', 'hv2']) {
      expect(sshTargetOf(uri)).toMatchObject({ ok: false, kind: 'not-ssh' });
    }
  });

  it('refuses what ssh would read as an option, or a URI libvirt would not take', () => {
    expect(sshTargetOf('qemu+ssh://-oProxyCommand/system')).toEqual({ ok: false, kind: 'refused', reason: 'its host starts with "-", which ssh would read as an option' });
    expect(sshTargetOf('qemu+ssh://-x@hv2/system')).toMatchObject({ ok: false, kind: 'refused', reason: 'its user starts with "-", which ssh would read as an option' });
    expect(sshTargetOf('qemu+ssh://hv2/system?keyfile=-oProxyCommand%3Dx')).toMatchObject({ ok: false, kind: 'refused', reason: 'its keyfile starts with "-", which ssh would read as an option' });
    expect(sshTargetOf('qemu+ssh://h%20v2/system')).toMatchObject({ ok: false, kind: 'refused', reason: 'its host holds whitespace or a control character' });
    expect(sshTargetOf('qemu+ssh://hv2;x/system')).toMatchObject({ ok: false, kind: 'refused' });
  });

  it('becomes an argv with BatchMode, a connect timeout, "--" before the host and the script on stdin', () => {
    const r = sshTargetOf('qemu+ssh://root@hv2:2222/system?keyfile=/k');
    if (!r.ok) throw new Error(r.reason);
    expect(sshArgv(r.target, 10)).toEqual(['-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-l', 'root', '-p', '2222', '-i', '/k', '--', 'hv2', 'sh -s']);
  });
});
