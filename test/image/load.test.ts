import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { run, runCli, tempDir } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { skopeo } from '../archive/support.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { loadImage, loadImageOrIndex } from '../../src/image/load.js';
import type { ImageView } from '../../src/image/view.js';
import { openImage } from '../../src/transports/open.js';
import { MediaType } from '../../src/oci/media-types.js';

/**
 * The one loader: the same image opened from a layout, a registry, ocipush's own docker-archive,
 * an oci-archive (a tar of the layout) and a docker-archive skopeo wrote gives the same views.
 */
describe('the image model: one loader over every storage', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let layout: string;
  const connect = (host: string) => connectRegistry(host, {});

  before(async () => {
    tmp = await tempDir('ocipush-load-');
    registry = await startRegistry();
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'motd'), 'one model\n');
    writeFileSync(join(rootfs, 'data.bin'), Buffer.alloc(300_000, 7));
    layout = join(tmp.path, 'layout');
    const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };
    for (const args of [
      ['build', rootfs, '--layout', layout, '--tag', 'app:1', '--entrypoint', '/bin/app', '--env', 'MODEL=one'],
      ['push', `${registry.host}/model/app:1`, '--layout', layout, '--tag', 'app:1'],
      ['export', '--layout', layout, '--oci-layout', '-o', join(tmp.path, 'own.tar'), 'app:1'],
    ]) {
      const r = runCli(args, { env });
      assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
    }
    run('tar', ['-cf', join(tmp.path, 'layout.tar'), '-C', layout, '.']);
    skopeo(['copy', '-q', `oci:${layout}:app:1`, `docker-archive:${join(tmp.path, 'skopeo.tar')}:model/app:1`]);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** Opens the reference, loads its image and hands it to `use` while the storage is open. */
  async function withImage<T>(reference: string, use: (view: ImageView) => Promise<T> | T): Promise<T> {
    const opened = await openImage(reference, { connect });
    try {
      return await use(await loadImage(opened.storage, opened.root, { name: reference }));
    } finally {
      await opened.close();
    }
  }
  const open = (reference: string) => withImage(reference, (view) => view);
  const summarise = (reference: string) => withImage(reference, summary);

  /** What a view says, with every layer read back through it (bytes hashed: the view verifies). */
  async function summary(view: ImageView) {
    const layers = [];
    for (const layer of view.layers) {
      const bytes = await buffer(await layer.open());
      layers.push({ ...layer.descriptor, diffId: layer.diffId, read: `sha256:${createHash('sha256').update(bytes).digest('hex')}` });
    }
    return {
      digest: view.descriptor.digest,
      mediaType: view.descriptor.mediaType,
      manifest: view.manifestBytes.toString('base64'),
      config: view.configBytes.toString('base64'),
      platform: view.platform,
      format: view.format,
      layers,
    };
  }

  it('a layout, a registry, its docker-archive (as docker save ≥ 25 writes it) and its oci-archive give equal views', async () => {
    const fromLayout = await summarise(`oci:${layout}:app:1`);
    assert.equal(fromLayout.layers.length, 1);
    assert.equal(fromLayout.layers[0]!.read, fromLayout.layers[0]!.digest, 'a layer read through the view is the blob its descriptor names');
    assert.deepEqual(await summarise(`${registry.host}/model/app:1`), fromLayout);
    assert.deepEqual(await summarise(`docker://${registry.host}/model/app:1`), fromLayout);
    assert.deepEqual(await summarise(`docker-archive:${join(tmp.path, 'own.tar')}:app:1`), fromLayout);
    assert.deepEqual(await summarise(`oci-archive:${join(tmp.path, 'layout.tar')}:app:1`), fromLayout);
  });

  it('a docker-archive without manifests (skopeo\'s, with uncompressed layers) gets one made up, as skopeo does', async () => {
    const fromLayout = await open(`oci:${layout}:app:1`);
    const fromArchive = await withImage(`docker-archive:${join(tmp.path, 'skopeo.tar')}`, async (view) => {
      // Uncompressed layers: the blob is the tar, so its digest is the diff_id, and reading it verifies.
      for (const layer of view.layers) {
        assert.equal(layer.descriptor.digest, layer.diffId);
        const bytes = await buffer(await layer.open());
        assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.diffId);
      }
      return view;
    });
    assert.equal(fromArchive.format, 'docker');
    assert.equal(fromArchive.descriptor.mediaType, MediaType.DockerManifest);
    assert.deepEqual(fromArchive.config.rootfs.diff_ids, fromLayout.config.rootfs.diff_ids);
    assert.deepEqual(fromArchive.config.config?.Entrypoint, ['/bin/app']);
    // Named as skopeo wrote it, and by position.
    assert.equal((await open(`docker-archive:${join(tmp.path, 'skopeo.tar')}:model/app:1`)).descriptor.digest, fromArchive.descriptor.digest);
    assert.equal((await open(`docker-archive:${join(tmp.path, 'skopeo.tar')}:@0`)).descriptor.digest, fromArchive.descriptor.digest);
  });

  it('an index is a view of its own, narrowed to a platform by loadImage', async () => {
    const r = runCli(['index', 'create', '--layout', layout, '--tag', 'multi', 'app:1']);
    assert.equal(r.status, 0, r.stderr);
    const opened = await openImage(`oci:${layout}:multi`);
    try {
      const node = await loadImageOrIndex(opened.storage, opened.root);
      assert.equal(node.kind, 'index');
      const image = await loadImage(opened.storage, opened.root, { platform: { os: 'linux', architecture: 'amd64' } });
      assert.equal(image.index?.digest, opened.root.digest);
      await assert.rejects(loadImage(opened.storage, opened.root, { name: 'multi', platform: { os: 'linux', architecture: 's390x' } }),
        /multi has no image for linux\/s390x \(it has: linux\/amd64\)/);
    } finally {
      await opened.close();
    }
  });

  it('names what is wrong: an unknown transport, a missing archive, a name the archive lacks', async () => {
    await assert.rejects(openImage('ftp://example/app'), { code: 'EUSAGE' });
    await assert.rejects(openImage(`docker-archive:${join(tmp.path, 'missing.tar')}`), /missing\.tar/);
    await assert.rejects(openImage(`docker-archive:${join(tmp.path, 'own.tar')}:other:2`), /no image named "other:2" \(the archive has: app:1\)/);
  });
});
