// Bundles the CLI (dist/cli/run.js: main() on this process's argv) and its dependencies into one file,
// dist/bundle/passthru.js, which bin/passthru.js loads and which also runs by itself (`node passthru.js plan`).
// Why one file: node resolves ~300 modules for the unbundled CLI (~2,600 stat/open calls), which is a third of a
// second on a normal host and seconds on a slow one (the lab's TCG hypervisor reads them over 9p).
//
// Standalone: the modules read package files at run time as `readFileSync(new URL('../../FILE', import.meta.url),
// 'utf8')` (package.json for --version, schemas/*.json). In the bundle each such read becomes a lookup in the
// package's files, inlined here at build time, so the bundle needs nothing beside it; the build fails if any read
// of a file beside the bundle is left.
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import { build } from 'rolldown';

const root = new URL('../', import.meta.url);
// `node scripts/bundle-cli.js [INPUT OUTPUT]`: test/bundle.test.ts bundles src/cli/run.ts itself, into a temp dir.
const [input = new URL('dist/cli/run.js', root).pathname, output = new URL('dist/bundle/passthru.js', root).pathname] =
  process.argv.slice(2);

/** What the modules may read, by path relative to the package root. */
const packageFiles = Object.fromEntries(
  ['package.json', ...readdirSync(new URL('schemas/', root)).map((f) => `schemas/${f}`)].map((f) => [
    f,
    readFileSync(new URL(f, root), 'utf8'),
  ]),
);

/** `readFileSync(new URL(<'../../...' or `../../${x}`>, import.meta.url), 'utf8')`, as tsc emits it. */
const PACKAGE_READ = /readFileSync\(\s*new URL\(\s*([`'"])\.\.\/\.\.\/([^`'"]*)\1\s*,\s*import\.meta\.url\s*\)\s*,\s*(['"])utf8\3\s*\)/g;
const FILES_MODULE = '\0passthru-package-files';

/** @type {import('rolldown').Plugin} */
const inlinePackageFiles = {
  name: 'inline-package-files',
  resolveId: (id) => (id === FILES_MODULE ? id : null),
  load: (id) =>
    id === FILES_MODULE
      ? `const files = ${JSON.stringify(packageFiles)};\n` +
        'export function packageFile(path) {\n' +
        '  if (!Object.hasOwn(files, path)) throw new Error(`passthru bundle: no package file ${path}`);\n' +
        '  return files[path];\n' +
        '}\n'
      : null,
  transform(code) {
    if (!PACKAGE_READ.test(code)) return null;
    const replaced = code.replace(PACKAGE_READ, (_all, _quote, rest) => `packageFile(\`${rest}\`)`);
    return `import { packageFile } from ${JSON.stringify(FILES_MODULE)};\n${replaced}`;
  },
};

await build({
  input,
  platform: 'node',
  logLevel: 'warn',
  // From src/: `./x.js` imports name `./x.ts` files (no dist/ file ends in .ts; its .d.ts are never imported).
  resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
  plugins: [inlinePackageFiles],
  // One file still (it runs copied alone): each command's dynamic import becomes a module evaluated when it runs,
  // so that `--version` or `validate` do not run the set-up of virsh's, apply's or the agent's code.
  output: { file: output, format: 'esm', banner: '#!/usr/bin/env node', codeSplitting: false },
});

const left = /new URL\([^)]*import\.meta\.url\s*\)/.exec(readFileSync(output, 'utf8'));
if (left) throw new Error(`bundle-cli: ${output} still reads a file beside itself: ${left[0]}`);
chmodSync(output, 0o755);
