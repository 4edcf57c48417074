import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { sha256 } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { requireTool, tempDir } from '../support/tools.js';
import { blobWrites, cosignShapedSignature, putDigest, MiB, multiPlatformImage, umociImage, type MultiPlatformImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { validate } from './json-schema.js';
import { skopeoSchema1 } from './skopeo-support.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startRegistry } from '../support/registry.js';
import { envWith, PASSWORD, skopeoFails, skopeoRaw, startTwoRegistries, type TwoRegistries } from './copy-support.js';

interface AllTagsJson {
  images: { tag: string; digest: string; destination: string; blobs: { outcome: string }[]; referrers: { tag?: string; digest: string }[]; missingPlatforms?: string[] }[];
  skipped: { tag: string; reason: string }[];
}

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let multi: MultiPlatformImage;
let signature: Descriptor;
let regs: TwoRegistries;
let env: NodeJS.ProcessEnv;
const creds = ['--creds', `alice:${PASSWORD}`];
/** A cosign signature tag whose image no tag names (signed by digest, then untagged). */
const danglingTag = `sha256-${'ab'.repeat(32)}.sig`;
let signatureTag: string;
let childSignatureTag: string;

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [1 * MiB, 200_000]);
  multi = await multiPlatformImage(join(tmp.path, 'multi'), 'multi');
  regs = await startTwoRegistries(tmp.path);
  env = envWith(regs.dockerConfig);
  const layout = await OciLayout.open(image.layout);
  signature = await cosignShapedSignature(layout);
  signatureTag = `sha256-${image.manifest.digest.slice(7)}.sig`;
  await layout.tag(signature, signatureTag);
  await layout.tag(signature, danglingTag);
  // A signature of one platform's manifest of the index (as cosign sign --recursive makes).
  childSignatureTag = `sha256-${multi.manifests[0]!.digest.slice(7)}.sig`;
  await layout.tag(signature, childSignatureTag);
  const src = `${regs.staging.host}/mirror/src`;
  for (const tag of ['1', '2']) assertOk(await runCliAsync(['push', `${src}:${tag}`, '--layout', image.layout, '--tag', 'v1'], { env }));
  for (const tag of [signatureTag, danglingTag, childSignatureTag]) assertOk(await runCliAsync(['push', `${src}:${tag}`, '--layout', image.layout, '--tag', tag], { env }));
  assertOk(await runCliAsync(['push', `${src}:multi`, '--layout', join(tmp.path, 'multi'), '--tag', 'multi'], { env }));
});
after(async () => {
  await regs?.stop();
  await tmp?.cleanup();
});

describe('copy --all-tags', () => {
  it('mirrors every tag of a repository to another registry, each image with its signature; a signature whose image no tag names is left out and listed', async () => {
    const r = await runCliAsync(['copy', '--all-tags', `${regs.staging.host}/mirror/src`, `${regs.production.host}/mirror/dst`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as AllTagsJson;
    assert.deepEqual(out.images.map((i) => i.tag).sort(), ['1', '2', 'multi']);
    const expected: Record<string, string> = { 1: image.manifest.digest, 2: image.manifest.digest, multi: multi.index.digest };
    for (const tag of ['1', '2', 'multi']) {
      assert.equal((await skopeoRaw(`${regs.production.host}/mirror/dst:${tag}`, creds)).digest, expected[tag], `tag ${tag} in production`);
    }
    for (const child of multi.manifests) {
      assert.equal((await skopeoRaw(`${regs.production.host}/mirror/dst@${child.digest}`, creds)).digest, child.digest);
    }
    // The signature came along with its image, not as an image of its own.
    assert.equal((await skopeoRaw(`${regs.production.host}/mirror/dst:${signatureTag}`, creds)).digest, signature.digest);
    assert.equal((await skopeoRaw(`${regs.production.host}/mirror/dst:${childSignatureTag}`, creds)).digest, signature.digest, 'the index child\'s signature came along');
    assert.ok(out.images.some((i) => i.referrers.some((x) => x.tag === signatureTag)));
    assert.deepEqual(out.skipped.map((s) => s.tag), [danglingTag]);
    assert.match(out.skipped[0]!.reason, /^no tag names its image sha256:(ab){32}$/);
    assert.ok(await skopeoFails(`${regs.production.host}/mirror/dst:${danglingTag}`, creds), 'the dangling signature is not copied');
    // 1 and 2 name one image: the second of them is only named, nothing copied or asked for again.
    const [firstTag, alias] = out.images.filter((i) => i.tag === '1' || i.tag === '2');
    assert.ok(firstTag!.blobs.length > 0, 'the first tag of the image is copied');
    assert.deepEqual([alias!.blobs, alias!.referrers], [[], []]);
    assert.match(r.stderr, new RegExp(`^tagged .*/mirror/dst:${alias!.tag}: the same image as .*/mirror/dst:${firstTag!.tag} \\(sha256:[0-9a-f]{64}\\), nothing to copy$`, 'm'));
    assert.match(r.stderr, /left out 1 referrer tag \(sha256-(ab){32}\.sig: no tag names its image/);
    assert.match(r.stderr, /copied 3 tags of .*\/mirror\/src to .*\/mirror\/dst\n$/);
  });

  it('a second mirror finds everything there and writes no blob', async () => {
    await regs.production.forgetAccessLog();
    const r = await runCliAsync(['copy', '--all-tags', `${regs.staging.host}/mirror/src`, `${regs.production.host}/mirror/dst`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as AllTagsJson;
    assert.ok(out.images.every((i) => i.blobs.every((b) => b.outcome === 'exists')), r.stdout);
    assert.deepEqual(blobWrites(await regs.production.settledAccessLog()), []);
  });

  it('--no-referrers copies the images and leaves every referrer tag', async () => {
    const r = await runCliAsync(['copy', '--all-tags', '--no-referrers', `${regs.staging.host}/mirror/src`, `${regs.production.host}/bare/dst`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as AllTagsJson;
    assert.deepEqual(out.skipped.map((s) => [s.tag, s.reason]).sort(), [[danglingTag, '--no-referrers'], [signatureTag, '--no-referrers'], [childSignatureTag, '--no-referrers']].sort());
    assert.ok(await skopeoFails(`${regs.production.host}/bare/dst:${signatureTag}`, creds));
    assert.equal((await skopeoRaw(`${regs.production.host}/bare/dst:2`, creds)).digest, image.manifest.digest);
  });

  it('--platform A,B mirrors each tag with those of the platforms it has; a tag for none of them is left out and listed, with its signature', async () => {
    const dst = `${regs.production.host}/platforms/dst`;
    const r = await runCliAsync(['copy', '--all-tags', '--platform', 'linux/arm64,linux/s390x', `${regs.staging.host}/mirror/src`, dst, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as AllTagsJson;
    assert.deepEqual(validate('copy-all-tags.schema.json', out), [], r.stdout);
    assert.deepEqual(out.images.map((i) => [i.tag, i.missingPlatforms]), [['multi', ['linux/s390x']]]);
    const skipped = new Map(out.skipped.map((s) => [s.tag, s.reason]));
    for (const tag of ['1', '2']) assert.equal(skipped.get(tag), 'no image for linux/arm64, linux/s390x (it has: linux/amd64)', tag);
    assert.equal(skipped.get(signatureTag), `its image ${image.manifest.digest} is left out (--platform)`);
    assert.equal(skipped.get(childSignatureTag), `its image ${multi.manifests[0]!.digest} is left out (--platform)`, 'the amd64 image of the index');
    assert.match(r.stderr, /mirror\/src:multi has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\): copying linux\/arm64$/m);
    assert.match(r.stderr, /^left out 5 tags \(.*\b1: no image for linux\/arm64, linux\/s390x \(it has: linux\/amd64\)/m);
    // The copy is an index of the arm64 image alone; the amd64 images are not there.
    const index = JSON.parse((await skopeoRaw(`${dst}:multi`, creds)).bytes.toString()) as { manifests: Descriptor[] };
    assert.deepEqual(index.manifests.map((d) => d.digest), [multi.manifests[1]!.digest]);
    assert.equal((await skopeoRaw(`${dst}@${multi.manifests[1]!.digest}`, creds)).digest, multi.manifests[1]!.digest);
    for (const ref of [`${dst}:1`, `${dst}:2`, `${dst}:${signatureTag}`, `${dst}@${multi.manifests[0]!.digest}`]) assert.ok(await skopeoFails(ref, creds), ref);

    // One platform: the index's image for it, as a single-image copy gives it.
    const one = `${regs.production.host}/platform/dst`;
    const single = await runCliAsync(['copy', '--all-tags', '--platform', 'linux/arm64', `${regs.staging.host}/mirror/src`, one, '--json'], { env });
    assertOk(single);
    assert.deepEqual((JSON.parse(single.stdout) as AllTagsJson).images.map((i) => [i.tag, i.digest]), [['multi', multi.manifests[1]!.digest]]);
    assert.equal((await skopeoRaw(`${one}:multi`, creds)).digest, multi.manifests[1]!.digest);
    assert.ok(await skopeoFails(`${one}:1`, creds));
  });

  it('a layout\'s names to a registry and back into a new layout, which umoci and skopeo read', async () => {
    assertOk(await runCliAsync(['copy', '--all-tags', '--no-referrers', `oci:${join(tmp.path, 'multi')}`, `${regs.production.host}/from-layout/app`], { env }));
    assert.equal((await skopeoRaw(`${regs.production.host}/from-layout/app:multi`, creds)).digest, multi.index.digest);
    const back = join(tmp.path, 'back');
    const r = await runCliAsync(['copy', '--all-tags', `${regs.staging.host}/mirror/src`, `oci:${back}`, '--json'], { env });
    assertOk(r);
    requireTool('umoci');
    // The signature comes into the layout under its cosign tag, as a single-image copy brings it.
    const umociNames = execFileSync('umoci', ['ls', '--layout', back], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual([...umociNames].sort(), ['1', '2', 'multi', signatureTag, childSignatureTag].sort());
    // ls of a layout lists what umoci ls lists, in its order.
    const listed = await runCliAsync(['ls', `oci:${back}`, '--json'], { env });
    assertOk(listed);
    assert.deepEqual(JSON.parse(listed.stdout), umociNames);
    requireTool('skopeo');
    for (const [tag, digest] of [['2', image.manifest.digest], ['multi', multi.index.digest]] as const) {
      assert.equal(sha256(execFileSync('skopeo', ['inspect', '--raw', `oci:${back}:${tag}`])), digest, `oci:${back}:${tag}`);
    }
  });

  it('--tag-regex copies only the tags it matches, with their signatures; a bad expression is one line', async () => {
    const dst = `${regs.production.host}/some/dst`;
    const r = await runCliAsync(['copy', '--all-tags', '--tag-regex', '^(2|multi)$', `${regs.staging.host}/mirror/src`, dst, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as AllTagsJson;
    assert.deepEqual(out.images.map((i) => i.tag).sort(), ['2', 'multi']);
    assert.match(r.stderr, /^1 of the 3 tags of .*\/mirror\/src do not match --tag-regex \^\(2\|multi\)\$$/m);
    assert.ok(await skopeoFails(`${dst}:1`, creds), 'tag 1 is not copied');
    assert.equal((await skopeoRaw(`${dst}:${signatureTag}`, creds)).digest, signature.digest, 'the signature of the image tag 2 names came along');
    assert.equal(new Map(out.skipped.map((s) => [s.tag, s.reason])).get(danglingTag), `no tag copied names its image sha256:${'ab'.repeat(32)}`);
    assertOneLineError(await runCliAsync(['copy', '--all-tags', '--tag-regex', '(v1', `${regs.staging.host}/mirror/src`, dst], { env }), /^ocipush: --tag-regex "\(v1": not a regular expression/, 2);
    assertOneLineError(await runCliAsync(['copy', '--tag-regex', 'v1', `${regs.staging.host}/mirror/src:1`, `${dst}:1`], { env }), /--tag-regex goes with --all-tags/, 2);
  });

  it('copies several images at once (--jobs) and sends a base layer they share once; skopeo reads every tag', async () => {
    // Four images on one base layer, as the tags of an application repository are.
    const dir = join(tmp.path, 'shared-base');
    const layout = await OciLayout.open(dir, { create: true });
    const base = await layout.putBytes(MediaType.OciLayerGzip, randomBytes(400_000));
    const tags = new Map<string, string>();
    for (let i = 0; i < 4; i++) {
      const own = await layout.putBytes(MediaType.OciLayerGzip, randomBytes(50_000));
      const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8)), sha256(randomBytes(8))] } });
      const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [base, own] });
      await layout.tag(manifest, `v${i}`);
      tags.set(`v${i}`, manifest.digest);
    }
    await layout.close();
    await regs.production.forgetAccessLog();
    const dst = `${regs.production.host}/jobs/app`;
    const r = await runCliAsync(['copy', '--all-tags', '--jobs', '4', `oci:${dir}`, dst, '--json'], { env });
    assertOk(r);
    const sent = blobWrites(await regs.production.settledAccessLog()).map(putDigest).filter((d) => d === base.digest);
    assert.equal(sent.length, 1, 'the shared base layer is uploaded once');
    const outcomes = (JSON.parse(r.stdout) as { images: { blobs: { digest: string; outcome: string }[] }[] }).images
      .flatMap((i) => i.blobs.filter((b) => b.digest === base.digest).map((b) => b.outcome));
    assert.deepEqual(outcomes.sort(), ['exists', 'exists', 'exists', 'uploaded']);
    for (const [tag, digest] of tags) assert.equal((await skopeoRaw(`${dst}:${tag}`, creds)).digest, digest, tag);
    // skopeo fetches every blob of one of them (asynchronously: the token issuer answers from this process).
    await promisify(execFile)('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', `alice:${PASSWORD}`, `docker://${dst}:v3`, `oci:${join(tmp.path, 'jobs-check')}:v3`]);
  });

  it('an image the source cannot serve stops the mirror with one line; the tags copied before it stay', async () => {
    const good = umociImage(tmp.path, 'good', [150_000], join(tmp.path, 'good'));
    const broken = umociImage(tmp.path, 'broken', [160_000], join(tmp.path, 'broken'));
    const src = `${regs.staging.host}/partial/src`;
    assertOk(await runCliAsync(['push', `${src}:good`, '--layout', good.layout], { env }));
    assertOk(await runCliAsync(['push', `${src}:broken`, '--layout', broken.layout], { env }));
    // The registry loses the broken image's layer (its data file), as after a failed disk or a bad clean-up.
    const hex = broken.layers[0]!.slice('sha256:'.length);
    rmSync(join(regs.staging.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex), { recursive: true });
    const order = (JSON.parse((await runCliAsync(['ls', src, '--json'], { env })).stdout) as string[]);

    // The breaks are resumed as the retry policy allows, then reported (no --timeout: the error is not retried again from above).
    const brokenLine = new RegExp(`^ocipush: .*/partial/src: blob sha256:${hex}: the connection broke at byte 0 of \\d+`);
    const r = await runCliAsync(['copy', '--all-tags', '--jobs', '1', src, `${regs.production.host}/partial/dst`, '-q'], { env });
    assertOneLineError(r, brokenLine);
    assert.ok(await skopeoFails(`${regs.production.host}/partial/dst:broken`, creds), 'the broken image is not in production');
    const goodThere = await skopeoRaw(`${regs.production.host}/partial/dst:good`, creds).then((x) => x.digest, () => undefined);
    // One at a time, in the order the registry lists them: copied when it came first, never tried when it came after.
    assert.equal(goodThere, order.indexOf('good') < order.indexOf('broken') ? good.manifest.digest : undefined, order.join(' '));

    // Both at once (the default jobs): the copy under way beside the failure finishes, whole.
    const together = await runCliAsync(['copy', '--all-tags', src, `${regs.production.host}/partial/both`, '-q'], { env });
    assertOneLineError(together, brokenLine);
    assert.ok(await skopeoFails(`${regs.production.host}/partial/both:broken`, creds));
    assert.equal((await skopeoRaw(`${regs.production.host}/partial/both:good`, creds)).digest, good.manifest.digest);
  });

  it('a tag that cannot be read (a schema 1 manifest) stops the mirror with its line; the copy under way beside it finishes, whole', async () => {
    const old = await startRegistry({ schema1: true });
    const proxy = await startFaultProxy({ target: old.url });
    try {
      // Listed a, b: both are opened at once, and a's copy is still to come when b is refused.
      await skopeoSchema1(`oci:${image.layout}:v1`, `${old.host}/old/app:b`);
      assertOk(await runCliAsync(['push', `${old.host}/old/app:a`, '--layout', image.layout, '--tag', 'v1'], { env }));
      proxy.addFault({ method: 'GET', path: /\/manifests\/a$/, fault: { kind: 'hold-response', until: /release-held/, timeoutMs: 600_000 } });
      const copying = runCliAsync(['copy', '--all-tags', `${proxy.host}/old/app`, `${regs.production.host}/old/mirror`, '-q'], { env });
      let ended = false;
      void copying.finally(() => { ended = true; });
      // Until b is refused, or the copy has ended before (the assertion below then shows its line).
      while (!ended && !proxy.requests().some((r) => r.path.endsWith('/manifests/b') && r.status !== undefined)) await new Promise((r) => setTimeout(r, 20));
      await fetch(`${proxy.url}/release-held`);
      assertOneLineError(await copying, /^ocipush: .*\/old\/app:b is a Docker schema 1 manifest .*convert it to schema 2 with skopeo copy --format v2s2$/);
      assert.equal((await skopeoRaw(`${regs.production.host}/old/mirror:a`, creds)).digest, image.manifest.digest);
    } finally {
      await proxy.stop();
      await old.stop();
    }
  });

  it('a tag, an archive or --digest-file with --all-tags: one line, exit 2, nothing copied', async () => {
    await regs.production.forgetAccessLog();
    const src = `${regs.staging.host}/mirror/src`;
    const dst = `${regs.production.host}/wrong/dst`;
    assertOneLineError(await runCliAsync(['copy', '--all-tags', `${src}:1`, dst], { env }), /^ocipush: .*\/mirror\/src:1: with --all-tags, the source names a repository or oci:DIR, without a tag/, 2);
    assertOneLineError(await runCliAsync(['copy', '--all-tags', src, `${dst}:1`], { env }), /^ocipush: .*\/wrong\/dst:1: with --all-tags, the destination names a repository/, 2);
    assertOneLineError(await runCliAsync(['copy', '--all-tags', src, `docker-archive:${join(tmp.path, 'all.tar')}`], { env }), /^ocipush: docker-archive:.*all\.tar: --all-tags copies between registries and OCI layouts, not archives/, 2);
    assertOneLineError(await runCliAsync(['copy', '--all-tags', src, dst, '--digest-file', join(tmp.path, 'd')], { env }), /all-tags.*digest-file|digest-file.*all-tags/, 2);
    assert.ok(!(await regs.production.settledAccessLog()).some((e) => e.method === 'PUT' || e.method === 'POST'));
  });
});
