import { describe, expect, it } from 'vitest';
import { byAddress, desired, device, domain, hostdev, snapshot, vm } from '../../test/helpers/builders.js';
import { planHost } from './plan-host.js';

const XORG = { pid: 1234, comm: 'Xorg', path: '/dev/dri/card1' };
const busy = (driver: string) => device('0000:07:00.0', { driver, class: '030000', holders: [XORG, { pid: 77, comm: 'lab-holder', path: '/sys/bus/pci/devices/0000:07:00.0/resource0' }] });
const codes = (problems: { severity: string; code: string }[]) => problems.map((p) => `${p.severity}:${p.code}`);

describe('device-busy (SPEC 13)', () => {
  it('blocks a detach from the host driver while processes hold the device, naming each PID and command', () => {
    const plan = planHost(desired([vm('win', [byAddress('0000:07:00.0')])]), snapshot([busy('amdgpu')], [domain('win')]));
    expect(codes(plan.problems)).toEqual(['block:device-busy']);
    expect(plan.problems[0]).toMatchObject({
      address: '0000:07:00.0',
      message:
        '0000:07:00.0 is held open by PID 1234 (Xorg) on /dev/dri/card1, PID 77 (lab-holder) on /sys/bus/pci/devices/0000:07:00.0/resource0: unbinding it from amdgpu now would hang or crash the driver',
      hint: 'stop PID 1234 (Xorg), PID 77 (lab-holder) or make them let go of the device (a display manager, nvidia-persistenced, a monitoring agent), then plan again',
    });
  });

  it('blocks a managed attach too: libvirt detaches the device when it starts the VM', () => {
    // The VM already has it in its config and is shut off: no nodedev-detach is planned, only the managed change.
    const win = domain('win', { hostdevs: [hostdev('0000:07:00.0', { managed: false })] });
    const plan = planHost(desired([vm('win', [byAddress('0000:07:00.0', { managed: true })])]), snapshot([busy('amdgpu')], [win]));
    expect(plan.actions.map((a) => a.kind)).toEqual(['detach-hostdev', 'attach-hostdev']);
    expect(codes(plan.problems)).toContain('block:device-busy');
  });

  it('does not block what the plan does not take from a host driver', () => {
    const onVfio = planHost(desired([vm('win', [byAddress('0000:07:00.0')])]), snapshot([busy('vfio-pci')], [domain('win')]));
    expect(codes(onVfio.problems)).not.toContain('block:device-busy');
    const untouched = planHost(desired([]), snapshot([busy('amdgpu')], []));
    expect(untouched.problems).toEqual([]);
  });

  it('says so when it cannot tell (a remote host, a tree without processes), and does not invent holders', () => {
    const remote = planHost(desired([vm('win', [byAddress('0000:07:00.0')])]), snapshot([device('0000:07:00.0')], [domain('win')], { deviceSource: 'nodedev' }));
    expect(remote.problems.filter((p) => p.code.startsWith('device-'))).toEqual([
      expect.objectContaining({ severity: 'warn', code: 'device-holders-unknown', message: expect.stringContaining('observed through libvirt, which shows no processes') }),
    ]);
    const captured = planHost(desired([vm('win', [byAddress('0000:07:00.0')])]), snapshot([device('0000:07:00.0')], [domain('win')], { holdersUnknown: '/t/proc holds no processes' }));
    expect(codes(captured.problems)).toEqual(['warn:device-holders-unknown']);
  });
});
