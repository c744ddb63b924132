import { describe, expect, it } from 'vitest';
import { createVirsh } from '../io/execa-virsh.js';
import { findRealVirsh } from '../../test/helpers/virsh-shim.js';
import { libvirtCheck, probeLibvirt, type LibvirtProbe } from './libvirt.js';

const probe = (over: Partial<LibvirtProbe>): LibvirtProbe => ({
  host: 'local',
  uri: 'qemu:///system',
  hypervisor: null,
  error: null,
  virshMissing: false,
  ...over,
});

describe('libvirtCheck', () => {
  it('passes when libvirt answered, naming the hypervisor', () => {
    expect(libvirtCheck(probe({ hypervisor: 'QEMU 7.2.0' }))).toEqual({
      id: 'libvirt',
      host: 'local',
      title: 'libvirt at qemu:///system',
      status: 'pass',
      detail: 'libvirt answers (hypervisor: QEMU 7.2.0)',
    });
  });

  it.each([
    ["Failed to connect socket to '/var/run/libvirt/virtqemud-sock': No such file or directory", 'qemu:///system', 'libvirt is not running here: start libvirt: `systemctl enable --now libvirtd`'],
    ["Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied", 'qemu:///system', 'add this user to the libvirt group (`usermod -aG libvirt $USER`'],
    ["authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'", 'qemu:///system', 'run passthru as root (`sudo`)'],
    ['Cannot recv data: Host key verification failed.: Connection reset by peer', 'qemu+ssh://root@hv2/system', 'check that `ssh USER@HOST true` works without any prompt'],
    ["Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory", 'qemu+tls://hv2/system', 'libvirt does not answer on that host'],
    ['internal error: something else', 'qemu:///system', 'check the URI (-c, or hosts.local.uri in the file)'],
  ])('fails on %j with the remedy for it', (error, uri, remedy) => {
    const c = libvirtCheck(probe({ uri, error }));
    expect(c.status).toBe('fail');
    expect(c.detail).toBe(`libvirt does not answer: ${error}`);
    expect(c.remedy).toContain(remedy);
  });

  it('says to install virsh when it could not run', () => {
    expect(libvirtCheck(probe({ error: 'cannot run virsh: "virsh" was not found', virshMissing: true })).remedy).toContain('install libvirt-clients');
  });
});

const virsh = findRealVirsh();
describe.skipIf(!virsh)('probeLibvirt through real virsh', () => {
  it('asks libvirt for its version', async () => {
    expect(await probeLibvirt(createVirsh({ binary: virsh! }), 'local', 'test:///default')).toEqual(probe({ uri: 'test:///default', hypervisor: 'TEST 0.0.2' }));
  });

  it('reports a daemon that is not there as virsh said it, in one line', async () => {
    const uri = 'qemu:///system?socket=/nonexistent/libvirt-sock';
    const p = await probeLibvirt(createVirsh({ binary: virsh! }), 'local', uri);
    expect(p).toEqual(probe({ uri, error: "Failed to connect socket to '/nonexistent/libvirt-sock': No such file or directory" }));
    expect(libvirtCheck(p).remedy).toContain('libvirt is not running here');
  });

  it('reports a virsh that cannot run', async () => {
    const p = await probeLibvirt(createVirsh({ binary: '/nonexistent/virsh' }), 'local', 'qemu:///system');
    expect(p).toMatchObject({ virshMissing: true, error: 'cannot run virsh: "/nonexistent/virsh" was not found' });
  });
});
