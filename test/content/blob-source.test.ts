import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcipushError } from '../../src/errors.js';
import { sha256 } from '../../src/oci/digest.js';
import { fileSource, madeSource, readFileChunks } from '../../src/content/blob-source.js';
import { tempDir } from '../support/tools.js';

/** File descriptors of this process open on `path`: a chunk reader that is done must leave none. */
function openFdsOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try { if (readlinkSync(`/proc/self/fd/${fd}`) === path) count++; } catch { /* closed meanwhile */ }
  }
  return count;
}

/** A consumer that is done with each chunk before asking for the next (as undici is): copies them. */
async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('readFileChunks', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let path: string;
  // Not a multiple of the buffer size, so the last chunk is short.
  const bytes = randomBytes(10 * 4096 + 123);
  const digest = sha256(bytes);
  const small = { bufferSize: 4096, ringSize: 2 };

  before(async () => {
    tmp = await tempDir();
    path = join(tmp.path, 'blob');
    writeFileSync(path, bytes);
  });
  after(async () => tmp?.cleanup());

  it('yields exactly the bytes of any range through a ring of reused buffers, and closes the file at the end', async () => {
    for (const [start, end] of [[0, bytes.length - 1], [1, 4096], [4095, 4096], [5000, bytes.length - 1], [7, 7], [0, 4095]] as const) {
      const got = await collect(readFileChunks(path, start, end, small));
      assert.ok(got.equals(bytes.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
    assert.equal(openFdsOn(path), 0);
  });

  it('reuses its buffers: a consumer that holds chunks instead of sending them sees them overwritten', async () => {
    const held: Uint8Array[] = [];
    for await (const chunk of readFileChunks(path, 0, bytes.length - 1, small)) held.push(chunk);
    const sent = Buffer.concat(held);
    assert.equal(sent.length, bytes.length);
    // The bytes such a consumer would send are not the blob: the registry refuses the digest.
    assert.notEqual(sha256(sent), digest);
    assert.ok(new Set(held.map((c) => c.buffer)).size <= 2, 'two buffers in turn');
  });

  it('verifies the whole file: a corrupt byte fails with EDIGEST before the last chunk is yielded', async () => {
    const corrupt = Buffer.from(bytes);
    corrupt[4096 * 3] = corrupt[4096 * 3]! ^ 0xff;
    const corruptPath = join(tmp.path, 'corrupt');
    writeFileSync(corruptPath, corrupt);
    let yielded = 0;
    await assert.rejects((async () => {
      for await (const chunk of readFileChunks(corruptPath, 0, bytes.length - 1, { ...small, verify: { digest, size: bytes.length, what: 'blob X' } })) yielded += chunk.length;
    })(), (err: unknown) => {
      assert.ok(err instanceof OcipushError && err.code === 'EDIGEST', String(err));
      assert.match(err.message, new RegExp(`^blob X: content has digest sha256:[0-9a-f]{64}, expected ${digest}$`));
      return true;
    });
    assert.equal(yielded, 10 * 4096, 'everything but the last chunk');
    assert.equal(openFdsOn(corruptPath), 0);
  });

  it('verifies the size before reading: a file of another size fails with EDIGEST and yields nothing', async () => {
    const verify = { digest, size: bytes.length + 1, what: 'blob X' };
    const chunks = readFileChunks(path, 0, bytes.length, { ...small, verify });
    await assert.rejects(chunks.next(), /^OcipushError: blob X: size 41083 does not match the expected 41084$/);
    assert.equal(openFdsOn(path), 0);
  });

  it('closes the file when the consumer stops early (return or throw), and opens none if never started', async () => {
    const stopped = readFileChunks(path, 0, bytes.length - 1, small);
    await stopped.next();
    assert.equal(openFdsOn(path), 1);
    await stopped.return(undefined);
    assert.equal(openFdsOn(path), 0);

    const failed = readFileChunks(path, 0, bytes.length - 1, small);
    await failed.next();
    await assert.rejects(failed.throw(new Error('request aborted')), /request aborted/);
    assert.equal(openFdsOn(path), 0);

    const neverStarted = readFileChunks(path, 0, bytes.length - 1, small);
    assert.equal(openFdsOn(path), 0);
    await neverStarted.return(undefined);
  });

  it('names a missing file', async () => {
    await assert.rejects(collect(readFileChunks(join(tmp.path, 'missing'), 0, 9)), (err: unknown) => {
      assert.ok(err instanceof OcipushError && err.code === 'EREAD', String(err));
      assert.match(err.message, /^cannot read .*\/missing: no such file or directory$/);
      return true;
    });
  });
});

describe('fileSource', () => {
  it('names a layout blob as the layout does, and reads ranges unverified', async () => {
    const tmp = await tempDir();
    try {
      const bytes = randomBytes(3 * 1024 * 1024 + 5);
      const digest = sha256(bytes);
      const dir = join(tmp.path, 'blobs', 'sha256');
      mkdirSync(dir, { recursive: true });
      const path = join(dir, digest.slice('sha256:'.length));
      writeFileSync(path, bytes);
      const source = fileSource(path, { digest, size: bytes.length });
      assert.ok((await collect(await source.open() as AsyncIterable<Uint8Array>)).equals(bytes));
      assert.ok((await collect(await source.openRange(1024 * 1024 - 1, 2 * 1024 * 1024) as AsyncIterable<Uint8Array>)).equals(bytes.subarray(1024 * 1024 - 1, 2 * 1024 * 1024 + 1)));

      // One byte flipped (not set to a fixed value, which the random bytes hold one time in 256).
      writeFileSync(path, Buffer.concat([bytes.subarray(0, 10), Buffer.from([bytes[10]! ^ 0xff]), bytes.subarray(11)]));
      await assert.rejects(collect(await source.open() as AsyncIterable<Uint8Array>), new RegExp(`^OcipushError: blob ${digest} in ${tmp.path}: content has digest`));
      // A range is not the whole blob: it cannot be checked, and is read as it is (the registry checks the digest).
      assert.equal((await collect(await source.openRange(0, 20) as AsyncIterable<Uint8Array>)).length, 21);
      assert.equal(openFdsOn(path), 0);
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('madeSource', () => {
  const parts = [randomBytes(1000), randomBytes(1), randomBytes(4096), randomBytes(333)];
  const whole = Buffer.concat(parts);
  const desc = { digest: sha256(whole), size: whole.length };
  const read = async (body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream) => {
    const got: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array>) got.push(Buffer.from(chunk));
    return Buffer.concat(got);
  };

  it('makes the bytes again for every read: the whole, and any range across the made chunks', async () => {
    let made = 0;
    const source = madeSource(() => { made++; return parts; }, desc, 'the document');
    assert.equal(source.size, whole.length);
    assert.ok((await read(await source.open())).equals(whole));
    for (const [start, end] of [[0, 0], [999, 1000], [1000, 5096], [1001, whole.length - 1], [5000, 5100]] as const) {
      assert.ok((await read(await source.openRange(start, end))).equals(whole.subarray(start, end + 1)), `${start}-${end}`);
    }
    assert.equal(made, 6);
  });

  it('fails with EDIGEST, naming the blob, when a later run makes other bytes', async () => {
    let run = 0;
    const source = madeSource(() => (run++ === 0 ? parts : [...parts.slice(0, 3), randomBytes(333)]), desc, 'the document');
    assert.ok((await read(await source.open())).equals(whole));
    await assert.rejects(read(await source.open()), (err: unknown) => err instanceof OcipushError && err.code === 'EDIGEST' && /the document/.test(err.message));
  });
});
