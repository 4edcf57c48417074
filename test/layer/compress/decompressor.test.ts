import test from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { createDecompressor, MIN_BLOCK_SIZE, sniffCompression, zstdAvailable } from '../../../src/layer/compress/index.js';
import { decompressedLayer } from '../../../src/layer/compress/decompressor.js';
import { Readable } from 'node:stream';
import { requireTool } from '../../support/tools.js';
import { chunked, compress, randomBytes, textBytes } from './support.js';

const B = MIN_BLOCK_SIZE;

async function decompress(compression: 'gzip' | 'zstd' | 'none', data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(chunked(data, 5000), createDecompressor(compression), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

test('the gzip decompressor reads every member, ours and concatenated foreign ones', async () => {
  const input = Buffer.concat([textBytes(4 * B + 9), randomBytes(B)]);
  assert.ok((await decompress('gzip', await compress(input, { compression: 'gzip', blockSize: B }))).equals(input));
  const cat = Buffer.concat([gzipSync(Buffer.from('one ')), gzipSync(Buffer.alloc(0)), gzipSync(Buffer.from('two'))]);
  assert.equal((await decompress('gzip', cat)).toString(), 'one two');
  assert.ok((await decompress('none', input)).equals(input));
});

test('corrupt gzip fails the stream', async () => {
  const gz = await compress(textBytes(3 * B), { compression: 'gzip', blockSize: B });
  gz[gz.length - 5] ^= 0xff; // the last member's CRC
  await assert.rejects(decompress('gzip', gz));
});

test('zstd is read by Node where its zlib has zstd, else by the zstd command (Node 20), frames and skippable frames alike', async () => {
  requireTool('zstd');
  if (zstdAvailable()) {
    const input = textBytes(3 * B + 1);
    assert.ok((await decompress('zstd', await compress(input, { compression: 'zstd', blockSize: B }))).equals(input), 'our frames');
  }
  // Frames from the zstd CLI with a skippable frame between them, as zstd:chunked layers have.
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const a = textBytes(200_000);
  const b = randomBytes(3 << 20);
  const cli = (data: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 64 << 20 });
  assert.ok((await decompress('zstd', Buffer.concat([cli(a), skippable, cli(b)]))).equals(Buffer.concat([a, b])), 'CLI frames');
  // Cut or foreign bytes fail the stream: cut output is never taken for whole.
  await assert.rejects(decompress('zstd', cli(b).subarray(0, 1 << 20)), zstdAvailable() ? /truncated zstd data/ : /zstd: .*premature end/);
  await assert.rejects(decompress('zstd', Buffer.from('not zstd at all')), zstdAvailable() ? /not zstd data/ : /zstd: .*unsupported format/);
});

test('the zstd command stopped early: a reader that gives up ends it, and the stream fails', async () => {
  if (zstdAvailable()) return; // Node reads zstd itself: no command runs
  requireTool('zstd');
  const data = execFileSync('zstd', ['-q', '-c'], { input: randomBytes(8 << 20), maxBuffer: 64 << 20 });
  await assert.rejects(pipeline(chunked(data, 1 << 16), createDecompressor('zstd'), async (source: AsyncIterable<Buffer>) => {
    for await (const _ of source) throw new Error('reader gave up');
  }));
});

test('sniffCompression recognises gzip and zstd magic numbers', () => {
  assert.equal(sniffCompression(gzipSync(Buffer.from('x'))), 'gzip');
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00])), 'zstd');
  assert.equal(sniffCompression(Buffer.from('ustar')), 'none');
  assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
});

test('a layer is decompressed by what its bytes are, read in chunks of any size, a 0-byte one as an empty tar', async () => {
  requireTool('zstd');
  const tar = textBytes(100_000);
  const read = async (body: Readable) => {
    const { stream, compression } = await decompressedLayer(body);
    const out: Buffer[] = [];
    for await (const c of stream) out.push(c as Buffer);
    return { bytes: Buffer.concat(out), compression };
  };
  const forms: [string, Buffer][] = [['none', tar], ['gzip', gzipSync(tar)], ['zstd', execFileSync('zstd', ['-q', '-c'], { input: tar })]];
  for (const [compression, bytes] of forms) {
    for (const size of [1, 3, 5000]) {
      const got = await read(chunked(bytes, size));
      assert.equal(got.compression, compression);
      assert.ok(got.bytes.equals(tar), `${compression} in chunks of ${size}`);
    }
  }
  // An async source that yields nothing, or an empty chunk (a 0-byte blob from a registry).
  async function* none(chunks: Buffer[]) { for (const c of chunks) { await new Promise((r) => setImmediate(r)); yield c; } }
  for (const chunks of [[], [Buffer.alloc(0)], [Buffer.from('ab')]]) {
    const got = await read(Readable.from(none(chunks), { objectMode: false, highWaterMark: 1 }));
    assert.equal(got.bytes.toString(), Buffer.concat(chunks).toString());
  }
  // A body that fails before its first bytes fails the read.
  const failing = new Readable({ read() { this.destroy(new Error('connection reset')); } });
  await assert.rejects(decompressedLayer(failing), /connection reset/);
});
