/**
 * The agent's git source against REAL git repositories made here: commits are picked up, a force-push (rewritten
 * history) is followed, a branch that vanishes or a path not in the commit is an `invalid` source, an origin that
 * is not there is `unreachable`, and `--verify-signatures` takes only commits signed by a trusted ssh key.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { parseSourceSpec, type SourceSpec } from '../src/agent/source-spec.js';
import { createGit } from '../src/io/git.js';
import { gitSource } from '../src/io/git-source.js';
import { createTestRepo, type TestRepo } from './helpers/git-repo.js';

const YAML = 'version: 1\n';
const noSshKeygen = existsSync('/usr/bin/ssh-keygen') ? null : 'SKIPPED: signed commits need /usr/bin/ssh-keygen (apt-get install openssh-client)';
if (noSshKeygen) console.warn(`agent-git-source: ${noSshKeygen}`);
let repo: TestRepo;
beforeEach(async () => {
  repo = await createTestRepo();
});
afterEach(() => repo.remove());

function source(ref = 'main', file = 'hv1/passthrough.yaml', o: { verifySignatures?: boolean; url?: string; cache?: string } = {}) {
  const spec = parseSourceSpec(`git+${o.url ?? repo.url}#${ref}:${file}`) as Extract<SourceSpec, { kind: 'git' }>;
  return gitSource({ git: createGit({ env: repo.env }), spec, cacheDir: o.cache ?? path.join(repo.dir, 'state', 'source'), verifySignatures: o.verifySignatures ?? false });
}

describe('git source', () => {
  it('reads the file at the fetched commit; a new commit is picked up', async () => {
    const c1 = await repo.commit({ 'hv1/passthrough.yaml': YAML });
    const s = source();
    expect(await s.fetch()).toEqual({ kind: 'content', revision: c1, text: YAML, file: 'hv1/passthrough.yaml' });
    const c2 = await repo.commit({ 'hv1/passthrough.yaml': `${YAML}vms: {}\n` });
    expect(c2).not.toBe(c1);
    expect(await s.fetch()).toMatchObject({ kind: 'content', revision: c2, text: `${YAML}vms: {}\n` });
    // The cache is shallow: it holds the fetched commit, not the history behind it.
    const depth = await execa('git', ['-C', path.join(repo.dir, 'state', 'source'), 'rev-list', '--count', c2], { env: repo.env });
    expect(depth.stdout.trim()).toBe('1');
  });

  it('follows a force-push that rewrote the history', async () => {
    await repo.commit({ 'hv1/passthrough.yaml': YAML });
    const c2 = await repo.commit({ 'hv1/passthrough.yaml': `${YAML}# two\n` });
    const s = source();
    expect(await s.fetch()).toMatchObject({ revision: c2 });
    await repo.git(['reset', '--quiet', '--hard', 'HEAD~1']);
    const rewritten = await repo.commit({ 'hv1/passthrough.yaml': `${YAML}# rewritten\n` });
    expect(await repo.git(['merge-base', '--is-ancestor', c2, rewritten]).then(() => true, () => false)).toBe(false);
    expect(await s.fetch()).toMatchObject({ kind: 'content', revision: rewritten, text: `${YAML}# rewritten\n` });
  });

  it('a branch that vanishes is an invalid source (the remote answered), and it comes back when pushed again', async () => {
    await repo.commit({ 'hv1/passthrough.yaml': YAML });
    await repo.commit({ 'hv1/passthrough.yaml': YAML }, { branch: 'prod' });
    const s = source('prod');
    expect(await s.fetch()).toMatchObject({ kind: 'content' });
    await repo.git(['push', '--quiet', 'origin', '--delete', 'prod']);
    const gone = await s.fetch();
    expect(gone).toMatchObject({ kind: 'invalid', revision: null, problems: [{ severity: 'block', code: 'ref-not-found' }] });
    expect(gone.kind === 'invalid' && gone.problems[0]?.message).toContain(`${repo.url} has no ref "prod": fatal: couldn't find remote ref prod`);
    const back = await repo.commit({ 'hv1/passthrough.yaml': YAML }, { branch: 'prod' });
    expect(await s.fetch()).toMatchObject({ kind: 'content', revision: back });
  });

  it('a path not in the commit is an invalid source at that commit', async () => {
    const c1 = await repo.commit({ 'hv1/passthrough.yaml': YAML });
    const r = await source('main', 'hv2/passthrough.yaml').fetch();
    expect(r).toMatchObject({ kind: 'invalid', revision: c1, problems: [{ code: 'path-not-in-commit' }] });
    expect(r.kind === 'invalid' && r.problems[0]?.message).toContain(`commit ${c1} of main has no file "hv2/passthrough.yaml"`);
    // A directory is not a file either.
    expect(await source('main', 'hv1').fetch()).toMatchObject({ kind: 'invalid', problems: [{ code: 'path-not-in-commit' }] });
  });

  it('an origin that does not answer is unreachable', async () => {
    const r = await source('main', 'x.yaml', { url: `file://${repo.dir}/no-such.git` }).fetch();
    expect(r).toMatchObject({ kind: 'unreachable', problems: [{ code: 'source-unreachable' }] });
    expect(r.kind === 'unreachable' && r.problems[0]?.message).toMatch(/does not appear to be a git repository/);
  });

  it('a cache left by an earlier run (another URL) is reused and re-pointed', async () => {
    const cache = path.join(repo.dir, 'state', 'source');
    await source('main', 'x.yaml', { url: `file://${repo.dir}/old.git`, cache }).fetch();
    const c1 = await repo.commit({ 'hv1/passthrough.yaml': YAML });
    expect(await source('main', 'hv1/passthrough.yaml', { cache }).fetch()).toMatchObject({ kind: 'content', revision: c1 });
  });

  it.skipIf(noSshKeygen !== null)('--verify-signatures: an unsigned commit is invalid; one signed by a trusted ssh key is taken; another key is not', async () => {
    const trusted = await repo.sshKey('trusted', true);
    const stranger = await repo.sshKey('stranger', false);
    const unsigned = await repo.commit({ 'hv1/passthrough.yaml': YAML });
    const s = source('main', 'hv1/passthrough.yaml', { verifySignatures: true });
    const r = await s.fetch();
    expect(r).toMatchObject({ kind: 'invalid', revision: unsigned, problems: [{ code: 'signature-rejected' }] });
    expect(r.kind === 'invalid' && r.problems[0]?.message).toContain(`commit ${unsigned} of main is not signed by a trusted key`);
    const signed = await repo.commit({ 'hv1/passthrough.yaml': `${YAML}# signed\n` }, { signWith: trusted });
    expect(await s.fetch()).toMatchObject({ kind: 'content', revision: signed, text: `${YAML}# signed\n` });
    const foreign = await repo.commit({ 'hv1/passthrough.yaml': `${YAML}# foreign\n` }, { signWith: stranger });
    expect(await s.fetch()).toMatchObject({ kind: 'invalid', revision: foreign, problems: [{ code: 'signature-rejected' }] });
  });
});
