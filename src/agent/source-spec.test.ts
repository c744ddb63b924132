import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { describeSource, parseSourceSpec } from './source-spec.js';

function errorOf(text: string): string {
  try {
    parseSourceSpec(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).message;
  }
  throw new Error(`"${text}" parsed`);
}

describe('parseSourceSpec', () => {
  it.each([
    ['./passthrough.yaml', { kind: 'file', path: './passthrough.yaml' }],
    ['/etc/passthru/hv1.yaml', { kind: 'file', path: '/etc/passthru/hv1.yaml' }],
    ['git+file:///srv/infra.git#main:hv1/passthrough.yaml', { kind: 'git', url: 'file:///srv/infra.git', ref: 'main', path: 'hv1/passthrough.yaml' }],
    ['git+ssh://git@host/infra.git#main:passthrough.yaml', { kind: 'git', url: 'ssh://git@host/infra.git', ref: 'main', path: 'passthrough.yaml' }],
    ['git+ssh://git@host:2222/infra.git#refs/heads/prod:a/b.yaml', { kind: 'git', url: 'ssh://git@host:2222/infra.git', ref: 'refs/heads/prod', path: 'a/b.yaml' }],
    ['git+git@host:infra.git#v1.2:x.yaml', { kind: 'git', url: 'git@host:infra.git', ref: 'v1.2', path: 'x.yaml' }],
    ['git+/srv/infra.git#main:x.yaml', { kind: 'git', url: '/srv/infra.git', ref: 'main', path: 'x.yaml' }],
    ['git+https://ci:tok@git.example/infra.git#main:x.yaml', { kind: 'git', url: 'https://ci:tok@git.example/infra.git', ref: 'main', path: 'x.yaml' }],
  ])('%s', (text, expected) => {
    expect(parseSourceSpec(text)).toEqual(expected);
  });

  it.each([
    ['', '--source:1:1: the source is empty'],
    ['git+file:///srv/infra.git', '--source:1:26: a git source needs "#REF:PATH" after the URL'],
    ['git+#main:x.yaml', '--source:1:5: the git URL is empty'],
    ['git+file:///srv/infra.git#main', '--source:1:31: a git source needs ":PATH" after the ref "main"'],
    ['git+file:///r#:x.yaml', '--source:1:15: the ref "" is empty'],
    ['git+file:///r#-upload-pack=x:x.yaml', '--source:1:15: the ref "-upload-pack=x" starts with "-"'],
    ['git+file:///r#ma..in:x.yaml', '--source:1:17: the ref "ma..in" contains ".."'],
    ['git+file:///r#main:', '--source:1:20: the path in the repository is empty'],
    ['git+file:///r#main:/etc/x.yaml', '--source:1:20: the path "/etc/x.yaml" is absolute'],
    ['git+file:///r#main:a/../x.yaml', '--source:1:22: the path "a/../x.yaml" has an empty, "." or ".." part'],
    ['git+--upload-pack=touch /tmp/x#main:x.yaml', '--source:1:5: the git URL "--upload-pack=touch /tmp/x" starts with "-"'],
    ['git+ext::sh -c touch% /tmp/x#main:x.yaml', '--source:1:12: the git URL contains white space'],
    ['git+ext::sh#main:x.yaml', '--source:1:5: unsupported git transport in "ext::sh"'],
    ['git+gopher://host/r#main:x.yaml', '--source:1:5: unsupported git transport "gopher://"'],
    ['git+relative/dir#main:x.yaml', '--source:1:5: "relative/dir" is not a git URL'],
  ])('refuses %j with a positioned error', (text, message) => {
    expect(errorOf(text)).toContain(message);
  });

  it('says how to write a git source', () => {
    expect(errorOf('git+file:///r')).toContain('hint: write git+URL#REF:PATH, e.g. git+file:///srv/infra.git#main:hv1/passthrough.yaml');
  });
});

describe('describeSource', () => {
  it('hides a password in the URL and keeps the rest', () => {
    expect(describeSource(parseSourceSpec('git+https://ci:s3cret@git.example/infra.git#main:x.yaml'))).toBe('git+https://ci:***@git.example/infra.git#main:x.yaml');
    expect(describeSource(parseSourceSpec('git+ssh://git@host/infra.git#main:x.yaml'))).toBe('git+ssh://git@host/infra.git#main:x.yaml');
    expect(describeSource(parseSourceSpec('/etc/passthru.yaml'))).toBe('/etc/passthru.yaml');
  });
});
