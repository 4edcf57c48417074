import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { closeCompressionPool, createCompressor, MIN_BLOCK_SIZE } from '../../../src/layer/compress/index.js';
import { compress, randomBytes, textBytes } from './support.js';

const B = MIN_BLOCK_SIZE;

/** Waits until `read()` stops changing: the stream has taken all it will take. */
async function settled(read: () => number): Promise<number> {
  let last = -1;
  for (let still = 0; still < 5; ) {
    await sleep(50);
    const now = read();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

test('a reader that does not read stops the writer after a few blocks', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  const input = randomBytes(64 * B); // incompressible: output blocks are as large as input blocks
  let accepted = 0;
  for (let at = 0; at < input.length; at += 10000) {
    const chunk = input.subarray(at, at + 10000);
    compressor.write(chunk, () => { accepted += chunk.length; });
  }
  compressor.end();
  const taken = await settled(() => accepted);
  // threads×2 blocks in flight, one in the readable buffer, one being filled.
  assert.ok(taken <= 7 * B, `accepted ${taken} bytes (${(taken / B).toFixed(1)} blocks) with nobody reading`);
  assert.ok(taken >= B, 'work goes on while the reader is away');
  const out: Buffer[] = [];
  for await (const c of compressor) out.push(c as Buffer);
  assert.ok(gunzipSync(Buffer.concat(out)).equals(input));
});

test('a failing reader ends the pipeline with its error, and the pool serves the next layer', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  let seen = 0;
  const failing = new Writable({
    write(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      callback(seen > 3 * B ? new Error('disk on fire') : null);
    },
  });
  const endless = Readable.from((function* () { for (;;) yield randomBytes(50000, String(seen)); })());
  await assert.rejects(pipeline(endless, compressor, failing), /disk on fire/);
  assert.ok(compressor.destroyed);
  const input = textBytes(5 * B);
  assert.ok(gunzipSync(await compress(input, { compression: 'gzip', blockSize: B, threads: 2 })).equals(input));
});

test('a failing source destroys the compressor with the source error', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  const broken = Readable.from((function* () {
    yield textBytes(5 * B);
    throw new Error('unreadable file');
  })());
  await assert.rejects(pipeline(broken, compressor, new Writable({ write: (_c, _e, cb) => cb() })), /unreadable file/);
  assert.ok(compressor.destroyed);
});

test('destroying the compressor mid-stream stops it cleanly', async () => {
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2 });
  const closed = new Promise((resolve) => compressor.once('close', resolve));
  compressor.write(textBytes(6 * B));
  compressor.once('data', () => compressor.destroy());
  await closed;
  assert.ok(compressor.destroyed);
  // Blocks already on the workers finish and are dropped; nothing else happens.
  await sleep(100);
});

test('workers that die mid-stream fail the stream or finish it whole, never hang it', async () => {
  // Whether the four blocks are still on the workers when the pool is closed is a race (they may
  // already be done): either outcome is fine, a hang or a wrong byte is not. A hang shows up as
  // this test being cancelled, which fails the run.
  const input = textBytes(4 * B);
  const compressor = createCompressor({ compression: 'gzip', blockSize: B, threads: 2, digestInput: true });
  const chunks: Buffer[] = [];
  const outcome = new Promise<Error | Buffer>((resolve) => {
    compressor.on('data', (c: Buffer) => chunks.push(c));
    compressor.once('error', resolve);
    compressor.once('end', () => resolve(Buffer.concat(chunks)));
  });
  compressor.write(input);
  await closeCompressionPool();
  compressor.end();
  const result = await outcome;
  if (result instanceof Error) {
    assert.match(result.message, /^(compression|hashing) worker failed: /);
    assert.ok(compressor.destroyed);
  } else {
    assert.ok(gunzipSync(result).equals(input));
  }
  // The pool comes back for the next stream.
  const again = textBytes(4 * B + 1);
  assert.ok(gunzipSync(await compress(again, { compression: 'gzip', blockSize: B, threads: 2 })).equals(again));
});

test('layers compressed at the same time on the shared pool each come out whole and in order', async () => {
  const inputs = [textBytes(9 * B + 1), randomBytes(7 * B), Buffer.concat([randomBytes(3 * B, 'x'), textBytes(5 * B)])];
  const outputs = await Promise.all(inputs.map((input, i) => compress(input, { compression: 'gzip', blockSize: B, threads: 1 + i })));
  outputs.forEach((gz, i) => assert.ok(gunzipSync(gz).equals(inputs[i]!), `layer ${i}`));
});

test('a process exits by itself after compressing, finished or destroyed mid-stream', () => {
  const module = new URL('../../../src/layer/compress/index.js', import.meta.url).href;
  const script = `
    import { createCompressor } from ${JSON.stringify(module)};
    const big = Buffer.alloc(8 << 20, 'layer ');
    const done = createCompressor({ compression: 'gzip', threads: 2, digestInput: true });
    done.resume();
    done.end(big);
    await new Promise((resolve) => done.once('end', resolve));
    const cut = createCompressor({ compression: 'gzip', threads: 4, digestInput: true });
    cut.write(big);
    cut.once('data', () => cut.destroy());
    await new Promise((resolve) => cut.once('close', resolve));
    console.log('done', done.inputDigest().size);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, 'the process did not exit on its own');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), `done ${8 << 20}`);
  assert.equal(r.status, 0);
});
