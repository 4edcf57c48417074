import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { buildImage } from '../../src/index.js';
import { tempDir } from '../support/tools.js';
import { makeRichRootfs, readImage, touchTree } from './support.js';

/** The same content, created in another order, at another time, in another directory. */
function makeTree(root: string, order: 'up' | 'down', mtime: number): void {
  makeRichRootfs(root);
  mkdirSync(join(root, 'many'));
  const names = Array.from({ length: 300 }, (_, i) => `file-${String(i).padStart(3, '0')}`);
  for (const name of order === 'up' ? names : names.reverse()) writeFileSync(join(root, 'many', name), `${name}\n`);
  touchTree(root, mtime);
}

async function layerMtimes(blobPath: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    out.set(header.name, Math.floor(header.mtime!.getTime() / 1000));
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); });
  createReadStream(blobPath).pipe(createGunzip()).pipe(ex);
  await done;
  return out;
}

test('the same tree gives the same manifest digest whatever its mtimes, inode order and location', async () => {
  const tmp = await tempDir();
  try {
    makeTree(join(tmp.path, 'one', 'rootfs'), 'up', 1_600_000_000);
    makeTree(join(tmp.path, 'two', 'elsewhere'), 'down', 1_700_000_000);
    const first = await buildImage({ rootfs: [join(tmp.path, 'one', 'rootfs')], layout: join(tmp.path, 'layout-1'), sourceDateEpoch: '' });
    const second = await buildImage({ rootfs: [join(tmp.path, 'two', 'elsewhere')], layout: join(tmp.path, 'layout-2'), sourceDateEpoch: '' });
    assert.equal(second.layers[0]!.diffId, first.layers[0]!.diffId, 'same tar');
    assert.equal(second.layers[0]!.digest, first.layers[0]!.digest, 'same compressed layer');
    assert.equal(second.digest, first.digest, 'same manifest');

    // With a compression thread count of 1, the parallel compressor must give the same bytes.
    const single = await buildImage({ rootfs: [join(tmp.path, 'one', 'rootfs')], layout: join(tmp.path, 'layout-3'), sourceDateEpoch: '', threads: 1 });
    assert.equal(single.digest, first.digest, 'same bytes with one compression thread');
  } finally {
    await tmp.cleanup();
  }
});

test('SOURCE_DATE_EPOCH sets the config time and clamps later mtimes; earlier ones stay', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'dir'), { recursive: true });
    writeFileSync(join(rootfs, 'old'), 'old\n');
    writeFileSync(join(rootfs, 'dir', 'new'), 'new\n');
    touchTree(rootfs, 1_800_000_000);
    utimesSync(join(rootfs, 'old'), 1_000_000_000, 1_000_000_000);
    const layout = join(tmp.path, 'layout');
    const epoch = 1_700_000_000;
    const result = await buildImage({ rootfs: [rootfs], layout, sourceDateEpoch: String(epoch) });
    const image = readImage(layout);
    assert.equal(image.config.created, '2023-11-14T22:13:20Z');
    assert.equal(image.manifest.annotations?.['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
    const mtimes = await layerMtimes(image.blob(result.layers[0]!.digest));
    assert.deepEqual(Object.fromEntries(mtimes), { 'dir/': epoch, 'dir/new': epoch, old: 1_000_000_000 });

    // --created wins over SOURCE_DATE_EPOCH.
    const explicit = await buildImage({ rootfs: [rootfs], layout, tag: 'explicit', sourceDateEpoch: String(epoch), created: '1500000000' });
    const explicitImage = readImage(layout, 'explicit');
    assert.equal(explicitImage.config.created, '2017-07-14T02:40:00Z');
    const explicitMtimes = await layerMtimes(explicitImage.blob(explicit.layers[0]!.digest));
    assert.equal(explicitMtimes.get('dir/new'), 1_500_000_000);
    assert.equal(explicitMtimes.get('old'), 1_000_000_000);
  } finally {
    await tmp.cleanup();
  }
});
