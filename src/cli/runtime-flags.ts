import { allowFullCollections, setProcessFlags } from '../runtime-flags.js';

/**
 * V8 settings for the CLI process, applied when this module is evaluated: bin/ocipush.js imports
 * it first, before yargs and the rest load. A program using ocipush as a library keeps its own.
 */

// Any V8 flag set at run time changes V8's flag hash, and a code cache made under another hash is
// refused: Node's own, made for its built-in modules, among them. Each built-in module loaded after
// the flags below is compiled from its source (crypto 5.5 against 2.5 ms of CPU on Node 24, http
// 3.0 against 0.8, fs/promises 2.8 against 0.9; Node 20 alike). Those nearly every command loads
// (the registry transport's, the layer writer's) are loaded first, while Node's cache still fits.
for (const name of ['crypto', 'os', 'fs/promises', 'net', 'assert', 'http', 'zlib', 'worker_threads', 'child_process']) process.getBuiltinModule(`node:${name}`);

// undici parses HTTP in WebAssembly. After a few responses V8 recompiles the parser with TurboFan
// on a background thread: 140 ms and 40 MB for a function a short-lived CLI barely uses, and the
// process waits for it before it can exit (a third of a warm re-push, and most of push's memory
// beyond Node's own). The baseline compiler's code parses a response header in microseconds, and
// a 200 MiB pull took less CPU with it (0.8 s against 1.2 s). Set at run time, `--liftoff-only`
// alone no longer stops the tier-up on Node 24 (its implications are drawn only when V8 starts):
// the two flags it implies are named too. A re-push that also carries an SBOM (three requests)
// took 229 ms with the flag alone and 173 ms with all three, a cold push of the small image 288
// against 239 ms (Node 24, medians); Node 20 is the same either way.
setProcessFlags('--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering');

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
