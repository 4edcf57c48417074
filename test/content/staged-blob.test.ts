import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { StagedBlob } from '../../src/content/staged-blob.js';

const MiB = 1 << 20;

it('a staged blob is synced while it is written, and holds exactly its bytes under its digest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ocipush-staged-'));
  try {
    const chunks = Array.from({ length: 24 }, () => randomBytes(256 * 1024));
    const blob = await StagedBlob.create(dir, 'test blob', 'sha256', { syncEvery: MiB });
    await pipeline(Readable.from(chunks), blob.stream);
    const whole = Buffer.concat(chunks);
    // 6 MiB in 1 MiB steps: at least one sync ran before the last one (how many depends on how
    // fast the disk answers: one runs at a time), never more than one per step.
    assert.ok(blob.earlySyncs >= 1 && blob.earlySyncs <= 6, `early syncs: ${blob.earlySyncs}`);
    assert.equal(blob.size, whole.length);
    assert.equal(blob.digest, `sha256:${createHash('sha256').update(whole).digest('hex')}`);
    const target = join(dir, 'blob-final');
    await blob.commitTo(target);
    assert.ok((await readFile(target)).equals(whole));
    assert.deepEqual(await readdir(dir), ['blob-final']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a staged blob destroyed once an early sync has started leaves nothing once discarded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ocipush-staged-'));
  try {
    const blob = await StagedBlob.create(dir, 'test blob', 'sha256', { syncEvery: MiB });
    await new Promise<void>((resolve, reject) => blob.stream.write(randomBytes(2 * MiB), (err) => (err ? reject(err) : resolve())));
    assert.equal(blob.earlySyncs, 1);
    blob.stream.destroy(new Error('interrupted'));
    blob.stream.on('error', () => {});
    await blob.discard();
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
