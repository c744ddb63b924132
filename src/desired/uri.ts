/**
 * What a libvirt URI says about where the host is. A local host is observed through /sys under `--root`; a remote
 * one only through libvirt's node devices (SPEC 5), so getting this wrong would read the wrong machine's devices.
 */

/**
 * True when the URI has no remote host part: `qemu:///system`, `qemu+unix:///system`, `test:///abs/node.xml`.
 * `qemu+ssh://root@hv2/system` and `qemu://hv2/system` are remote, and so is `qemu+tcp://localhost/system`: it
 * names a host, and SPEC 5 draws the line at the host part, not at what it resolves to. A URI that is not a URL (a
 * libvirt.conf alias) may point anywhere, so it counts as remote: devices are then read through libvirt, which is
 * right wherever the alias leads.
 */
export function isLocalUri(uri: string): boolean {
  return remoteHostOf(uri) === '';
}

/** The host part of a URI (`hv2` for `qemu+ssh://root@hv2:22/system`), `''` for a local one, null for no URL. */
export function remoteHostOf(uri: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(uri)) return null;
  try {
    return new URL(uri).hostname;
  } catch {
    return null;
  }
}
