import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { copyGraph, type CopyEvent } from '../../src/transfer/copy-graph.js';
import { OciLayout } from '../../src/content/layout.js';
import { OcipushError } from '../../src/errors.js';
import { connectRegistry } from '../../src/registry/connect.js';
import type { RegistryClient } from '../../src/registry/http.js';
import { Repository } from '../../src/registry/repository.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { blobPath, blobWrites, MiB, multiPlatformImage, putDigest, skopeoDigest, skopeoRawManifest, umociImage, uploadStarts, type UmociImage } from './support.js';

describe('copyGraph from a layout to the real registry', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let layout: OciLayout;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    client = connectRegistry(registry.host);
    image = umociImage(tmp.path, 'v1', [3.5 * MiB, 200_000]);
    layout = await OciLayout.open(image.layout);
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
    await tmp?.cleanup();
  });
  // The registry logs a request just after answering it: let the last test's lines arrive first.
  const forgetLog = async () => {
    await registry.forgetAccessLog();
  };
  beforeEach(forgetLog);

  const push = (repo: string, options: { chunkSize?: number; chunkThreshold?: number; mountFrom?: string; tag?: string } = {}) =>
    copyGraph(layout, new Repository(client, repo, options), image.manifest, {
      rootReference: options.tag ?? 'v1',
      mountFrom: options.mountFrom ? () => options.mountFrom : undefined,
    });

  it('pushes a umoci image monolithically: one POST + PUT per blob, the manifest last; skopeo sees the same digest', async () => {
    const result = await push('mono/app');
    assert.deepEqual(result.nodes.map((n) => [n.descriptor.digest, n.kind, n.outcome]), [
      [image.layers[0], 'layer', 'uploaded'], [image.layers[1], 'layer', 'uploaded'], [image.config, 'config', 'uploaded'], [image.manifest.digest, 'manifest', 'uploaded'],
    ]);
    const log = await registry.settledAccessLog();
    const writes = blobWrites(log);
    assert.equal(writes.filter((e) => e.method === 'PATCH').length, 0);
    assert.deepEqual(writes.map(putDigest).sort(), [...image.layers, image.config].sort());
    assert.equal(uploadStarts(log).length, 3);
    const manifestPut = log.findIndex((e) => e.method === 'PUT' && e.path === '/v2/mono/app/manifests/v1');
    assert.equal(log[manifestPut]?.status, 201);
    assert.ok(log.every((e, i) => !(e.path.includes('/blobs/') && e.method !== 'HEAD') || i < manifestPut), 'every blob request comes before the manifest PUT');
    assert.equal(skopeoDigest(`${registry.host}/mono/app:v1`), image.manifest.digest);
  });

  it('--chunk-size 1MiB sends ceil(size / 1MiB) PATCHes per blob with inclusive Content-Range, then the PUT', async () => {
    await push('chunked/app', { chunkSize: MiB });
    const log = await registry.settledAccessLog();
    const patches = log.filter((e) => e.method === 'PATCH');
    const sizes = [...image.layers, image.config].map((d) => statSync(blobPath(image.layout, d)).size);
    const expected = sizes.reduce((n, size) => n + Math.ceil(size / MiB), 0);
    assert.equal(patches.length, expected, `PATCH count for blobs of ${sizes.join(', ')} bytes`);
    assert.ok(patches.every((e) => e.status === 202));
    const finals = blobWrites(log).filter((e) => e.method === 'PUT');
    assert.equal(finals.length, 3);
    assert.ok(finals.every((e) => e.status === 201));
    assert.equal(skopeoDigest(`${registry.host}/chunked/app:v1`), image.manifest.digest);
  });

  it('goes through PATCH by default only above the threshold', async () => {
    await push('threshold/app', { chunkThreshold: MiB });
    const log = await registry.settledAccessLog();
    // Only the 3.5 MiB layer is above 1 MiB: one streaming PATCH holds all of it.
    assert.equal(log.filter((e) => e.method === 'PATCH').length, 1);
    assert.equal(blobWrites(log).filter((e) => e.method === 'PUT').length, 3);
  });

  it('a second push of the same image uploads nothing', async () => {
    await push('again/app');
    await forgetLog();
    const result = await push('again/app');
    assert.ok(result.nodes.every((n) => n.outcome === 'exists'));
    const log = await registry.settledAccessLog();
    assert.deepEqual(uploadStarts(log), []);
    assert.deepEqual(blobWrites(log), []);
    // The tag already names the manifest: nothing is put again.
    assert.deepEqual(log.filter((e) => e.method === 'PUT').map((e) => e.path), []);
  });

  it('mounts blobs from another repository: POST ?mount= answered 201, no data sent', async () => {
    await push('mount/source');
    await forgetLog();
    const result = await push('mount/target', { mountFrom: 'mount/source' });
    assert.deepEqual(result.nodes.map((n) => n.outcome), ['mounted', 'mounted', 'mounted', 'uploaded']);
    const log = await registry.settledAccessLog();
    const mounts = log.filter((e) => e.method === 'POST' && e.uri.includes('mount='));
    assert.equal(mounts.length, 3);
    assert.ok(mounts.every((e) => e.status === 201 && new URLSearchParams(e.uri.split('?')[1]).get('from') === 'mount/source'));
    assert.deepEqual(blobWrites(log), []);
    assert.equal(skopeoDigest(`${registry.host}/mount/target:v1`), image.manifest.digest);
  });

  it('a mount the registry cannot do (202) uploads into the session it opened, without another POST', async () => {
    const result = await push('mount/fallback', { mountFrom: 'mount/empty-repository' });
    assert.deepEqual(result.nodes.map((n) => n.outcome), ['uploaded', 'uploaded', 'uploaded', 'uploaded']);
    const log = await registry.settledAccessLog();
    const posts = log.filter((e) => e.method === 'POST');
    assert.equal(posts.length, 3);
    assert.ok(posts.every((e) => e.uri.includes('mount=') && e.status === 202));
    assert.equal(blobWrites(log).filter((e) => e.method === 'PUT' && e.status === 201).length, 3);
  });

  it('an index goes children first: each blob once, then the platform manifests, then the index under its tag', async () => {
    const dir = join(tmp.path, 'multi');
    const multi = await multiPlatformImage(dir, 'multi');
    const src = await OciLayout.open(dir);
    const events: CopyEvent[] = [];
    const result = await copyGraph(src, new Repository(client, 'multi/app'), multi.index, { rootReference: 'all', concurrency: 2, onEvent: (e) => events.push(e) });
    assert.equal(result.nodes.length, multi.blobs.length + 3);
    assert.equal(result.nodes.at(-1)?.descriptor.digest, multi.index.digest);
    const log = await registry.settledAccessLog();
    const blobPuts = blobWrites(log).map(putDigest);
    assert.deepEqual([...blobPuts].sort(), [...multi.blobs].sort(), 'every blob uploaded exactly once');
    const manifestPuts = log.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/')).map((e) => e.path.split('/manifests/')[1]);
    assert.deepEqual(manifestPuts.slice(0, 2).sort(), multi.manifests.map((m) => m.digest).sort());
    assert.equal(manifestPuts[2], 'all');
    // Each platform manifest goes up only after all its blobs are confirmed.
    for (const m of multi.manifests) {
      const body = JSON.parse(readFileSync(blobPath(dir, m.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
      const manifestAt = log.findIndex((e) => e.method === 'PUT' && e.path.endsWith(`/manifests/${m.digest}`));
      for (const d of [body.config.digest, ...body.layers.map((l) => l.digest)]) {
        const blobAt = log.findIndex((e) => e.method === 'PUT' && putDigest(e) === d);
        assert.ok(blobAt >= 0 && blobAt < manifestAt, `${d} before manifest ${m.digest}`);
      }
    }
    assert.equal(skopeoRawManifest(`${registry.host}/multi/app:all`).digest, multi.index.digest);
    assert.ok(events.some((e) => e.type === 'progress'));
  });

  it('pulls back into a new layout bit for bit, and a tampered blob in the registry fails with EDIGEST', async () => {
    await push('pull/app');
    const dir = join(tmp.path, 'pulled');
    const dst = await OciLayout.open(dir, { create: true });
    const repo = new Repository(client, 'pull/app');
    const root = await repo.resolve('v1');
    assert.equal(root.digest, image.manifest.digest);
    await copyGraph(repo, dst, root, { rootReference: 'copy' });
    for (const digest of [image.manifest.digest, image.config, ...image.layers]) {
      assert.ok(readFileSync(blobPath(dir, digest)).equals(readFileSync(blobPath(image.layout, digest))), `${digest} identical`);
    }
    assert.equal((await dst.resolve('copy')).digest, image.manifest.digest);

    // Flip one byte of the stored layer: the registry serves it as it is, ocipush must refuse it.
    const hex = image.layers[1]!.split(':')[1]!;
    const data = join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(data, bytes);
    const dir2 = join(tmp.path, 'pulled-corrupt');
    const dst2 = await OciLayout.open(dir2, { create: true });
    await assert.rejects(copyGraph(repo, dst2, root, { rootReference: 'copy' }), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'EDIGEST');
      assert.match(err.message, new RegExp(`blob ${image.layers[1]}`));
      return true;
    });
    assert.deepEqual(readdirSync(join(dir2, 'blobs', 'sha256')).filter((n) => n.includes(hex)), [], 'no blob stored under the wrong content');
    assert.deepEqual((await dst2.readIndex()).manifests, []);
  });

  it('resolve and fetch a missing tag: ENOTFOUND naming the reference', async () => {
    await assert.rejects(new Repository(client, 'mono/app').resolve('nope'), /ENOTFOUND|manifest not found/);
    await assert.rejects(new Repository(client, 'mono/app').fetchManifest('nope'), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'ENOTFOUND');
      assert.equal(err.message, `${registry.host}/mono/app:nope: manifest not found`);
      return true;
    });
  });
});
