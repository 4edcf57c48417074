import { allowFullCollections, setProcessFlags } from '../runtime-flags.js';

/**
 * V8 settings for the CLI process, applied when this module is evaluated: bin/ocipush.js imports
 * it first, before yargs and the rest load. A program using ocipush as a library keeps its own.
 */

// undici parses HTTP in WebAssembly. After a few responses V8 recompiles the parser with TurboFan
// on a background thread: 140 ms and 40 MB for a function a short-lived CLI barely uses, and the
// process waits for it before it can exit (a third of a warm re-push, and most of push's memory
// beyond Node's own). The baseline compiler's code parses a response header in microseconds, and
// a 200 MiB pull took less CPU with it (0.8 s against 1.2 s).
setProcessFlags('--liftoff-only');

// V8 grows the young generation up to 32 MB when a thread allocates fast, and a build allocates a
// little garbage per file (stat results, names, tar headers): on a 46,000-file tree that was 25 MB
// of peak RSS, growing with the file count, for no speed (build time measured the same). Keeping
// the young generation at its starting size bounds it; set before anything loads, since module
// loading alone would grow it. (A worker thread's start resets V8's flags: the compression pool
// sets these again, src/layer/compress/exec-argv.ts.)
setProcessFlags('--semi-space-growth-factor=1');

// With that small young generation, a `build -f` of a large context promotes most of its plan's
// garbage: one full collection once the plan is made (dockerfile-exec) gives back 35 MB of a
// 190 MB peak on the 500 MB bench tree (212 → 187 MB on Node 24), at no measurable time.
allowFullCollections();
