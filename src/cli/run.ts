/**
 * The executable entry: runs the CLI on this process's argv and streams. It is what scripts/bundle-cli.js bundles
 * into dist/bundle/passthru.js (which bin/passthru.js loads), so the bundle also runs by itself: `node passthru.js`.
 */
// First: it tunes the heap before the modules below allocate (heap-flags.ts says why).
import './heap-flags.js';
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
