/**
 * What to tell an operator when a device does not come back to its host driver (SPEC 13): the reattach timed out,
 * or it left the device unbound (or still on vfio-pci). The usual causes are a device that does not reset cleanly
 * once a guest used it (some AMD GPUs, some NICs), and a host driver that is not loaded or is blacklisted. Pure text;
 * apply/ attaches it to the failed step, render/ prints it.
 */
import { nodedevName, pciFunction } from '../model/pci-address.js';

/** The remedies for `address`, most gentle first; `driver` is the host driver expected back, when known. */
export function comebackRemedies(address: string, driver: string | null): string[] {
  const name = nodedevName(pciFunction(address));
  const sys = `/sys/bus/pci/devices/${address}`;
  const module = driver ?? 'its host driver';
  return [
    `reset it and reattach: \`virsh nodedev-reset ${name} && virsh nodedev-reattach ${name}\``,
    // Without the driver's name, modprobe finds it from the device's modalias, as udev does at boot.
    `if ${module} is not loaded or is blacklisted (\`lsmod\`, /etc/modprobe.d): load it (\`modprobe ${driver ?? `"$(cat ${sys}/modalias)"`}\`), then \`virsh nodedev-reattach ${name}\``,
    `remove it and rescan the bus (as root): \`echo 1 > ${sys}/remove; echo 1 > /sys/bus/pci/rescan\``,
    `some AMD GPUs (Polaris, Vega, Navi 10) only reset with the vendor-reset module (https://github.com/gnif/vendor-reset; \`echo device_specific > ${sys}/reset_method\`)`,
    'if none of these works, the device comes back at the next host reboot',
  ];
}
