import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, openSync, closeSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../../src/index.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { readImage } from '../assemble/support.js';

/**
 * A file beyond the 8 GiB a ustar size field holds (pax `size`). The file is sparse, so it costs
 * no disk, but its 8 GiB of zeros really go through tar → sha256 → gzip (they compress to a few
 * MB) and are read back by GNU tar, which follows the pax size through all 8 GiB to the end of
 * the archive (a wrong size would derail it at the next header). Roughly 20–40 s on 2 cores;
 * unpacking with umoci is left out, as it would write 8 GiB of real zeros to disk.
 */
test('a file larger than 8 GiB is stored whole, with a pax size', { timeout: 600_000 }, async () => {
  requireTool('tar');
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    const size = 8 * 1024 ** 3 + 4097;
    const tail = Buffer.from('the end of a very large file\n'); // not all zeros
    const fd = openSync(join(rootfs, 'huge.img'), 'w');
    ftruncateSync(fd, size);
    writeSync(fd, tail, 0, tail.length, size - tail.length);
    closeSync(fd);

    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [rootfs], layout });
    assert.equal(result.layers[0]!.uncompressedSize, 512 + 512 + 512 + Math.ceil(size / 512) * 512 + 1024, 'pax header + records + header + content + end');
    const blob = readImage(layout).blob(result.layers[0]!.digest);

    const listing = run('tar', ['-tvzf', blob]);
    assert.match(listing, new RegExp(`^-rw-r--r-- 0/0 +${size} 1970-01-01 00:00 huge\\.img\\n$`));
  } finally {
    await tmp.cleanup();
  }
});
