#!/usr/bin/env node
// Thin launcher: `npm ci` (the `prepare` script) compiles src/ to dist/ and bundles the CLI into one file that runs
// it on this process's argv (scripts/bundle-cli.js).
import '../dist/bundle/passthru.js';
