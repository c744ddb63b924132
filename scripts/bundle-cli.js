// Bundles the compiled CLI (dist/cli/main.js) and its dependencies into one file, dist/bundle/passthru.js, which
// bin/passthru.js loads. Why: node resolves ~300 modules for the unbundled CLI (~2,600 stat/open calls), which is
// a third of a second on a normal host and seconds on a slow one (the lab's TCG hypervisor reads them over 9p).
// The bundle sits two levels below the package root, like dist/cli/main.js, so the `../../schemas/...` and
// `../../package.json` URLs the modules build from import.meta.url still point at the package's files.
import { build } from 'rolldown';

await build({
  input: new URL('../dist/cli/main.js', import.meta.url).pathname,
  platform: 'node',
  logLevel: 'warn',
  output: { file: new URL('../dist/bundle/passthru.js', import.meta.url).pathname, format: 'esm' },
});
