#!/usr/bin/env node
// Thin launcher: `npm ci` (the `prepare` script) compiles src/ to dist/ and bundles the CLI (scripts/bundle-cli.js).
import { main } from '../dist/bundle/passthru.js';

process.exitCode = await main(process.argv.slice(2));
