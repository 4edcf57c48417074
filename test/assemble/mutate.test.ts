import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mutateImage } from '../../src/assemble/mutate.js';
import { OciLayout } from '../../src/content/layout.js';
import { withBlobs } from '../../src/content/with-blobs.js';
import { sha256 } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { ImageConfig, ImageIndex, ImageManifest } from '../../src/oci/manifest.js';
import { tempDir } from '../support/tools.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let layout: OciLayout;

before(async () => {
  tmp = await tempDir();
  layout = await OciLayout.open(tmp.path, { create: true });
});
after(async () => {
  await layout?.close();
  await tmp?.cleanup();
});

async function image(architecture: string, run: ImageConfig['config'], extra: Partial<ImageManifest> = {}): Promise<Descriptor> {
  const layer = await layout.putBytes(MediaType.OciLayerGzip, randomBytes(1000));
  const config = await layout.putJson(MediaType.OciConfig, {
    created: '2024-05-01T12:00:00Z', architecture, os: 'linux', config: run,
    rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8))] }, history: [{ created_by: 'umoci insert' }],
  });
  return layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer], ...extra }, { platform: { os: 'linux', architecture } });
}

async function read<T>(storage: { fetch: OciLayout['fetch'] }, desc: Descriptor): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.fetch(desc)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  assert.equal(sha256(bytes), desc.digest, 'bytes match their digest');
  return JSON.parse(bytes.toString('utf8')) as T;
}

describe('mutateImage', () => {
  it('changes the run config as build --base does, keeps layers, history and time, and re-encodes only what changed', async () => {
    const root = await image('amd64', { Env: ['PATH=/usr/bin', 'MODE=dev'], Cmd: ['serve'], Labels: { b: '1' }, Volumes: { '/data': {} } });
    const bytes = await layout.readBlob(root);
    const mutated = await mutateImage(layout, root, bytes, { run: { labels: { a: '2' }, env: ['MODE=prod', 'X=1'], entrypoint: ['/app'] }, annotations: { 'org.example': 'yes' } }, 'test');
    assert.notEqual(mutated.root.digest, root.digest);
    assert.deepEqual(mutated.root.platform, root.platform, 'the descriptor keeps its platform');
    const view = withBlobs(layout, [...mutated.blobs, { descriptor: mutated.root, bytes: mutated.rootBytes }]);
    const before = await read<ImageManifest>(layout, root);
    const manifest = await read<ImageManifest>(view, mutated.root);
    assert.deepEqual(manifest.layers, before.layers);
    assert.deepEqual(manifest.annotations, { 'org.example': 'yes' });
    const oldConfig = await read<ImageConfig>(layout, before.config);
    const config = await read<ImageConfig>(view, manifest.config);
    assert.deepEqual(config.config, {
      Env: ['PATH=/usr/bin', 'MODE=prod', 'X=1'], Labels: { a: '2', b: '1' }, Volumes: { '/data': {} }, Entrypoint: ['/app'],
    }, 'env replaced in place, labels merged, the inherited Cmd reset by the entrypoint, the rest kept');
    assert.deepEqual({ ...config, config: undefined }, { ...oldConfig, config: undefined }, 'time, history, rootfs untouched');
    assert.deepEqual(mutated.images, [{ from: root.digest, to: mutated.root.digest, platform: { os: 'linux', architecture: 'amd64' } }]);
    assert.deepEqual(mutated.blobs.map((b) => b.descriptor.digest), [manifest.config.digest], 'the config is the only new blob beside the root');
  });

  it('changes every image of an index, keeps what is not an image, and leaves out BuildKit attestations of the old images', async () => {
    const amd = await image('amd64', { Cmd: ['a'] });
    const arm = await image('arm64', { Cmd: ['a'] });
    const artifactConfig = await layout.putBytes(MediaType.OciEmpty, Buffer.from('{}'));
    const artifact = await layout.putJson(MediaType.OciManifest, {
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/example', config: artifactConfig, layers: [artifactConfig],
    });
    const attestation = { ...artifact, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd.digest } };
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd, arm, artifact, attestation], annotations: { keep: 'me' } };
    const root = await layout.putJson(MediaType.OciIndex, index);
    const mutated = await mutateImage(layout, root, await layout.readBlob(root), { run: { labels: { rev: 'abc' } }, annotations: { added: '1' } }, 'test');
    const view = withBlobs(layout, [...mutated.blobs, { descriptor: mutated.root, bytes: mutated.rootBytes }]);
    const next = await read<ImageIndex>(view, mutated.root);
    assert.deepEqual(next.annotations, { added: '1', keep: 'me' });
    assert.equal(next.manifests.length, 3, 'the attestation of the old amd64 image is left out');
    assert.deepEqual(mutated.dropped.map((d) => d.digest), [artifact.digest]);
    assert.deepEqual(next.manifests[2], artifact, 'an artifact that is not an image stays as it was');
    for (const [i, old] of [amd, arm].entries()) {
      const entry = next.manifests[i]!;
      assert.notEqual(entry.digest, old.digest);
      assert.deepEqual(entry.platform, old.platform);
      const manifest = await read<ImageManifest>(view, entry);
      assert.equal(manifest.annotations, undefined, 'annotations go on the index, not its images');
      assert.deepEqual((await read<ImageConfig>(view, manifest.config)).config?.Labels, { rev: 'abc' });
    }
    assert.deepEqual(mutated.images.map((i) => i.platform.architecture), ['amd64', 'arm64']);
    // Children before their parents: each new config before its manifest.
    const order = mutated.blobs.map((b) => b.descriptor.mediaType);
    assert.deepEqual(order, [MediaType.OciConfig, MediaType.OciManifest, MediaType.OciConfig, MediaType.OciManifest]);
  });

  it('--format docker names the same config and layers with Docker media types, an index as a manifest list; back to OCI likewise', async () => {
    const amd = await image('amd64', { Cmd: ['a'] });
    const arm = await image('arm64', { Cmd: ['a'] });
    const root = await layout.putJson(MediaType.OciIndex, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd, arm] });
    const docker = await mutateImage(layout, root, await layout.readBlob(root), { run: {}, format: 'docker' }, 'test');
    assert.equal(docker.root.mediaType, MediaType.DockerManifestList);
    const view = withBlobs(layout, [...docker.blobs, { descriptor: docker.root, bytes: docker.rootBytes }]);
    const list = await read<ImageIndex>(view, docker.root);
    assert.equal(list.mediaType, MediaType.DockerManifestList);
    for (const [i, entry] of list.manifests.entries()) {
      assert.equal(entry.mediaType, MediaType.DockerManifest);
      assert.deepEqual(entry.platform, [amd, arm][i]!.platform);
      const manifest = await read<ImageManifest>(view, entry);
      const before = await read<ImageManifest>(layout, [amd, arm][i]!);
      assert.equal(manifest.mediaType, MediaType.DockerManifest);
      assert.deepEqual([manifest.config.mediaType, manifest.config.digest], [MediaType.DockerConfig, before.config.digest], 'the same config bytes');
      assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), before.layers.map((l) => [MediaType.DockerLayerGzip, l.digest]));
    }
    assert.deepEqual(docker.blobs.map((b) => b.descriptor.mediaType), [MediaType.DockerManifest, MediaType.DockerManifest], 'no config is made again');
    const back = await mutateImage(view, docker.root, docker.rootBytes, { run: {}, format: 'oci' }, 'test');
    assert.equal(back.root.mediaType, MediaType.OciIndex);
    const annotated = await layout.putJson(MediaType.OciIndex, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd], annotations: { a: '1' } });
    await assert.rejects(mutateImage(layout, annotated, await layout.readBlob(annotated), { run: {}, format: 'docker' }, 'reg/app:1'), { code: 'EUSAGE', message: /^reg\/app:1: the index has annotations, which a Docker manifest list cannot hold$/ });
  });

  it('what is already so changes nothing: the same digest, no blob made', async () => {
    const root = await image('amd64', { Labels: { a: '1' }, Env: ['A=1'] });
    const mutated = await mutateImage(layout, root, await layout.readBlob(root), { run: { labels: { a: '1' }, env: ['A=1'] }, annotations: {} }, 'test');
    assert.equal(mutated.root.digest, root.digest);
    assert.deepEqual(mutated.blobs, []);
    assert.deepEqual(mutated.images, []);
  });

  it('refuses an annotation on a Docker manifest list and a root that is not a container image, naming it', async () => {
    const docker = await layout.putJson(MediaType.DockerManifestList, { schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [] });
    await assert.rejects(
      mutateImage(layout, docker, await layout.readBlob(docker), { run: {}, annotations: { a: '1' } }, 'reg/app:1'),
      { code: 'EUSAGE', message: /^reg\/app:1 is a Docker manifest list, which has no annotations/ },
    );
    const empty = await layout.putBytes(MediaType.OciEmpty, Buffer.from('{}'));
    const artifact = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/example', config: empty, layers: [empty] });
    await assert.rejects(
      mutateImage(layout, artifact, await layout.readBlob(artifact), { run: { labels: { a: '1' } } }, 'reg/sbom:1'),
      { code: 'EUNSUPPORTED', message: /^reg\/sbom:1 is not a container image \(config media type application\/vnd\.oci\.empty\.v1\+json\)/ },
    );
  });

  it('--format docker of an image with a zstd layer: refused in a line that names no flag mutate lacks (build\'s --compression)', async () => {
    const layer = await layout.putBytes(MediaType.OciLayerZstd, randomBytes(1000));
    const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8))] } });
    const root = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
    await assert.rejects(mutateImage(layout, root, await layout.readBlob(root), { run: {}, format: 'docker' }, 'reg/app:1'), {
      code: 'EUSAGE',
      message: `reg/app:1 (linux/amd64): layer ${layer.digest} is zstd-compressed, which Docker media types cannot name, and mutate does not compress layers again; it stays an OCI image`,
    });
  });
});
