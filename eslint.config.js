import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The import direction (README "Layout"): the pure stages — model, libvirt, desired, plan, render, the agent's
 * decision and its loop (which reaches the world only through agent/ports.ts) — touch no host: no file system, no
 * process, no network, no impure folder. observe/ and apply/ are the shells around them, io/ the doors to the host,
 * cli/ the top that nothing else imports. Tests (`*.test.ts`) are exempt: they are shells too, building fake hosts.
 * No import cycles: test/architecture.test.ts.
 */

/** Node modules that reach the host (files, processes, sockets, the machine's identity, timers) and execa. */
const HOST_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'os', 'readline', 'timers', 'timers/promises', 'http', 'https', 'dgram', 'worker_threads']
  .flatMap((m) => [m, `node:${m}`])
  .concat('execa');

const hostModules = (where) =>
  HOST_MODULES.map((name) => ({ name, message: `${where} touch no host: do the I/O in io/ (or the observe/apply shells) and pass plain data in.` }))
    // Hashing is pure; randomness is not (an input, like the clock).
    .concat({ name: 'node:crypto', importNames: ['randomBytes', 'randomUUID', 'randomInt'], message: `${where} take randomness as an input.` });

/** A `no-restricted-imports` pattern refusing relative imports of the named src/ folders. */
const folders = (names, message) => ({ regex: `(^|/)(${names.join('|')})/`, message });

const PURE = ['src/model/**/*.ts', 'src/libvirt/**/*.ts', 'src/desired/**/*.ts', 'src/plan/**/*.ts', 'src/render/**/*.ts', 'src/agent/**/*.ts', 'src/errors.ts'];

const layer = (files, paths, patterns) => ({
  files,
  ignores: ['**/*.test.ts'],
  rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test/lab/cache/', 'test/lab/work/', 'test/.bundle-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  layer(PURE, hostModules('The pure stages'), [
    folders(['io', 'observe', 'apply', 'doctor', 'cli'], 'The pure stages import only model/, libvirt/, desired/, plan/, render/, agent/ and errors.ts.'),
  ]),
  layer(['src/index.ts'], hostModules('The library entry exports only what does not'), [
    folders(['io', 'observe', 'apply', 'cli'], 'The library entry exports pure functions only (SPEC 7).'),
  ]),
  layer(['src/observe/**/*.ts'], [], [folders(['apply', 'doctor', 'cli'], 'observe/ reads the host: it may import io/ and the pure stages only.')]),
  layer(['src/apply/**/*.ts'], [], [folders(['doctor', 'cli'], 'apply/ may import io/, observe/ and the pure stages, never the CLI.')]),
  layer(['src/io/**/*.ts'], [], [folders(['observe', 'apply', 'doctor', 'cli'], 'io/ is the bottom shell: the stages import it, not the other way round.')]),
  layer(['src/doctor/**/*.ts'], [], [folders(['apply', 'cli'], 'doctor/ reads the host through observe/ and io/; nothing but cli/ imports cli/.')]),
);
