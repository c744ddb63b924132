/**
 * doctor's libvirt check: does libvirt answer at the URI that `plan` will use? Without it, "doctor, then plan"
 * passes the preflight and fails at the first plan. One `virsh -c URI version` per host; the judging is pure.
 */
import { PassthruError } from '../errors.js';
import { settleBounded } from '../io/bounded.js';
import type { Virsh } from '../io/virsh.js';
import { isLocalUri } from '../desired/uri.js';
import type { DesiredHost } from '../model/desired.js';
import type { DoctorCheck } from './checks.js';

/** What `virsh -c URI version` said for one host of the run. */
export interface LibvirtProbe {
  host: string;
  uri: string;
  /** `Running hypervisor: QEMU 7.2.0` → `QEMU 7.2.0`; null when it did not answer (or printed no such line). */
  hypervisor: string | null;
  /** Why it did not answer: virsh's error text, or why virsh could not run; null when it answered. */
  error: string | null;
  /** virsh itself could not be started (not installed, `--virsh` wrong). */
  virshMissing: boolean;
}

/** Long enough for an ssh handshake to a slow host; short enough that doctor never seems to hang. */
const PROBE_TIMEOUT_MS = 20_000;

/** Asks libvirt at `uri` for its version. Never throws for a host that does not answer: that is the finding. */
export async function probeLibvirt(virsh: Virsh, host: string, uri: string): Promise<LibvirtProbe> {
  const base = { host, uri, hypervisor: null, virshMissing: false };
  try {
    const r = await virsh.run(uri, ['version'], { timeoutMs: PROBE_TIMEOUT_MS });
    if (r.exitCode === 0) return { ...base, hypervisor: /^Running hypervisor:\s*(.+)$/m.exec(r.stdout)?.[1]?.trim() ?? null, error: null };
    // `error: failed to connect to the hypervisor` / `error: <why>`: one line, without the line that says nothing.
    const said = r.stderr
      .split('\n')
      .map((l) => l.replace(/^error: /, '').trim())
      .filter((l) => l !== '' && !/^failed to connect to the hypervisor$/i.test(l))
      .join(': ');
    return { ...base, error: r.timedOut ? `no answer within ${PROBE_TIMEOUT_MS / 1000} s` : said || `virsh exited with ${r.exitCode}` };
  } catch (e) {
    if (!(e instanceof PassthruError)) throw e;
    return { ...base, error: e.message, virshMissing: true };
  }
}

const START_LIBVIRT =
  'start libvirt: `systemctl enable --now libvirtd` (one daemon), or `systemctl enable --now virtqemud.socket` ' +
  '(the modular daemons of Fedora, RHEL 9, Debian 12+); check with `systemctl status libvirtd virtqemud`';

const MAY_CONNECT =
  'run passthru as root (`sudo`), or add this user to the libvirt group (`usermod -aG libvirt $USER`, then log in ' +
  'again); the socket\'s group and mode are unix_sock_group and unix_sock_rw_perms in /etc/libvirt/libvirtd.conf ' +
  '(virtqemud.conf for the modular daemons)';

const SSH_WORKS =
  'check that `ssh USER@HOST true` works without any prompt (the key loaded in ssh-agent or given as ?keyfile=, the ' +
  'host key in known_hosts), and that libvirt runs on that host (`systemctl status libvirtd virtqemud` there)';

/** The remedy for what virsh said (LC_ALL=C messages of libvirt 9). */
function remedy(p: LibvirtProbe): string {
  const e = p.error ?? '';
  if (p.virshMissing) {
    return 'install libvirt-clients (Debian/Ubuntu) or libvirt-client (RHEL/Fedora), or point --virsh / PASSTHRU_VIRSH at virsh';
  }
  if (/\bssh\b|Host key verification|publickey/i.test(e)) return SSH_WORKS;
  if (/Permission denied|authentication (unavailable|failed)|polkit|access denied/i.test(e)) {
    return isLocalUri(p.uri) ? MAY_CONNECT : `on that host: ${MAY_CONNECT}`;
  }
  if (/Failed to connect socket|No such file or directory|Connection refused/i.test(e)) {
    return isLocalUri(p.uri) ? `libvirt is not running here: ${START_LIBVIRT}` : `libvirt does not answer on that host: ${START_LIBVIRT}`;
  }
  return `check the URI (-c, or hosts.${p.host}.uri in the file); ${START_LIBVIRT}; ${MAY_CONNECT}`;
}

/** Judges one probe: pass when libvirt answered, else fail with the remedy for what went wrong. */
export function libvirtCheck(p: LibvirtProbe): DoctorCheck {
  const title = `libvirt at ${p.uri}`;
  if (p.error === null) {
    return { id: 'libvirt', host: p.host, title, status: 'pass', detail: `libvirt answers${p.hypervisor ? ` (hypervisor: ${p.hypervisor})` : ''}` };
  }
  return { id: 'libvirt', host: p.host, title, status: 'fail', detail: `libvirt does not answer: ${p.error}`, remedy: remedy(p) };
}

/**
 * The libvirt check of every host, at most `parallelism` probed at once (each is its own machine, and a fleet's
 * worth of ssh handshakes at once is what `--parallelism` exists to prevent). A probe only throws for a bug.
 */
export async function libvirtChecks(virsh: Virsh, hosts: readonly DesiredHost[], parallelism: number): Promise<DoctorCheck[]> {
  const settled = await settleBounded(hosts, parallelism, (h) => probeLibvirt(virsh, h.name, h.uri));
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return libvirtCheck(s.value);
  });
}
