import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../../src/index.js';
import { prefetchXattrs } from '../../src/layer/xattrs.js';
import { run, tempDir } from '../support/tools.js';
import { umociUnpack } from '../assemble/support.js';

/**
 * The CLI starts each rootfs's xattr scan (getfattr) before the build's code has loaded, so a
 * scan can read a file's xattrs long before the walk stats that file: with `build big/ small/`,
 * small/'s scan is done while big/'s layer is compressed. A setfattr in between moves the file's
 * ctime before the walk's stat sees it, and the layer holds the xattrs the scan read. The layer
 * cache must not record that layer under the walk's key: the next build would serve the old
 * xattrs for ever, where a cold build gives the new ones. The cache's wall clock (`cacheClock`,
 * a minute ahead) stands for the time the build took between the scan and its walk; no test waits.
 */
test('layer cache: a tree whose xattrs changed after its prefetched scan began is not recorded; the rebuild equals a cold build', async () => {
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'tree');
    mkdirSync(join(root, 'bin'), { recursive: true });
    const file = join(root, 'bin', 'tool');
    writeFileSync(file, 'tool\n');
    run('setfattr', ['-n', 'user.origin', '-v', 'old', file]);
    const AGED = () => Date.now() + 60_000;
    const build = (layout: string) => buildImage({ rootfs: [root], layout: join(tmp.path, layout), sourceDateEpoch: '', tag: 't', cacheClock: AGED });

    prefetchXattrs(realpathSync(root));
    run('setfattr', ['-n', 'user.origin', '-v', 'new', file]);
    await build('layout');
    const rebuilt = await build('layout');
    const cold = await build('cold');
    assert.equal(rebuilt.layers[0]!.cached, undefined, 'not served from the cache');
    assert.equal(rebuilt.layers[0]!.digest, cold.layers[0]!.digest, 'the layer a cold build gives');
    const unpacked = umociUnpack(join(tmp.path, 'layout'), 't', join(tmp.path, 'bundle'));
    assert.match(run('getfattr', ['-n', 'user.origin', '--only-values', join(unpacked, 'bin', 'tool')]), /^new$/);
  } finally {
    await tmp.cleanup();
  }
});
