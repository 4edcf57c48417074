import test from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressBlock, GZIP_OS_OFFSET, GZIP_OS_UNIX, GZIP_PARAMS, gzipLevelFor } from '../../../src/layer/compress/block-codec.js';
import { BlockEncoder, outputCapacity } from '../../../src/layer/compress/block-encoder.js';
import { randomBytes, textBytes } from './support.js';

const MiB = 1 << 20;

test('one reused gzip state gives, block after block, the bytes of a fresh gzipSync member', () => {
  const encoder = new BlockEncoder();
  const blocks = [textBytes(MiB), randomBytes(MiB), Buffer.alloc(MiB), textBytes(MiB - 7), Buffer.alloc(0), textBytes(1), randomBytes(300_000)];
  for (const level of [1, 2, 6, 9]) {
    for (const [i, block] of blocks.entries()) {
      const want = compressBlock('gzip', level, block);
      const out = new Uint8Array(outputCapacity(MiB));
      const n = encoder.encode('gzip', level, block, out);
      assert.equal(typeof n, 'number', `level ${level} block ${i}: written into the given buffer`);
      assert.ok(want.equals(Buffer.from(out.buffer, 0, n as number)), `level ${level} block ${i}: same bytes into a buffer`);
      const own = encoder.encode('gzip', level, block);
      assert.ok(Buffer.isBuffer(own) && want.equals(own), `level ${level} block ${i}: same bytes in a new buffer`);
    }
  }
});

test('an output buffer too small for the block gets the bytes in a new buffer instead', () => {
  const encoder = new BlockEncoder();
  const block = randomBytes(MiB);
  const small = new Uint8Array(1000);
  const got = encoder.encode('gzip', 2, block, small);
  assert.ok(Buffer.isBuffer(got) && got.equals(compressBlock('gzip', 2, block)));
  // The state is fine for the next block.
  const next = textBytes(MiB);
  const out = new Uint8Array(outputCapacity(MiB));
  const n = encoder.encode('gzip', 2, next, out) as number;
  assert.ok(Buffer.from(out.buffer, 0, n).equals(compressBlock('gzip', 2, next)));
});

test('a new buffer of the fast path is exactly sized and owns its memory (a worker transfers it)', () => {
  const got = new BlockEncoder().encode('gzip', 2, textBytes(100)) as Buffer;
  assert.equal(got.byteOffset, 0);
  assert.equal(got.buffer.byteLength, got.length);
});

test('a block of already-compressed data is stored (level 0), a block with text in it is compressed', () => {
  const member = (data: Uint8Array, level: number) => {
    // Output room for the whole member at once, as compressBlock gives it (stored blocks are cut by it).
    const out = gzipSync(data, { ...GZIP_PARAMS, level, chunkSize: 2 * MiB });
    out[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
    return out;
  };
  const packed = gzipSync(textBytes(4 * MiB), { level: 9 }).subarray(0, MiB); // like a .deb or a .gz
  const random = randomBytes(MiB);
  const text = textBytes(MiB);
  // Mostly compressed data, but a text file of 256 KiB in the block: worth deflating (samples are
  // spread 1/7 of the block apart, so any stretch of text that long is seen).
  const mixed = Buffer.concat([random.subarray(0, MiB / 2), text.subarray(0, 256 << 10), random.subarray(0, MiB / 2 - (256 << 10))]);
  const encoder = new BlockEncoder();
  for (const [name, block, level] of [['packed', packed, 0], ['random', random, 0], ['text', text, 2], ['mixed', mixed, 2]] as const) {
    assert.equal(gzipLevelFor(2, block), level, name);
    const want = member(block, level);
    assert.ok(compressBlock('gzip', 2, block).equals(want), `${name}: compressBlock at level ${level}`);
    assert.ok((encoder.encode('gzip', 2, block) as Buffer).equals(want), `${name}: BlockEncoder at level ${level}`);
    assert.ok(gunzipSync(want).equals(block), `${name}: round trip`);
  }
  assert.ok(!member(random, 0).equals(member(random, 2)), 'level 0 and level 2 differ, so the check above means something');
  // Small blocks and level 0 itself are left alone.
  assert.equal(gzipLevelFor(2, random.subarray(0, 8192)), 2);
  assert.equal(gzipLevelFor(0, text), 0);
});
