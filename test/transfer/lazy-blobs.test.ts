import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { recordRemoteBlobs } from '../../src/content/remote-blobs.js';
import { sha256 } from '../../src/oci/digest.js';
import { LazyBlobs } from '../../src/transfer/lazy-blobs.js';
import { tempDir } from '../support/tools.js';

test('a declined mount source is forgotten for a blob the layout holds, and kept for one it can only fetch from there', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const held = await layout.putBytes('application/octet-stream', Buffer.from('held'));
  const bytes = Buffer.from('only recorded');
  const recorded = { mediaType: 'application/octet-stream', digest: sha256(bytes), size: bytes.length };
  for (const repository of ['r.example/b', 'r.example/a']) {
    await recordRemoteBlobs(layout.root, [held, recorded].map((d) => ({ digest: d.digest, repository })));
  }
  const blobs = new LazyBlobs(layout);
  assert.deepEqual(await blobs.sourcesOf(held), ['r.example/a', 'r.example/b']);
  await blobs.forgetMountSources([held, recorded].map((descriptor) => ({ descriptor, repository: 'r.example/a' })));
  assert.deepEqual(await blobs.sourcesOf(held), ['r.example/b']);
  assert.deepEqual(await blobs.sourcesOf(recorded), ['r.example/a', 'r.example/b'], 'the only places its bytes are');
  await blobs.forgetMountSources([{ descriptor: held, repository: 'r.example/b' }]);
  assert.deepEqual(await new LazyBlobs(layout).sourcesOf(held), [], 'read again from the layout: no source left');
  assert.deepEqual(await new LazyBlobs(layout).mountRepositories(recorded, 'r.example'), ['a', 'b']);
});
