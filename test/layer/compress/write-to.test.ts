import test from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { createCompressor, MIN_BLOCK_SIZE, type Compressor } from '../../../src/layer/compress/index.js';
import type { BlockCompressor } from '../../../src/layer/compress/block-compressor.js';
import { chunked, expectedMembers, randomBytes, textBytes } from './support.js';

const B = MIN_BLOCK_SIZE;

/** A sink that copies each chunk in its write, as a file writer does. */
function copyingSink(): { sink: Writable; output: () => Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      parts.push(Buffer.from(chunk));
      setImmediate(callback);
    },
  });
  return { sink, output: () => Buffer.concat(parts) };
}

function writeAll(compressor: Compressor, input: Buffer, chunkSize: number): Promise<void> {
  return pipeline(chunked(input, chunkSize), compressor);
}

test('writeTo gives the same bytes as reading, for 1 and 2 threads', async () => {
  const input = Buffer.concat([textBytes(9 * B + 5), randomBytes(3 * B)]);
  for (const threads of [1, 2]) {
    const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads, digestInput: true });
    const { sink, output } = copyingSink();
    const written = compressor.writeTo(sink);
    await Promise.all([writeAll(compressor, input, 10_000), written]);
    assert.ok(output().equals(expectedMembers(input, 2, B)), `threads ${threads}`);
    assert.equal(compressor.inputDigest().size, input.length);
  }
});

test('writeTo reuses a few output buffers for a long input', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  const input = textBytes(64 * B);
  const { sink, output } = copyingSink();
  const written = compressor.writeTo(sink);
  await Promise.all([writeAll(compressor, input, 50_000), written]);
  assert.ok(gunzipSync(output()).equals(input));
  // threads×2 blocks in flight and as many in the sink, at most: never one buffer per block.
  const allocated = (compressor as unknown as BlockCompressor).outputBuffersAllocated;
  assert.ok(allocated >= 1 && allocated <= 8, `${allocated} output buffers for 64 blocks`);
});

test('writeTo rejects with the sink error and destroys the compressor', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  let seen = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      callback(seen > 2 * B ? new Error('disk on fire') : null);
    },
  });
  const written = compressor.writeTo(sink);
  const feeding = writeAll(compressor, randomBytes(32 * B), 30_000).catch((err: Error) => err);
  await assert.rejects(written, /disk on fire/);
  assert.ok(compressor.destroyed);
  assert.ok((await feeding) instanceof Error);
});

test('writeTo rejects when the compressor is destroyed, and destroys the sink', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  const { sink } = copyingSink();
  const written = compressor.writeTo(sink);
  compressor.write(textBytes(3 * B));
  compressor.destroy(new Error('tar failed'));
  await assert.rejects(written, /tar failed/);
  assert.ok(sink.destroyed);
});

test('writeTo with no compression pipes the input through', async () => {
  const compressor = createCompressor({ compression: 'none' });
  const { sink, output } = copyingSink();
  const input = textBytes(3 * B);
  const written = compressor.writeTo(sink);
  await Promise.all([writeAll(compressor, input, 7000), written]);
  assert.ok(output().equals(input));
});
