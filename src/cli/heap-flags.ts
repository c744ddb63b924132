/**
 * Tunes V8's heap for a short command, before anything else is loaded (run.ts imports this first).
 *
 * WHY: what a `passthru plan` keeps alive is small (~12 MB on 2,048 functions and 512 domains, by a sampling heap
 * profile), but its peak RSS was ~150 MB: node's own ~40 MB, plus a young generation grown to its 16 MiB semi-spaces
 * and an old space of promoted garbage that no full GC of so short a process ever collects. `--optimize-for-size`
 * keeps both small (measured: 151 → 110 MB of peak RSS, the same CPU time within noise, issue 12). V8 reads this
 * flag while it runs, so it takes effect here, after start-up, without a flag on node's command line (the bundle is
 * also run as `node passthru.js`).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--optimize-for-size');
