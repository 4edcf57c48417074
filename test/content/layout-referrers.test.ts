import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayout } from '../../src/content/layout.js';
import { layoutReferrers, recordLayoutReferrers, storeLayoutReferrer } from '../../src/content/layout-referrers.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { startRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

const SPDX = 'application/spdx+json';

async function image(layout: OciLayout, name: string): Promise<Descriptor> {
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name });
  return layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] });
}

function sbom(layout: OciLayout, subject: Descriptor, text: string): Promise<Descriptor> {
  return storeLayoutReferrer(layout, subject, SPDX, [{ mediaType: SPDX, bytes: Buffer.from(text) }]);
}

async function listed(layout: OciLayout): Promise<string[]> {
  return (await layout.readIndex()).manifests.filter((d) => d.artifactType !== undefined).map((d) => d.digest).sort();
}

test('a referrer stays listed while the layout names its subject: an image, a manifest of an indexed index, a listed referrer', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const amd64 = await image(layout, 'amd64');
  const index = await layout.putJson(MediaType.OciIndex, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd64] });
  await layout.tag(index, 'multi');
  const other = await image(layout, 'other');
  await layout.tag(other, 'other');

  const ofPlatform = await sbom(layout, amd64, '{"of":"amd64"}');
  const ofSbom = await sbom(layout, ofPlatform, '{"signature of":"the sbom"}');
  const ofOther = await sbom(layout, other, '{"of":"other"}');
  // Storing the third pruned nothing: amd64 is under the tagged index, and the second refers to the first.
  assert.deepEqual(await listed(layout), [ofPlatform.digest, ofSbom.digest, ofOther.digest].sort());
  assert.deepEqual((await layoutReferrers(layout, amd64)).map((r) => r.descriptor.digest), [ofPlatform.digest]);

  // The tag now names another image: the index's referrers, and theirs, go with the next record.
  await layout.tag(other, 'multi');
  const again = await sbom(layout, other, '{"of":"other, again"}');
  assert.deepEqual(await listed(layout), [ofOther.digest, again.digest].sort());
});

test('a copied referrer without an artifactType is listed under its config\'s media type, as the referrers API lists it', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const subject = await image(layout, 'app');
  await layout.tag(subject, 'app');
  const config = await layout.putBytes('application/vnd.example.report.config+json', Buffer.from('{}'));
  const referrer = await layout.putJson(MediaType.OciManifest, {
    schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  });
  await recordLayoutReferrers(layout, [referrer]);
  const entry = (await layout.readIndex()).manifests.find((d) => d.digest === referrer.digest);
  assert.equal(entry?.artifactType, 'application/vnd.example.report.config+json');
  assert.deepEqual((await layoutReferrers(layout, subject)).map((r) => r.descriptor.digest), [referrer.digest]);
  // Recorded twice, listed once.
  await recordLayoutReferrers(layout, [referrer]);
  assert.equal((await layout.readIndex()).manifests.filter((d) => d.digest === referrer.digest).length, 1);
});

test('a referrer manifest cut short fails push and copy with one line naming it, as a changed one does, instead of leaving the SBOM behind', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const root = join(dir.path, 'l');
  assertOk(await runCliAsync(['build', rootfs, '--layout', root, '--tag', 'app', '--sbom', '-q']));
  const layout = await OciLayout.open(root);
  const [entry] = (await layout.readIndex()).manifests.filter((d) => d.artifactType === SPDX);
  const path = layout.blobPath(entry!.digest);
  truncateSync(path, 10);
  const line = `ocipush: ${root}: referrer ${entry!.digest} (${SPDX}) is corrupt: truncated to 10 bytes, expected ${entry!.size} (${path})`;
  const named = new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  assertOneLineError(await runCliAsync(['push', `oci:${root}:app`, `${registry.host}/damaged/app:1`, '-q']), named);
  assertOneLineError(await runCliAsync(['copy', `oci:${root}:app`, `oci:${join(dir.path, 'copy')}:app`, '-q']), named);
  assertOneLineError(await runCliAsync(['referrers', `oci:${root}:app`]), named);
});
