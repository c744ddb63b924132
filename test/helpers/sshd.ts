/**
 * A private OpenSSH server for tests (Debian's openssh-server): `sshd -D -e` on 127.0.0.1 and a free port, with a
 * temporary host key, one authorized client key, and a config of its own (no PAM, no StrictModes: the tests run as
 * root in temp directories; PidFile in the temp directory). Nothing of the machine's ssh setup is read or changed,
 * but for /run/sshd, the privilege-separation directory sshd insists on (created empty when missing).
 *
 * The fake root: sshd's `SetEnv PASSTHRU_REMOTE_ROOT=<tree>` gives every session that variable, which the host-use
 * script (src/observe/host-dump.ts) reads under — so "the remote host" is a fake tree, and this machine's own
 * devices are never what is read. passthru never sets the variable itself; in production the script reads `/`.
 *
 * The client side is a PATH shim `ssh` that logs one line per invocation (to count ssh processes, like
 * virsh-shim.ts) and execs the real ssh with `-F` a config naming the temporary known_hosts — what an operator's
 * ~/.ssh/known_hosts holds — and nothing else: passthru's own argv is passed through untouched.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SSHD = '/usr/sbin/sshd';

/** A running private sshd and its client shim. */
export interface PrivateSshd {
  port: number;
  /** The client's private key, for `?keyfile=`. */
  keyfile: string;
  /** The `ssh` shim (PASSTHRU_SSH, or first on PATH through `binDir`). */
  ssh: string;
  binDir: string;
  /** A `qemu+ssh://` URI reaching this sshd as root at `host` (127.0.0.1 or localhost). */
  uri(host?: string): string;
  /** ssh processes started through the shim so far. */
  count(): Promise<number>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Why the sshd tests cannot run here, or null. In CI a missing sshd is a failure, not a skip. */
export function sshdUnavailable(): string | null {
  try {
    accessSync(SSHD, constants.X_OK);
    return null;
  } catch {
    const why = `${SSHD} is missing (apt-get install openssh-server)`;
    if (process.env.CI) throw new Error(`${why}, and CI must run the ssh host-use tests`);
    return why;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts sshd serving `remoteRoot` as the remote host's tree. */
export async function startPrivateSshd(remoteRoot: string): Promise<PrivateSshd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passthru-sshd-'));
  const binDir = path.join(dir, 'bin');
  await Promise.all([mkdir(binDir), mkdir('/run/sshd', { recursive: true, mode: 0o755 })]);
  const key = (name: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(dir, name)]);
  key('host_key');
  key('client_key');
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(dir, 'client_key.pub')));
  const port = await freePort();
  // mkdtemp names hold no whitespace or quote, so the paths go into the configs as they are.
  await writeFile(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `SetEnv PASSTHRU_REMOTE_ROOT=${remoteRoot}`,
      '',
    ].join('\n'),
  );
  const hostKey = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n[localhost]:${port} ${hostKey}\n`);
  await writeFile(path.join(dir, 'ssh_config'), `UserKnownHostsFile ${dir}/known_hosts\nGlobalKnownHostsFile /dev/null\nStrictHostKeyChecking yes\n`);
  const log = path.join(dir, 'ssh-invocations.log');
  await writeFile(log, '');
  const shim = path.join(binDir, 'ssh');
  await writeFile(shim, `#!/bin/sh\necho "$$" >> '${log}'\nexec /usr/bin/ssh -F '${dir}/ssh_config' "$@"\n`);
  await chmod(shim, 0o755);

  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepting(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not start on port ${port}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    keyfile: path.join(dir, 'client_key'),
    ssh: shim,
    binDir,
    uri: (host = '127.0.0.1') => `qemu+ssh://root@${host}:${port}/system?keyfile=${dir}/client_key`,
    count: async () => (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '').length,
    reset: () => writeFile(log, ''),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
