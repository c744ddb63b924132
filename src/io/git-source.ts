/**
 * The git source of the agent (SPEC 9): `git+URL#REF:PATH` fetched with the system git into a cache repository in
 * the state dir (`STATE_DIR/source/`, bare: nothing is ever checked out), the desired state being the file PATH of
 * the fetched commit, and the commit id its revision.
 *
 * Every fetch is shallow (`--depth 1`) and forced into one local ref, so a force-pushed (rewritten) branch is
 * followed like any other move and the cache holds about one commit. What goes wrong is a status, never a crash:
 * the remote not answering is `unreachable` (retried with backoff); the remote answering that REF is not there,
 * PATH missing from the commit, or a signature `git verify-commit` refuses are `invalid` — the repository's own
 * answer, which retrying does not change.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { DesiredSource, SourceFetch } from '../agent/ports.js';
import { PassthruError } from '../errors.js';
import type { SourceSpec } from '../agent/source-spec.js';
import type { AgentProblemCode, StatusProblem } from '../agent/status.js';
import type { Git, GitResult } from './git.js';

/** The local ref each fetch (forced) updates. */
const FETCHED_REF = 'refs/passthru/source';

/** How the git source works. */
export interface GitSourceOptions {
  git: Git;
  spec: Extract<SourceSpec, { kind: 'git' }>;
  /** The cache repository (`STATE_DIR/source`); created on first use. */
  cacheDir: string;
  /** Only commits `git verify-commit` accepts (trust comes from git's own gpg / gpg.ssh.allowedSignersFile config). */
  verifySignatures: boolean;
}

function problem(code: AgentProblemCode, message: string, hint?: string): StatusProblem {
  return { severity: 'block', code, message, ...(hint ? { hint } : {}) };
}

/** git's own words: its `fatal:`/`error:` lines, or what it printed, on one line. */
export function gitMessage(r: GitResult): string {
  if (r.timedOut) return 'timed out';
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const errors = lines.filter((l) => /^(fatal|error):/.test(l));
  return (errors.length > 0 ? errors : lines).join(' ') || `git exited with ${r.exitCode}`;
}

/**
 * What a failed `git fetch` means. Only git's "couldn't find remote ref" is the remote's answer that the ref does
 * not exist; anything else (DNS, connection refused, ssh auth, a path that is not a repository — perhaps a mount not
 * there yet) is treated as not reachable, and retried.
 */
export function classifyFetchFailure(r: GitResult, spec: GitSourceOptions['spec']): SourceFetch {
  const message = gitMessage(r);
  if (/couldn't find remote ref/i.test(r.stderr)) {
    return { kind: 'invalid', revision: null, problems: [problem('ref-not-found', `${spec.url} has no ref "${spec.ref}": ${message}`, 'push the branch or tag, or fix #REF in --source')] };
  }
  return {
    kind: 'unreachable',
    problems: [problem('source-unreachable', `git fetch ${spec.url} ${spec.ref} failed: ${message}`, 'check the URL, the network and the credentials (ssh key, known_hosts) of the user the agent runs as')],
  };
}

/** The git source. */
export function gitSource(o: GitSourceOptions): DesiredSource {
  const { git, spec, cacheDir } = o;
  const inCache = (args: string[], timeoutMs?: number) => git.run(['-C', cacheDir, ...args], timeoutMs === undefined ? {} : { timeoutMs });
  let prepared = false;

  /** Creates the cache repository once, and points its `origin` at the URL (which may have changed since last run). */
  async function prepare(): Promise<void> {
    if (prepared) return;
    const exists = await access(path.join(cacheDir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!exists) await must(git.run(['init', '--bare', '--quiet', cacheDir]), `git init ${cacheDir}`);
    await must(inCache(['config', 'remote.origin.url', spec.url]), 'git config remote.origin.url');
    prepared = true;
  }

  return {
    async fetch() {
      await prepare();
      const fetched = await inCache(['fetch', '--depth', '1', '--no-tags', '--quiet', 'origin', `+${spec.ref}:${FETCHED_REF}`]);
      if (fetched.exitCode !== 0) return classifyFetchFailure(fetched, spec);
      const commit = (await must(inCache(['rev-parse', '--verify', '--quiet', `${FETCHED_REF}^{commit}`]), 'git rev-parse')).stdout.trim();
      if (o.verifySignatures) {
        const verified = await inCache(['verify-commit', commit]);
        if (verified.exitCode !== 0) {
          return {
            kind: 'invalid',
            revision: commit,
            problems: [
              problem('signature-rejected', `commit ${commit} of ${spec.ref} is not signed by a trusted key: ${gitMessage(verified)}`, 'sign the commit with a key the agent trusts (gpg keyring, or gpg.ssh.allowedSignersFile in the git config of the agent\'s user)'),
            ],
          };
        }
      }
      const blob = await inCache(['cat-file', 'blob', `${commit}:${spec.path}`]);
      if (blob.exitCode !== 0) {
        return {
          kind: 'invalid',
          revision: commit,
          problems: [problem('path-not-in-commit', `commit ${commit} of ${spec.ref} has no file "${spec.path}": ${gitMessage(blob)}`, 'commit the file, or fix :PATH in --source')],
        };
      }
      return { kind: 'content', revision: commit, text: blob.stdout, file: spec.path };
    },
  };
}

/**
 * A git command on the cache, which is ours and must work: its failure (a full disk, a state dir made read-only) is
 * thrown, and the loop records it as the source being unreachable until it works again.
 */
async function must(pending: Promise<GitResult>, what: string): Promise<GitResult> {
  const r = await pending;
  if (r.exitCode !== 0) throw new PassthruError(`${what} failed: ${gitMessage(r)}`, { hint: 'check that --state-dir is writable and has space' });
  return r;
}
