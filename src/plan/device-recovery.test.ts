import { describe, expect, it } from 'vitest';
import { comebackRemedies } from './device-recovery.js';

describe('comebackRemedies (SPEC 13)', () => {
  it('names the expected host driver when it is known', () => {
    const r = comebackRemedies('0000:01:00.0', 'e1000e');
    expect(r[0]).toContain('virsh nodedev-reset pci_0000_01_00_0 && virsh nodedev-reattach pci_0000_01_00_0');
    expect(r[1]).toContain('`modprobe e1000e`');
    expect(r[2]).toContain('echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove; echo 1 > /sys/bus/pci/rescan');
  });

  it('without the driver\'s name gives a modprobe that finds it from the device\'s modalias, never a placeholder', () => {
    const r = comebackRemedies('0000:01:00.0', null);
    expect(r[1]).toContain('`modprobe "$(cat /sys/bus/pci/devices/0000:01:00.0/modalias)"`');
    expect(r.join('\n')).not.toContain('<driver>');
  });
});
