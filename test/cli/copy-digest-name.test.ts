import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

// A layout image named by its sha512 digest (oci:DIR:sha512:<hex>, as the image spec lets a
// manifest be named) copied to a repository without a tag: its 128 hex digits became the tag,
// where a sha256 name gives `latest`.

let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let sha512Name: string;

before(async () => {
  tmp = await tempDir();
  registry = await startRegistry();
  image = umociImage(tmp.path, 'v1', [3_000]);
  // The manifest's bytes also stored under their sha512 digest, and listed by it, as a layout
  // written with sha512 names holds them.
  const bytes = readFileSync(join(image.layout, 'blobs', 'sha256', image.manifest.digest.slice('sha256:'.length)));
  const hex = createHash('sha512').update(bytes).digest('hex');
  sha512Name = `sha512:${hex}`;
  mkdirSync(join(image.layout, 'blobs', 'sha512'), { recursive: true });
  writeFileSync(join(image.layout, 'blobs', 'sha512', hex), bytes);
  const indexFile = join(image.layout, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: unknown[] };
  index.manifests.push({ mediaType: image.manifest.mediaType, digest: sha512Name, size: bytes.length });
  writeFileSync(indexFile, JSON.stringify(index));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

test('copy oci:DIR:sha512:<hex> REG/REPO tags it latest, as a sha256 name, not with the digest\'s hex', async () => {
  const r = await runCliAsync(['copy', `oci:${image.layout}:${sha512Name}`, `${registry.host}/by-digest/app`]);
  assertOk(r);
  assert.deepEqual(skopeoTags(`${registry.host}/by-digest/app`), ['latest']);
  assert.match(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/by-digest/app:latest`]), /"layers"/);
});
