#!/usr/bin/env node
// V8 settings first, before the rest of the CLI is even read (a static import would be loaded
// and compiled together with runtime-flags.js, before it runs).
import '../dist/src/cli/runtime-flags.js';

const { main } = await import('../dist/src/cli/main.js');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`ocipush: ${err?.message ?? err}\n`); process.exitCode = 1; },
);
