import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { rebaseImage, type OpenedBase } from '../../src/assemble/rebase.js';
import { OciLayout } from '../../src/content/layout.js';
import { withBlobs } from '../../src/content/with-blobs.js';
import { loadImage } from '../../src/image/load.js';
import { sha256 } from '../../src/oci/digest.js';
import type { Descriptor, Platform } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { HistoryEntry, ImageConfig, ImageManifest } from '../../src/oci/manifest.js';
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

interface Made { desc: Descriptor; layers: Descriptor[]; diffIds: string[] }

async function image(options: {
  below?: Made; own: number; history?: HistoryEntry[]; platform?: Partial<ImageConfig>; manifestType?: string; layerType?: string; diffIds?: string[];
}): Promise<Made> {
  const own: Descriptor[] = [];
  for (let i = 0; i < options.own; i++) own.push(await layout.putBytes(options.layerType ?? MediaType.OciLayerGzip, randomBytes(500)));
  const layers = [...(options.below?.layers ?? []), ...own];
  const diffIds = options.diffIds ?? [...(options.below?.diffIds ?? []), ...own.map(() => sha256(randomBytes(8)))];
  const config = await layout.putJson(MediaType.OciConfig, {
    created: '2024-05-01T12:00:00Z', architecture: 'arm', os: 'linux', ...(options.platform ?? {}),
    config: { Env: ['PATH=/bin'], Cmd: ['run'] }, rootfs: { type: 'layers', diff_ids: diffIds }, ...(options.history ? { history: options.history } : {}),
  });
  const mediaType = options.manifestType ?? MediaType.OciManifest;
  const desc = await layout.putJson(mediaType, { schemaVersion: 2, mediaType, config, layers });
  return { desc, layers, diffIds };
}

function opener(bases: Record<string, Made>, names: Record<string, string> = {}) {
  return async (reference: string, platform: Platform): Promise<OpenedBase> => {
    const made = bases[reference];
    if (!made) throw new Error(`unexpected base ${reference}`);
    return { image: await loadImage(layout, made.desc, { platform }), storage: layout, ...(names[reference] ? { name: names[reference] } : {}) };
  };
}

async function readJson<T>(storage: { fetch: OciLayout['fetch'] }, desc: Descriptor): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.fetch(desc)) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

describe('rebaseImage', () => {
  it('swaps the base layers, diff_ids and history, takes the platform fields of the new base, keeps the image\'s own config', async () => {
    const oldBase = await image({ own: 2, history: [{ created_by: 'old 1' }, { created_by: 'old env', empty_layer: true }, { created_by: 'old 2' }] });
    const newBase = await image({ own: 1, history: [{ created_by: 'new 1' }], platform: { variant: 'v7' } });
    const app = await image({ below: oldBase, own: 1, history: [{ created_by: 'old 1' }, { created_by: 'old env', empty_layer: true }, { created_by: 'old 2' }, { created_by: 'app' }], platform: { variant: 'v6' } });
    const rebased = await rebaseImage(layout, app.desc, await layout.readBlob(app.desc), 'app', {
      oldBase: 'old', newBase: 'new', openBase: opener({ old: oldBase, new: newBase }, { new: 'registry.example/base:2' }),
    });
    const view = withBlobs(layout, [...rebased.blobs, { descriptor: rebased.root, bytes: rebased.rootBytes }]);
    const manifest = await readJson<ImageManifest>(view, rebased.root);
    assert.deepEqual(manifest.layers, [...newBase.layers, app.layers.at(-1)]);
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.base.digest': newBase.desc.digest, 'org.opencontainers.image.base.name': 'registry.example/base:2' });
    const config = await readJson<ImageConfig>(view, manifest.config);
    assert.deepEqual(config.rootfs.diff_ids, [...newBase.diffIds, app.diffIds.at(-1)]);
    assert.deepEqual(config.history?.map((h) => h.created_by), ['new 1', 'app']);
    assert.equal(config.variant, 'v7');
    assert.deepEqual(config.config, { Env: ['PATH=/bin'], Cmd: ['run'] });
    assert.equal(config.created, '2024-05-01T12:00:00Z');
    assert.deepEqual(rebased.borrowed.map((b) => b.descriptors), [newBase.layers]);
  });

  it('a Docker image gets the new base\'s layers under Docker media types (the same bytes)', async () => {
    const oldBase = await image({ own: 1, manifestType: MediaType.DockerManifest, layerType: MediaType.DockerLayerGzip });
    const newBase = await image({ own: 1 });
    const app = await image({ below: oldBase, own: 1, manifestType: MediaType.DockerManifest, layerType: MediaType.DockerLayerGzip });
    const rebased = await rebaseImage(layout, app.desc, await layout.readBlob(app.desc), 'app', { oldBase: 'old', newBase: 'new', openBase: opener({ old: oldBase, new: newBase }) });
    const manifest = JSON.parse(rebased.rootBytes.toString('utf8')) as ImageManifest;
    assert.equal(manifest.mediaType, MediaType.DockerManifest);
    assert.deepEqual(manifest.layers.map((l) => [l.digest, l.mediaType]), [[newBase.layers[0]!.digest, MediaType.DockerLayerGzip], [app.layers[1]!.digest, MediaType.DockerLayerGzip]]);
  });

  it('refuses an image whose layers do not begin with the old base\'s, by digest or by diff_id', async () => {
    const oldBase = await image({ own: 1 });
    const newBase = await image({ own: 1 });
    const other = await image({ below: newBase, own: 1 });
    await assert.rejects(
      rebaseImage(layout, other.desc, await layout.readBlob(other.desc), 'reg/app:1', { oldBase: 'reg/base:1', newBase: 'new', openBase: opener({ 'reg/base:1': oldBase, new: newBase }) }),
      { code: 'EINVALID', message: new RegExp(`^reg/app:1 is not built on reg/base:1 \\(${oldBase.desc.digest}\\): its layer 0 is ${newBase.layers[0]!.digest}, the base's ${oldBase.layers[0]!.digest}$`) },
    );
    const forged = await image({ below: oldBase, own: 1, diffIds: [sha256('not the base'), sha256('own')] });
    await assert.rejects(
      rebaseImage(layout, forged.desc, await layout.readBlob(forged.desc), 'reg/app:2', { oldBase: 'reg/base:1', newBase: 'new', openBase: opener({ 'reg/base:1': oldBase, new: newBase }) }),
      { code: 'EINVALID', message: /^reg\/app:2 is not built on reg\/base:1 \(sha256:[0-9a-f]{64}\): its diff_id 0 is sha256:[0-9a-f]{64}, the base's sha256:[0-9a-f]{64}$/ },
    );
  });

  it('a Docker image onto a base of zstd layers, which Docker media types cannot name: refused in a line that names no flag rebase lacks', async () => {
    const oldBase = await image({ own: 1, manifestType: MediaType.DockerManifest, layerType: MediaType.DockerLayerGzip });
    const newBase = await image({ own: 1, layerType: MediaType.OciLayerZstd });
    const app = await image({ below: oldBase, own: 1, manifestType: MediaType.DockerManifest, layerType: MediaType.DockerLayerGzip });
    await assert.rejects(
      rebaseImage(layout, app.desc, await layout.readBlob(app.desc), 'app', { oldBase: 'old', newBase: 'new', openBase: opener({ old: oldBase, new: newBase }) }),
      { code: 'EUSAGE', message: `app is a Docker image, and the new base's layer ${newBase.layers[0]!.digest} is zstd-compressed, which Docker media types cannot name: rebase onto a gzip base, or make the image OCI first (ocipush mutate --format oci)` },
    );
  });
});
