import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterPlatforms } from '../../src/assemble/filter-index.js';
import type { ReadOnlyStorage } from '../../src/content/storage.js';
import { sha256 } from '../../src/oci/digest.js';
import { encodeJson } from '../../src/oci/manifest.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const digestOf = (name: string) => sha256(name);

/** An index as BuildKit writes one: an image per platform, each followed by its attestation manifest. */
function buildkitIndex(arches: string[]) {
  const manifests = arches.flatMap((arch) => [
    { mediaType: MANIFEST, digest: digestOf(arch), size: 100, platform: { architecture: arch, os: 'linux' } },
    {
      mediaType: MANIFEST, digest: digestOf(`att-${arch}`), size: 50, platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.digest': digestOf(arch), 'vnd.docker.reference.type': 'attestation-manifest' },
    },
  ]);
  const bytes = encodeJson({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
  return { descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(bytes), size: bytes.length }, bytes };
}

/** An index is filtered from its own bytes: the storage is never asked. */
const untouched: ReadOnlyStorage = {
  exists: async () => assert.fail('the storage was asked'),
  fetch: async () => assert.fail('the storage was asked'),
};

describe('filterPlatforms', () => {
  it('keeps the images of the platforms asked for and the attestation manifests of those images, in their order', async () => {
    const { descriptor, bytes } = buildkitIndex(['amd64', 'arm64', 's390x']);
    const filtered = await filterPlatforms(untouched, descriptor, bytes, [{ os: 'linux', architecture: 's390x' }, { os: 'linux', architecture: 'amd64' }], 'base');
    assert.equal(filtered.changed, true);
    const kept = (JSON.parse(filtered.bytes.toString()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    assert.deepEqual(kept, [digestOf('amd64'), digestOf('att-amd64'), digestOf('s390x'), digestOf('att-s390x')]);
    assert.equal(filtered.descriptor.digest, sha256(filtered.bytes));
  });

  it('leaves an index that holds nothing else as it is, and matches arm64 to arm64/v8', async () => {
    const { descriptor, bytes } = buildkitIndex(['arm64']);
    const filtered = await filterPlatforms(untouched, descriptor, bytes, [{ os: 'linux', architecture: 'arm64', variant: 'v8' }], 'base');
    assert.equal(filtered.changed, false);
    assert.equal(filtered.bytes, bytes);
  });

  it('never takes an attestation manifest for an image of the platform unknown/unknown', async () => {
    const { descriptor, bytes } = buildkitIndex(['amd64']);
    await assert.rejects(filterPlatforms(untouched, descriptor, bytes, [{ os: 'unknown', architecture: 'unknown' }], 'base'), /base has no image for unknown\/unknown \(it has: linux\/amd64\)/);
  });
});
