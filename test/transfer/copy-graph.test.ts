import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tools.js';
import { buildImage } from '../../src/assemble/build-image.js';
import { OciLayout } from '../../src/content/layout.js';
import { copyGraph } from '../../src/transfer/copy-graph.js';

test('a copy cancelled while its last blob goes in stores no manifest, even into a storage that ignores the signal', async () => {
  const tmp = await tempDir('ocipush-copy-graph-');
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'file'), 'cancel me\n');
    const built = await buildImage({ rootfs: [rootfs], layout: join(tmp.path, 'src'), tag: 'app:1' });
    const src = await OciLayout.open(join(tmp.path, 'src'));
    const dst = await OciLayout.open(join(tmp.path, 'dst'), { create: true });
    const root = await src.resolve('app:1');
    const controller = new AbortController();
    await assert.rejects(copyGraph(src, dst, root, {
      signal: controller.signal,
      rootReference: 'app:1',
      // The config is the last blob before the manifest: cancel as it lands.
      onEvent: (e) => { if (e.type === 'done' && e.kind === 'config') controller.abort(); },
    }), { name: 'AbortError' });
    assert.equal(await dst.exists(built.manifest), false, 'the manifest was not stored');
    assert.deepEqual((await dst.readIndex()).manifests, [], 'nothing was tagged');
  } finally {
    await tmp.cleanup();
  }
});
