/**
 * What the CLI says about its own package: the version (`--version`) and the npm name (the `$schema` path that
 * `import` writes). Read from package.json two levels up (from src/cli and dist/cli); the bundle inlines the file
 * (scripts/bundle-cli.js), so dist/bundle/passthru.js needs nothing beside it.
 */
import { readFileSync } from 'node:fs';

/** The fields of package.json the CLI reports. */
export interface PackageInfo {
  name: string;
  version: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  cached ??= JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageInfo;
  return cached;
}
