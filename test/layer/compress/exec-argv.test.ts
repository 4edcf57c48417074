import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const moduleUrl = new URL('../../../src/layer/compress/index.js', import.meta.url).href;
const script = `
  import { createCompressor } from ${JSON.stringify(moduleUrl)};
  const c = createCompressor({ compression: 'gzip', threads: 2, blockSize: 65536 });
  const chunks = [];
  c.on('data', (d) => chunks.push(d));
  c.on('end', () => process.stdout.write(Buffer.concat(chunks).toString('base64')));
  c.end(Buffer.alloc(300000, 'ab'));`;

// Node flags a worker refuses must not stop the compressor: --input-type (node -e) is dropped,
// and per-process V8 flags (a release script's --max-old-space-size) start workers without flags.
for (const flags of [['--input-type=module'], ['--max-old-space-size=256', '--input-type=module']]) {
  test(`compression workers start under node ${flags.join(' ')}`, () => {
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(gunzipSync(Buffer.from(r.stdout, 'base64')).equals(Buffer.alloc(300000, 'ab')));
  });
}

// Node 20 resets V8's flags when a worker thread starts; the flags the CLI chose for its process
// (src/cli/runtime-flags.ts) must hold once the compression workers are up. The young generation
// shows it: under this allocation rate V8's default grows it to its 32 MB cap, held to the flag it
// stays at 2 MB on Node 20. Node 24 keeps the flags (a bare Worker leaves them as they were) and
// sizes its new space in pages, 4-9 MB on a quiet machine and more under load, so there the check
// has nothing to tell apart: the same run's bare Worker decides whether this Node resets flags.
const flagsUrl = new URL('../../../src/runtime-flags.js', import.meta.url).href;
const execArgvUrl = new URL('../../../src/layer/compress/exec-argv.js', import.meta.url).href;
const youngGeneration = (start: 'startWorker' | 'bareWorker') => `
  import { getHeapSpaceStatistics } from 'node:v8';
  import { Worker } from 'node:worker_threads';
  import { setProcessFlags } from ${JSON.stringify(flagsUrl)};
  import { startWorker } from ${JSON.stringify(execArgvUrl)};
  setProcessFlags('--semi-space-growth-factor=1');
  const url = new URL('data:text/javascript,setTimeout(() => {}, 50)');
  const worker = ${start === 'startWorker' ? 'startWorker(url)' : 'new Worker(url)'};
  await new Promise((resolve) => worker.once('online', resolve));
  await new Promise((resolve) => setImmediate(resolve));
  let keep = [];
  let peak = 0;
  for (let i = 0; i < 2e6; i++) {
    keep.push({ i, name: 'entry-' + i });
    if (keep.length > 1000) keep = [];
    if (i % 5000 === 0) peak = Math.max(peak, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
  }
  await new Promise((resolve) => worker.once('exit', resolve));
  process.stdout.write(String(peak));`;

function youngGenerationPeak(start: 'startWorker' | 'bareWorker'): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', youngGeneration(start)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

const MB = 1024 * 1024;

test('process-wide V8 flags still hold after a compression worker has started', (t) => {
  const bare = youngGenerationPeak('bareWorker');
  if (bare < 32 * MB) {
    t.skip(`this Node keeps V8's flags when a worker starts (a bare Worker's young generation stayed at ${(bare / MB).toFixed(1)} MB)`);
    return;
  }
  const peak = youngGenerationPeak('startWorker');
  assert.ok(peak <= 16 * MB, `young generation grew to ${(peak / MB).toFixed(1)} MB`);
});
