#!/usr/bin/env node
// V8 settings first, before the rest of the CLI is even read (a static import would be loaded
// and compiled together with runtime-flags.js, before it runs).
import '../dist/src/cli/runtime-flags.js';

const { main } = await import('../dist/src/cli/main.js');
let settled = false;
// The event loop ran dry while the command had not finished (a stream that never ended): that is
// a failure, never exit 0.
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('ocipush: internal error: the command stopped before it finished (an operation never completed)\n');
  process.exitCode = 70;
});
main(process.argv.slice(2)).then(
  (code) => { settled = true; process.exitCode = code; },
  (err) => { settled = true; process.stderr.write(`ocipush: ${err?.message ?? err}\n`); process.exitCode = 1; },
);
