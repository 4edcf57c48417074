import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, tempDir } from '../support/tools.js';
import { MB, assertOneLayerHolds, cliPeakRss, mib, writeRandomFile } from '../support/peak-rss.js';

/** A tree of one file of `size` random bytes. */
function randomTree(dir: string, size: number): string {
  mkdirSync(dir);
  writeRandomFile(join(dir, 'data.bin'), size);
  return dir;
}

/** `ocipush build` of a directory, in a child process: its peak resident memory. */
function buildPeakRss(rootfs: string, layout: string): number {
  return cliPeakRss(['build', '-q', '--no-cache', '--threads', '2', '--layout', layout, rootfs]);
}

/**
 * Memory is flat in the layer size: a 256 MiB layer of incompressible data builds in about the
 * memory of a 4 MiB one, and well under the 200 MB of issue #4. A tar or compressed blob held
 * whole anywhere (a buffer, a queue without back-pressure, buffers left to the garbage collector)
 * adds its 256 MiB and fails both bounds.
 */
test('building a 256 MiB layer takes no more memory than a 4 MiB one', { timeout: 300_000 }, async () => {
  requireTool('tar');
  const tmp = await tempDir();
  try {
    const small = buildPeakRss(randomTree(join(tmp.path, 'small'), 4 * MB), join(tmp.path, 'layout-small'));
    const big = buildPeakRss(randomTree(join(tmp.path, 'big'), 256 * MB), join(tmp.path, 'layout-big'));
    assert.ok(big < 200 * MB, `peak RSS ${mib(big)} building a 256 MiB layer (4 MiB layer: ${mib(small)})`);
    assert.ok(big - small < 64 * MB, `peak RSS grows with the layer: ${mib(small)} for 4 MiB, ${mib(big)} for 256 MiB`);

    // The layer is whole: GNU tar reads the 256 MiB file back from the blob.
    assertOneLayerHolds(join(tmp.path, 'layout-big'), 'data.bin', 256 * MB);
  } finally {
    await tmp.cleanup();
  }
});
