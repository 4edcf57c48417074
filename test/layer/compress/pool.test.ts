import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The pool is one per process: each case runs in its own, so no other test's workers count.
const compressUrl = new URL('../../../src/layer/compress/index.js', import.meta.url).href;
const poolUrl = new URL('../../../src/layer/compress/pool.js', import.meta.url).href;
const layerUrl = new URL('../../../src/layer/layer.js', import.meta.url).href;

function run(script: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, 'the process did not exit on its own');
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  return r.stdout.trim();
}

test('warmCompressors starts the workers a compressor then uses, and only where it would use any', () => {
  const out = run(`
    import { gunzipSync } from 'node:zlib';
    import { createCompressor, warmCompressors } from ${JSON.stringify(compressUrl)};
    import { compressionPool } from ${JSON.stringify(poolUrl)};
    const counts = [];
    warmCompressors({ compression: 'none', threads: 2 });
    warmCompressors({ compression: 'gzip', threads: 1 });
    counts.push(compressionPool().workerCount);
    warmCompressors({ compression: 'gzip', threads: 2 });
    counts.push(compressionPool().workerCount);
    warmCompressors({ compression: 'gzip', threads: 2 });
    counts.push(compressionPool().workerCount);
    const input = Buffer.alloc(4 << 20, 'warm ');
    const c = createCompressor({ compression: 'gzip', threads: 2 });
    const chunks = [];
    c.on('data', (d) => chunks.push(d));
    c.end(input);
    await new Promise((resolve) => c.once('end', resolve));
    counts.push(compressionPool().workerCount);
    console.log(counts.join(' '), gunzipSync(Buffer.concat(chunks)).equals(input));
  `);
  // None for 'none' or one thread; two, not four, after warming twice; the compressor adds none.
  assert.equal(out, '0 2 2 2 true');
});

test('warmed workers that never get a job do not keep the process alive', () => {
  assert.equal(run(`
    import { warmCompressors } from ${JSON.stringify(compressUrl)};
    warmCompressors({ compression: 'gzip', threads: 2 });
    console.log('warmed');
  `), 'warmed');
});

test('a directory layer starts the workers during its walk only when it spans more than one block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocipush-warm-'));
  try {
    const small = join(dir, 'small');
    const large = join(dir, 'large');
    for (const d of [small, large]) spawnSync('mkdir', ['-p', d]);
    writeFileSync(join(small, 'a'), 'small\n');
    writeFileSync(join(large, 'a'), Buffer.alloc(3 << 20, 'large '));
    const script = (root: string) => `
      import { buildLayer } from ${JSON.stringify(layerUrl)};
      import { compressionPool } from ${JSON.stringify(poolUrl)};
      const layer = await buildLayer({ kind: 'directory', path: ${JSON.stringify(root)} }, { dir: ${JSON.stringify(dir)}, where: 'test' }, { clampMtime: 0, threads: 2 });
      await layer.blob.discard();
      console.log(compressionPool().workerCount);
    `;
    assert.equal(run(script(small)), '0', 'one block is compressed inline: no worker is started for it');
    assert.equal(run(script(large)), '2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
