/**
 * Real git repositories for agent tests: a bare "origin" (what the agent fetches from, as a `file://` URL) and a
 * work clone the test commits and pushes from, in a temp dir, with git's configuration isolated from the machine's
 * (its own HOME and global config, no system config), so that nothing of the user running the tests leaks in.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/** A throw-away origin repository and a clone to push from. */
export interface TestRepo {
  dir: string;
  /** The bare origin, as the agent's URL: `file:///tmp/.../origin.git`. */
  url: string;
  /** Environment that makes git use this repo's isolated configuration (pass it to the agent's git too). */
  env: NodeJS.ProcessEnv;
  /** Writes files in the clone, commits them (signed with `signWith`, a private ssh key), pushes; returns the commit id. */
  commit(files: Record<string, string | null>, o?: { branch?: string; signWith?: string; message?: string }): Promise<string>;
  /** Runs git in the clone. */
  git(args: string[]): Promise<string>;
  /** A new ssh signing key; `trusted` keys are listed in gpg.ssh.allowedSignersFile. Returns the private key's path. */
  sshKey(name: string, trusted: boolean): Promise<string>;
  remove(): Promise<void>;
}

const EMAIL = 'agent-test@example.invalid';

/** Creates the origin (branch `main`) and its clone. */
export async function createTestRepo(): Promise<TestRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'passthru-git-'));
  const home = path.join(dir, 'home');
  await mkdir(home);
  const globalConfig = path.join(home, '.gitconfig');
  const allowedSigners = path.join(home, 'allowed_signers');
  await writeFile(allowedSigners, '');
  await writeFile(
    globalConfig,
    `[user]\n\tname = Agent Test\n\temail = ${EMAIL}\n[init]\n\tdefaultBranch = main\n[gpg]\n\tformat = ssh\n[gpg "ssh"]\n\tallowedSignersFile = ${allowedSigners}\n`,
  );
  const env = { HOME: home, GIT_CONFIG_GLOBAL: globalConfig, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
  const origin = path.join(dir, 'origin.git');
  const work = path.join(dir, 'work');
  const run = async (args: string[], cwd = dir) => (await execa('git', args, { cwd, env, stdin: 'ignore' })).stdout;
  await run(['init', '--bare', '--quiet', origin]);
  await run(['clone', '--quiet', origin, work]);
  const trusted: string[] = [];
  return {
    dir,
    url: `file://${origin}`,
    env,
    git: (args) => run(args, work),
    async commit(files, o = {}) {
      const branch = o.branch ?? 'main';
      const current = await run(['branch', '--show-current'], work).catch(() => '');
      if (current !== branch) await run(['checkout', '--quiet', '-B', branch], work);
      for (const [file, text] of Object.entries(files)) {
        const full = path.join(work, file);
        if (text === null) await rm(full, { force: true });
        else {
          await mkdir(path.dirname(full), { recursive: true });
          await writeFile(full, text);
        }
      }
      await run(['add', '--all'], work);
      const sign = o.signWith ? ['-c', `user.signingkey=${o.signWith}`, 'commit', '-S'] : ['commit'];
      await run([...sign, '--quiet', '--allow-empty', '-m', o.message ?? 'change'], work);
      await run(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], work);
      return (await run(['rev-parse', 'HEAD'], work)).trim();
    },
    async sshKey(name, isTrusted) {
      const key = path.join(home, name);
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
      if (isTrusted) {
        const pub = (await execa('cat', [`${key}.pub`])).stdout.trim();
        trusted.push(`${EMAIL} namespaces="git" ${pub}`);
        await writeFile(allowedSigners, `${trusted.join('\n')}\n`);
      }
      return key;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
