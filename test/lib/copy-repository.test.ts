import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copy, copyRepository, isOcipushError, push, type OcipushError } from '../../src/index.js';
import { OciLayout } from '../../src/content/layout.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { nonLoopbackAddress, relay } from '../support/relay.js';
import { skopeoRaw } from '../cli/copy-support.js';
import { blobWrites, cosignShapedSignature, MiB, multiPlatformImage, putDigest, skopeoTagsAsync, umociImage, type MultiPlatformImage, type UmociImage } from '../registry/support.js';

let staging: RunningRegistry;
let production: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let multi: MultiPlatformImage;
let signature: Descriptor;
let signatureTag: string;
/** A cosign signature tag whose image no tag names. */
const danglingTag = `sha256-${'ab'.repeat(32)}.sig`;

before(async () => {
  tmp = await tempDir('ocipush-copy-repository-');
  [staging, production] = await Promise.all([startRegistry(), startRegistry()]);
  image = umociImage(tmp.path, 'v1', [1 * MiB]);
  multi = await multiPlatformImage(join(tmp.path, 'multi'), 'multi');
  const layout = await OciLayout.open(image.layout);
  signature = await cosignShapedSignature(layout);
  signatureTag = `sha256-${image.manifest.digest.slice(7)}.sig`;
  await layout.tag(signature, signatureTag);
  await layout.tag(signature, danglingTag);
  await layout.close();
  const src = `${staging.host}/mirror/src`;
  await push({ layout: image.layout, tag: 'v1', to: `${src}:1`, alsoTag: ['2'] });
  for (const tag of [signatureTag, danglingTag]) await push({ layout: image.layout, tag, to: `${src}:${tag}` });
  await push({ layout: join(tmp.path, 'multi'), tag: 'multi', to: `${src}:multi` });
});

after(async () => {
  await Promise.all([staging?.stop(), production?.stop()]);
  await tmp?.cleanup();
});

/** What skopeo reads at `reference` (`HOST/REPO:TAG`): the digest of the manifest there. */
const skopeoDigest = async (reference: string): Promise<string> => (await skopeoRaw(reference)).digest;

test('copyRepository mirrors every tag to another registry, each image with its signature; a signature no tag names is left out and listed', async () => {
  const result = await copyRepository({ from: `${staging.host}/mirror/src`, to: `docker://${production.host}/mirror/all`, jobs: 2 });
  assert.deepEqual(result.images.map((i) => i.tag).sort(), ['1', '2', 'multi']);
  const dst = `${production.host}/mirror/all`;
  assert.deepEqual(await skopeoTagsAsync(dst), ['1', '2', 'multi', signatureTag].sort());
  assert.equal(await skopeoDigest(`${dst}:1`), image.manifest.digest);
  assert.equal(await skopeoDigest(`${dst}:2`), image.manifest.digest);
  assert.equal(await skopeoDigest(`${dst}:multi`), multi.index.digest);
  for (const child of multi.manifests) assert.equal(await skopeoDigest(`${dst}@${child.digest}`), child.digest);
  assert.equal(await skopeoDigest(`${dst}:${signatureTag}`), signature.digest, 'the signature came along with its image');
  assert.deepEqual(result.skipped, [{ tag: danglingTag, reason: `no tag names its image sha256:${'ab'.repeat(32)}` }]);
});

test('copyRepository with a tagPattern copies the tags it matches; with a platform, a mirror of it: an image without it is left out and named', async () => {
  const matched = await copyRepository({ from: `${staging.host}/mirror/src`, to: `${production.host}/mirror/some`, tagPattern: '^[12]$', referrers: false });
  // In the order the registry lists them (distribution 2.8's is the directory's): sorted here.
  assert.deepEqual(matched.images.map((i) => i.tag).sort(), ['1', '2']);
  assert.deepEqual(await skopeoTagsAsync(`${production.host}/mirror/some`), ['1', '2']);
  assert.ok(matched.skipped.every((s) => s.reason === 'referrers: false'), JSON.stringify(matched.skipped));

  const arm = await copyRepository({ from: `${staging.host}/mirror/src`, to: `${production.host}/mirror/arm`, platform: 'linux/arm64,linux/s390x' });
  // umoci's image is linux/amd64: left out; the index keeps its arm64 image, and says s390x was not there.
  assert.deepEqual(arm.images.map((i) => [i.tag, i.missingPlatforms]), [['multi', ['linux/s390x']]]);
  assert.equal(await skopeoDigest(`${production.host}/mirror/arm:multi`), multi.manifests[1]!.digest);
  const left = new Map(arm.skipped.map((s) => [s.tag, s.reason]));
  assert.match(left.get('1') ?? '', /^no image for linux\/arm64, linux\/s390x \(it has: linux\/amd64\)$/);
  assert.match(left.get(signatureTag) ?? '', /is left out \(platform\)$/);
  assert.deepEqual(await skopeoTagsAsync(`${production.host}/mirror/arm`), ['multi']);
});

test('copyRepository out of a layout copies each name to its tag', async () => {
  const result = await copyRepository({ from: `oci:${join(tmp.path, 'multi')}`, to: `${production.host}/mirror/from-layout` });
  assert.deepEqual(result.images.map((i) => [i.tag, i.digest]), [['multi', multi.index.digest]]);
  assert.equal(await skopeoDigest(`${production.host}/mirror/from-layout:multi`), multi.index.digest);
});

test('copyRepository refuses a tag on either end, jobs out of range and a pattern that is no regular expression, before any request', async () => {
  const refused = async (options: Parameters<typeof copyRepository>[0], message: RegExp) => {
    const err = await copyRepository(options).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), String(err));
    assert.equal((err as OcipushError).code, 'EUSAGE');
    assert.match((err as OcipushError).message, message);
  };
  const from = `${staging.host}/mirror/src`;
  const to = `${production.host}/mirror/never`;
  await refused({ from: `${from}:1`, to }, /from .*:1: expected a registry repository or oci:DIR, without a tag/);
  await refused({ from, to: `${to}:1` }, /to .*:1: expected a registry repository without a tag/);
  await refused({ from, to: `oci:${join(tmp.path, 'x')}` }, /expected a registry repository without a tag/);
  await refused({ from, to, jobs: 0 }, /`jobs` 0: expected a whole number from 1 to 32/);
  await refused({ from, to, tagPattern: '(' }, /`tagPattern` \(:/);
  assert.deepEqual(await skopeoTagsAsync(to).catch(() => []), []);
});

test('copy and copyRepository take the source registry\'s own options: a plain-HTTP registry on another host into a TLS registry with its own CA', async () => {
  // The source reached through this machine's network address is a remote host: HTTPS unless told
  // otherwise; the destination speaks TLS with a certificate only caFile trusts. One plainHttp for
  // the whole call would speak plain HTTP to the destination too.
  const secure = await startRegistry({ tls: true });
  const address = nonLoopbackAddress();
  const plainRelay = await relay(address, staging.port);
  try {
    const from = `${plainRelay.host}/mirror/src`;
    const options = { caFile: secure.caFile!, source: { plainHttp: true } };
    const one = await copy({ from: `${from}:1`, to: `${secure.host}/side/one:1`, ...options });
    assert.equal(one.digest, image.manifest.digest);
    const all = await copyRepository({ from, to: `${secure.host}/side/all`, tagPattern: '^multi$', ...options });
    assert.deepEqual(all.images.map((i) => i.digest), [multi.index.digest]);
    assert.deepEqual(await skopeoTagsAsync(`${secure.host}/side/all`, { certDir: secure.certDir! }), ['multi']);
    // Without it, the source is asked over HTTPS (the plain registry cannot answer), as before.
    const err = await copy({ from: `${from}:1`, to: `${secure.host}/side/never:1`, caFile: secure.caFile! }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), String(err));
    assert.match(err.message, /TLS|plain HTTP/);
    const refused = await copy({ from: `${from}:1`, to: `${secure.host}/side/never:1`, source: { plainHttp: 'true' as unknown as boolean } }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(refused) && refused.code === 'EUSAGE', String(refused));
    assert.match(refused.message, /^`source.plainHttp` "true": expected true or false$/);
  } finally {
    await plainRelay.close();
    await secure.stop();
  }
});

test('copyRepository with jobs sends a base layer the tags share once', async () => {
  // Four images on one base layer, as the tags of an application repository are.
  const dir = join(tmp.path, 'shared-base');
  const layout = await OciLayout.open(dir, { create: true });
  const base = await layout.putBytes('application/vnd.oci.image.layer.v1.tar+gzip', randomBytes(400_000));
  for (let i = 0; i < 4; i++) {
    const own = await layout.putBytes('application/vnd.oci.image.layer.v1.tar+gzip', randomBytes(50_000));
    const config = await layout.putJson('application/vnd.oci.image.config.v1+json', { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(63)}${i}`, `sha256:${'1'.repeat(63)}${i}`] } });
    const manifest = await layout.putJson('application/vnd.oci.image.manifest.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [base, own] });
    await layout.tag(manifest, `v${i}`);
  }
  await layout.close();
  await production.forgetAccessLog();
  const result = await copyRepository({ from: `oci:${dir}`, to: `${production.host}/jobs/app`, jobs: 4 });
  assert.equal(result.images.length, 4);
  const sent = blobWrites(await production.settledAccessLog()).map(putDigest).filter((d) => d === base.digest);
  assert.equal(sent.length, 1, 'the shared base layer is uploaded once');
  assert.deepEqual(result.images.flatMap((i) => i.blobs.filter((b) => b.descriptor.digest === base.digest).map((b) => b.outcome)).sort(), ['exists', 'exists', 'exists', 'uploaded']);
  assert.deepEqual(await skopeoTagsAsync(`${production.host}/jobs/app`), ['v0', 'v1', 'v2', 'v3']);
});
