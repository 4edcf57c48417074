import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { createCompressor, zstdAvailable, MIN_BLOCK_SIZE, DEFAULT_GZIP_LEVEL } from '../../../src/layer/compress/index.js';
import { compressBlock } from '../../../src/layer/compress/block-codec.js';
import { OcipushError } from '../../../src/errors.js';
import { sha256 } from '../../../src/oci/digest.js';
import type { Compression } from '../../../src/oci/media-types.js';
import { requireTool } from '../../support/tools.js';
import { compress, expectedMembers, randomBytes, textBytes } from './support.js';

const B = MIN_BLOCK_SIZE; // small blocks: many members from little data
const SIZES = [0, 1, 100, B - 1, B, B + 1, 2 * B, 3 * B + 17];

test('gzip round-trips random and text data of every size around block edges', async () => {
  for (const make of [randomBytes, textBytes]) {
    for (const size of SIZES) {
      const input = make(size);
      const gz = await compress(input, { compression: 'gzip', blockSize: B, threads: 2 });
      assert.ok(gunzipSync(gz).equals(input), `${make.name} ${size} bytes`);
      assert.ok(gz.equals(expectedMembers(input, DEFAULT_GZIP_LEVEL, B)), `${make.name} ${size}: one member per block`);
    }
  }
});

test('empty input gives one valid empty gzip member', async () => {
  const gz = await compress(Buffer.alloc(0), { compression: 'gzip' });
  assert.equal(gunzipSync(gz).length, 0);
  assert.equal(gz.length, 20); // 10 header + 2 empty final block + 8 trailer
});

test('the output is byte-identical for 1, 2 and 4 threads and any write chunking', async () => {
  const input = Buffer.concat([textBytes(5 * B + 333), randomBytes(B / 2), textBytes(2 * B)]);
  const reference = await compress(input, { compression: 'gzip', blockSize: B, threads: 1 }, 4096);
  for (const threads of [1, 2, 4]) {
    for (const chunk of [1000, 65536, 1 << 20]) {
      const gz = await compress(input, { compression: 'gzip', blockSize: B, threads }, chunk);
      assert.ok(gz.equals(reference), `threads ${threads}, chunks of ${chunk}`);
    }
  }
});

test('the block size and level decide the bytes; each member has mtime 0 and the unix OS byte', async () => {
  const input = textBytes(3 * B);
  const small = await compress(input, { compression: 'gzip', blockSize: B, level: 6 });
  const large = await compress(input, { compression: 'gzip', blockSize: 4 * B, level: 6 });
  assert.ok(!small.equals(large));
  assert.ok(gunzipSync(small).equals(gunzipSync(large)));
  const member = compressBlock('gzip', 6, input.subarray(0, 1000));
  assert.deepEqual([...member.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // magic, deflate, no flags
  assert.equal(member.readUInt32LE(4), 0); // mtime
  assert.equal(member[9], 3); // OS: unix, whatever platform compressed it
});

test('digestInput gives the sha256 and size of the input, on the main thread or the hash worker', async () => {
  const inputs = [Buffer.alloc(0), textBytes(100), textBytes(B), Buffer.concat([textBytes(5 * B + 3), randomBytes(B)])];
  const compressions: Compression[] = zstdAvailable() ? ['gzip', 'none', 'zstd'] : ['gzip', 'none'];
  for (const compression of compressions) {
    for (const threads of [1, 2, 4]) {
      for (const input of inputs) {
        const compressor = createCompressor({ compression, blockSize: B, threads, digestInput: true });
        const finished = new Promise((resolve) => compressor.once('finish', resolve));
        const ended = new Promise((resolve) => compressor.once('end', resolve));
        const out: Buffer[] = [];
        compressor.on('data', (c: Buffer) => out.push(c));
        assert.throws(() => compressor.inputDigest(), /only after the stream has finished/);
        for (let at = 0; at < input.length; at += 10000) compressor.write(input.subarray(at, at + 10000));
        compressor.end();
        await finished;
        assert.deepEqual(compressor.inputDigest(), { digest: sha256(input), size: input.length }, `${compression} t${threads} ${input.length} bytes`);
        await ended;
        if (compression === 'gzip') assert.ok(gunzipSync(Buffer.concat(out)).equals(input));
      }
    }
  }
  assert.throws(() => createCompressor({ compression: 'gzip' }).inputDigest(), /needs the digestInput option/);
});

test('none passes bytes through unchanged', async () => {
  const input = randomBytes(3 * B + 5);
  assert.ok((await compress(input, { compression: 'none' })).equals(input));
});

test('zstd works where Node has it, and fails with one clear line where it does not', async () => {
  if (!zstdAvailable()) {
    assert.throws(() => createCompressor({ compression: 'zstd' }), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'EUNSUPPORTED');
      assert.equal(err.message, `zstd compression needs Node >= 22.15 (this is Node ${process.versions.node}): use --compression gzip`);
      return true;
    });
    return;
  }
  requireTool('zstd');
  const input = Buffer.concat([textBytes(3 * B), randomBytes(B + 1)]);
  const one = await compress(input, { compression: 'zstd', blockSize: B, threads: 1 });
  const many = await compress(input, { compression: 'zstd', blockSize: B, threads: 4 });
  assert.ok(one.equals(many), 'the same frames for any thread count');
  assert.ok(execFileSync('zstd', ['-dc'], { input: one, maxBuffer: 1 << 26 }).equals(input), 'zstd -d reads every frame');
  const empty = await compress(Buffer.alloc(0), { compression: 'zstd' });
  assert.equal(execFileSync('zstd', ['-dc'], { input: empty }).length, 0);
});

test('bad options are refused with EUSAGE before any work', () => {
  const bad = [
    { compression: 'gzip', level: 0 },
    { compression: 'gzip', level: 10 },
    { compression: 'gzip', level: 2.5 },
    { compression: 'gzip', threads: 0 },
    { compression: 'gzip', blockSize: 1024 },
    { compression: 'brotli' },
  ] as const;
  for (const options of bad) {
    assert.throws(() => createCompressor(options as never), (err: unknown) => err instanceof OcipushError && err.code === 'EUSAGE', JSON.stringify(options));
  }
});
