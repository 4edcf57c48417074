import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { ImageIndex } from '../../src/oci/manifest.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk } from '../cli/registry-support.js';

/**
 * What docker buildx build --push writes by default (provenance on): an index of the image and its
 * attestation manifest, whose config is an image config for unknown/unknown and whose layers are
 * in-toto statements. mutate, rebase and flatten change the image, not the attestation.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };

function files(name: string, path: string, text: string): string {
  const root = join(tmp.path, name);
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
  return root;
}

/** The tag `tag` of the layout as BuildKit would have pushed it: the image `image` and an attestation of it. */
async function buildkitIndex(image: string, tag: string): Promise<void> {
  const store = await OciLayout.open(layout);
  const desc = await store.resolve(image);
  const statements = ['https://spdx.dev/Document', 'https://slsa.dev/provenance/v0.2'].map((type) => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: type, subject: [{ digest: { sha256: desc.digest.slice(7) } }] })));
  const layers = await Promise.all(statements.map((s) => store.putBytes('application/vnd.in-toto+json', s)));
  const config = await store.putJson(MediaType.OciConfig, { architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } });
  const attestation = await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers });
  const index = await store.putJson(MediaType.OciIndex, {
    schemaVersion: 2, mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform: { architecture: 'amd64', os: 'linux' } },
      { ...attestation, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.digest': desc.digest, 'vnd.docker.reference.type': 'attestation-manifest' } },
    ],
  });
  await store.tag(index, tag);
  await store.close();
}

function indexOf(tag: string): ImageIndex {
  return JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`])) as ImageIndex;
}

/** The files umoci unpacks of the amd64 image of the index `tag`, as skopeo picks it. */
function unpacked(tag: string, paths: string[]): string[] {
  const copy = join(tmp.path, `copy-${tag}`);
  run('skopeo', ['copy', '--override-os', 'linux', '--override-arch', 'amd64', `oci:${layout}:${tag}`, `oci:${copy}:x`]);
  run('umoci', ['unpack', '--image', `${copy}:x`, `${copy}-bundle`]);
  return paths.map((p) => readFileSync(join(`${copy}-bundle`, 'rootfs', p), 'utf8'));
}

before(async () => {
  requireTool('skopeo');
  requireTool('umoci');
  tmp = await tempDir();
  layout = join(tmp.path, 'layout');
  assertOk(runCli(['build', files('base-1', 'etc/version', '1\n'), '--layout', layout, '--tag', 'base-1', '-q'], { env }));
  assertOk(runCli(['build', files('base-2', 'etc/version', '2\n'), '--layout', layout, '--tag', 'base-2', '-q'], { env }));
  assertOk(runCli(['build', files('app', 'app/run', 'app\n'), '--base', `oci:${layout}:base-1`, '--layout', layout, '--tag', 'app', '-q'], { env }));
  await buildkitIndex('app', 'bk');
});
after(async () => {
  await tmp?.cleanup();
});

describe('an index BuildKit pushed with its attestation manifest', () => {
  it('rebase moves the image onto the new base and leaves the attestation of the old one out', () => {
    const r = runCli(['rebase', `oci:${layout}:bk`, `oci:${layout}:rebased`, '--old-base', `oci:${layout}:base-1`, '--new-base', `oci:${layout}:base-2`, '--json'], { env });
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as { bases: { platform: string }[] }).bases.map((b) => b.platform), ['linux/amd64']);
    assert.deepEqual(indexOf('rebased').manifests.map((m) => m.platform?.os), ['linux']);
    assert.deepEqual(unpacked('rebased', ['etc/version', 'app/run']), ['2\n', 'app\n']);
  });

  it('flatten makes the image one layer and leaves the attestation of the old one out', () => {
    assertOk(runCli(['flatten', `oci:${layout}:bk`, `oci:${layout}:flat`], { env }));
    const index = indexOf('flat');
    assert.deepEqual(index.manifests.map((m) => m.platform?.os), ['linux']);
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: unknown[] };
    assert.equal(manifest.layers.length, 1);
    assert.deepEqual(unpacked('flat', ['etc/version', 'app/run']), ['1\n', 'app\n']);
  });

  it('mutate changes the image\'s config, not the attestation\'s', () => {
    const r = runCli(['mutate', `oci:${layout}:bk`, `oci:${layout}:mutated`, '--label', 'team=web'], { env });
    assertOk(r);
    assert.doesNotMatch(r.stderr, /unknown\/unknown/, r.stderr);
    const attestation = indexOf('bk').manifests[1]!.digest;
    assert.match(r.stderr, new RegExp(`left out 1 attestation manifest of the old images \\(${attestation}\\)`), 'the attestation as it was');
  });
});
