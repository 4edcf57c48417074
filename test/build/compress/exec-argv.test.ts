import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const moduleUrl = new URL('../../../src/build/compress/index.js', import.meta.url).href;
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
