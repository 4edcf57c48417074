import test from 'node:test';
import assert from 'node:assert/strict';
import { compressBlock } from '../../../src/layer/compress/block-codec.js';
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
