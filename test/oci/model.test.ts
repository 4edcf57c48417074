import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Digester, parseDigest, sha256 } from '../../src/oci/digest.js';
import { parsePlatform, platformMatches, formatPlatform } from '../../src/oci/descriptor.js';
import { parseManifest, encodeJson } from '../../src/oci/manifest.js';
import { MediaType, layerCompression, layerMediaType } from '../../src/oci/media-types.js';

test('digests agree with sha256sum', () => {
  const expected = createHash('sha256').update('hello world\n').digest('hex');
  assert.equal(sha256('hello world\n'), `sha256:${expected}`);
  const d = new Digester();
  d.update(Buffer.from('hello '));
  d.update(Buffer.from('world\n'));
  assert.equal(d.digest(), `sha256:${expected}`);
  assert.equal(d.size, 12);
  assert.throws(() => parseDigest('sha256:XYZ'), /invalid digest/);
});

test('platforms parse, format and match with default variants', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(formatPlatform(parsePlatform('linux/amd64')), 'linux/amd64');
  assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' }));
  assert.ok(!platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.throws(() => parsePlatform('linux'), /expected os\/arch/);
});

test('manifests parse with the media type from the body or the descriptor', () => {
  const layer = { mediaType: MediaType.OciLayerGzip, digest: sha256('l'), size: 1 };
  const manifest = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: sha256('c'), size: 1 }, layers: [layer] };
  const parsed = parseManifest(encodeJson(manifest), 'test', MediaType.DockerManifest);
  assert.equal(parsed.mediaType, MediaType.DockerManifest);
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'), 'm'), /config/);
  assert.throws(() => parseManifest(Buffer.from('nope'), 'm'), /not valid JSON/);
  const index = parseManifest(encodeJson({ schemaVersion: 2, manifests: [] }), 'i');
  assert.equal(index.mediaType, MediaType.OciIndex);
});

test('layer media types and compression agree in both families', () => {
  assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
  assert.equal(layerCompression(MediaType.OciLayer), 'none');
  assert.equal(layerMediaType('gzip', 'docker'), MediaType.DockerLayerGzip);
  assert.equal(layerMediaType('none'), MediaType.OciLayer);
});
