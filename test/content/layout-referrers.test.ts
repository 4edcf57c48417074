import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayout } from '../../src/content/layout.js';
import { layoutReferrers, recordLayoutReferrers, storeLayoutReferrer } from '../../src/content/layout-referrers.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { startRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { validateLayout } from '../assemble/support.js';
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

  // A signature of an image the layout never held (copied alone) is not judged by a move.
  const stray = `sha256-${'0'.repeat(64)}.sig`;
  await layout.tag(other, stray);
  // The tag now names another image: the index's referrers, and theirs, go with it.
  await layout.tag(other, 'multi');
  assert.deepEqual(await listed(layout), [ofOther.digest]);
  assert.ok(await layout.resolve(stray));
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

test('a name moved to another image, by tag, an in-place mutate or delete, takes the old image\'s SBOM, attestation and cosign .sig/.att with it: umoci lists no signature of a gone image, gc reclaims it', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const env = { COSIGN_PASSWORD: 'moved-name-pw' };
  const keys = join(dir.path, 'k');
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
  const predicate = join(dir.path, 'predicate.json');
  writeFileSync(predicate, '{}');
  const root = join(dir.path, 'l');
  const build = async (text: string, tag: string) => {
    const rootfs = join(dir.path, `rootfs-${tag}`);
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), text);
    const r = await runCliAsync(['build', rootfs, '--layout', root, '--tag', tag, '--sbom', '--json']);
    assertOk(r);
    return (JSON.parse(r.stdout) as { digest: string }).digest;
  };
  const signAndAttest = async (name: string) => {
    assertOk(await runCliAsync(['sign', `oci:${root}:${name}`, '--key', `${keys}.key`, '--sign-container-identity', 'reg.example/app', '-q'], { env }));
    assertOk(await runCliAsync(['attest', `oci:${root}:${name}`, '--key', `${keys}.key`, '--type', 'slsaprovenance', '--predicate', predicate, '-q'], { env }));
  };
  const umociNames = () => run('umoci', ['ls', '--layout', root]).split('\n').filter(Boolean).sort();
  const cosignNames = (digest: string) => ['att', 'sig'].map((s) => `${digest.replace(':', '-')}.${s}`);
  const referrersOf = async (name: string) => {
    const r = await runCliAsync(['referrers', `oci:${root}:${name}`, '--json']);
    assertOk(r);
    return (JSON.parse(r.stdout) as { manifests: { artifactType: string }[] }).manifests.map((m) => m.artifactType).sort();
  };
  const old = await build('old\n', 'app');
  await signAndAttest('app');
  const kept = await build('kept\n', 'kept');
  await signAndAttest('kept');
  const other = await build('other\n', 'other');
  assert.deepEqual(umociNames(), ['app', 'kept', 'other', ...cosignNames(old), ...cosignNames(kept)].sort());

  // tag: app leaves the old image, which no name reaches now; the kept image's are untouched.
  assertOk(await runCliAsync(['tag', `oci:${root}:other`, 'app']));
  assert.deepEqual(umociNames(), ['app', 'kept', 'other', ...cosignNames(kept)].sort());
  assert.deepEqual(await referrersOf('kept'), ['application/spdx+json', 'application/vnd.dsse.envelope.v1+json']);
  // --prune=now: the image was written a moment ago, which gc's grace period would keep.
  // (On disk: skopeo 1.9 reads oci:DIR@DIGEST as a directory named DIR@sha256, and fails either way.)
  assertOk(await runCliAsync(['gc', '--layout', root, '--prune=now']));
  assert.equal(existsSync(join(root, 'blobs', 'sha256', old.slice('sha256:'.length))), false, 'gc reclaims the image the name left');
  assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${root}:app`])).Digest, other);

  // mutate in place moves the name kept to the changed image: the old one's signatures and SBOM go.
  assertOk(await runCliAsync(['mutate', `oci:${root}:kept`, '--label', 'changed=yes', '-q']));
  assert.deepEqual(umociNames(), ['app', 'kept', 'other']);
  assert.deepEqual(await referrersOf('kept'), []);

  // delete of the last name of a signed image takes its cosign names too.
  await signAndAttest('other');
  assertOk(await runCliAsync(['delete', `oci:${root}:app`]));
  assert.deepEqual(umociNames(), ['kept', 'other', ...cosignNames(other)].sort(), 'other still names it');
  assertOk(await runCliAsync(['delete', `oci:${root}:other`]));
  assert.deepEqual(umociNames(), ['kept']);
  assertOk(await runCliAsync(['gc', '--layout', root, '--prune=now']));
  assert.equal(existsSync(join(root, 'blobs', 'sha256', other.slice('sha256:'.length))), false, 'gc reclaims the deleted image');
  validateLayout(root);
});
