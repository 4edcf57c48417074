import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { sha256 } from '../../src/oci/digest.js';
import { requireTool, tempDir } from '../support/tools.js';
import { blobWrites, MiB, multiPlatformImage, putDigest, umociImage, type MultiPlatformImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, PASSWORD, skopeoRaw, startTwoRegistries, type TwoRegistries } from './copy-support.js';

interface CopyJson {
  digest: string;
  blobs: { digest: string; kind: string; outcome: string }[];
  referrers: { tag?: string; digest: string }[];
}

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;
let multi: MultiPlatformImage;
let multiLayout: string;
let regs: TwoRegistries;
let env: NodeJS.ProcessEnv;
const creds = ['--creds', `alice:${PASSWORD}`];

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [1.5 * MiB, 300_000]);
  multiLayout = join(tmp.path, 'multi');
  multi = await multiPlatformImage(multiLayout, 'multi');
  regs = await startTwoRegistries(tmp.path);
  env = envWith(regs.dockerConfig);
  assertOk(await runCliAsync(['push', `${regs.staging.host}/team/app:1`, '--layout', image.layout], { env }));
  assertOk(await runCliAsync(['push', `${regs.staging.host}/team/multi:1`, '--layout', multiLayout, '--tag', 'multi'], { env }));
});
after(async () => {
  await regs?.stop();
  await tmp?.cleanup();
});

describe('copy between two registries', () => {
  it('promotes staging → production: same digest, every blob uploaded once, the manifest last', async () => {
    await regs.production.forgetAccessLog();
    await regs.staging.forgetAccessLog();
    const r = await runCliAsync(['copy', `docker://${regs.staging.host}/team/app:1`, `docker://${regs.production.host}/prod/app:1`, '--json', '--digest-file', join(tmp.path, 'digest')], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as CopyJson;
    assert.equal(out.digest, image.manifest.digest);
    assert.equal(readFileSync(join(tmp.path, 'digest'), 'utf8'), image.manifest.digest);
    assert.deepEqual(out.blobs.map((b) => b.outcome), ['uploaded', 'uploaded', 'uploaded']);
    assert.equal((await skopeoRaw(`${regs.production.host}/prod/app:1`, creds)).digest, image.manifest.digest);

    const log = await regs.production.settledAccessLog();
    const committed = blobWrites(log).filter((e) => e.method === 'PUT').map(putDigest).sort();
    assert.deepEqual(committed, [...image.layers, image.config].sort(), 'each blob committed once');
    const manifestPut = log.findIndex((e) => e.method === 'PUT' && e.path.includes('/manifests/'));
    assert.ok(manifestPut > log.findLastIndex((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/')), 'the manifest goes last');
    const reads = (await regs.staging.settledAccessLog()).filter((e) => e.method === 'GET' && e.path.includes('/blobs/'));
    assert.equal(reads.length, 3, 'each source blob read once');
  });

  it('a second copy finds everything there and sends nothing', async () => {
    await regs.production.forgetAccessLog();
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/prod/app:1`, '--json'], { env });
    assertOk(r);
    assert.ok((JSON.parse(r.stdout) as CopyJson).blobs.every((b) => b.outcome === 'exists'));
    assert.deepEqual(blobWrites(await regs.production.settledAccessLog()), []);
  });

  it('within one registry, mounts across repositories: no blob bytes move', async () => {
    await regs.staging.forgetAccessLog();
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.staging.host}/release/app:1.0`, '--json'], { env });
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as CopyJson).blobs.map((b) => b.outcome), ['mounted', 'mounted', 'mounted']);
    const log = await regs.staging.settledAccessLog();
    assert.deepEqual(blobWrites(log), []);
    assert.equal(log.filter((e) => e.method === 'POST' && e.uri.includes('mount=') && e.status === 201).length, 3);
    assert.ok(!log.some((e) => e.method === 'GET' && e.path.includes('/blobs/')), 'no blob read');
    assert.equal((await skopeoRaw(`${regs.staging.host}/release/app:1.0`, creds)).digest, image.manifest.digest);
  });

  it('a copy onto itself changes nothing and says so', async () => {
    await regs.staging.forgetAccessLog();
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.staging.host}/team/app:1`], { env });
    assertOk(r);
    assert.match(r.stderr, /are the same image \(sha256:[0-9a-f]{64}\): nothing to copy/);
    assert.ok(!(await regs.staging.settledAccessLog()).some((e) => e.method === 'PUT' || e.method === 'POST'));
  });

  it('a two-platform index keeps both children; --platform copies one manifest', async () => {
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/multi:1`, `${regs.production.host}/prod/multi:1`], { env }));
    const raw = await skopeoRaw(`${regs.production.host}/prod/multi:1`, creds);
    assert.equal(raw.digest, multi.index.digest);
    for (const child of multi.manifests) {
      assert.equal((await skopeoRaw(`${regs.production.host}/prod/multi@${child.digest}`, creds)).digest, child.digest);
    }
    const one = await runCliAsync(['copy', `${regs.staging.host}/team/multi:1`, `${regs.production.host}/prod/arm:1`, '--platform', 'linux/arm64', '--json'], { env });
    assertOk(one);
    const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    assert.equal((JSON.parse(one.stdout) as CopyJson).digest, arm.digest);
    assert.equal((await skopeoRaw(`${regs.production.host}/prod/arm:1`, creds)).digest, arm.digest);
  });

  it('brings cosign-style signature tags along, unless --no-referrers', async () => {
    const layout = await OciLayout.open(image.layout);
    const payload = await layout.putBytes('application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from('{"critical":{}}'));
    const config = await layout.putBytes(MediaType.OciConfig, Buffer.from('{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}'));
    const sig = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [payload] });
    const sigTag = `sha256-${image.manifest.digest.slice(7)}.sig`;
    await layout.tag(sig, sigTag);
    assertOk(await runCliAsync(['push', `${regs.staging.host}/team/app:${sigTag}`, '--layout', image.layout, '--tag', sigTag], { env }));

    const without = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/nosig/app:1`, '--no-referrers', '--json'], { env });
    assertOk(without);
    assert.deepEqual((JSON.parse(without.stdout) as CopyJson).referrers, []);
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/signed/app:1`, '--json'], { env });
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as CopyJson).referrers.map((x) => [x.tag, x.digest]), [[sigTag, sig.digest]]);
    assert.equal((await skopeoRaw(`${regs.production.host}/signed/app:${sigTag}`, creds)).digest, sig.digest);
  });

  it('brings OCI 1.1 referrers along (tag schema on both sides: distribution 2.8 has no referrers API)', async () => {
    const report = join(tmp.path, 'report.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(report, '{"findings":[]}');
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.staging.host}/team/attached:1`], { env }));
    const attached = await runCliAsync(['attach', `${regs.staging.host}/team/attached:1`, `${report}:application/json`, '--artifact-type', 'application/vnd.example.report+json'], { env });
    assertOk(attached);
    const artifact = attached.stdout.trim();
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/attached:1`, `${regs.production.host}/attached/app:1`, '--json'], { env });
    assertOk(r);
    // The cosign signature the previous test attached to this image comes along by its tag.
    assert.deepEqual((JSON.parse(r.stdout) as CopyJson).referrers.filter((x) => !x.tag).map((x) => x.digest), [artifact]);
    const listed = await runCliAsync(['referrers', `${regs.production.host}/attached/app:1`, '--json'], { env });
    assertOk(listed);
    assert.deepEqual((JSON.parse(listed.stdout) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [artifact]);
  });

  it('credentials per side: --dest-username with stdin for production, the Docker config for staging', async () => {
    const onlyStaging = join(tmp.path, 'docker-staging');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(onlyStaging, { recursive: true });
    writeFileSync(join(onlyStaging, 'config.json'), JSON.stringify({ auths: { [regs.staging.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/sides/app:1`, '--dest-username', 'alice', '--dest-password-stdin'], { env: envWith(onlyStaging), input: PASSWORD });
    assertOk(r);
    assert.ok(!r.stderr.includes(PASSWORD));
    const denied = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/sides/app:2`], { env: envWith(onlyStaging) });
    assert.equal(denied.status, 1);
    assert.match(denied.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: .*127\.0\.0\.1:\d+/);
  });

  it('OCIPUSH_USERNAME/OCIPUSH_PASSWORD are for the destination only, never handed to the source', async () => {
    const viaEnv = { OCIPUSH_USERNAME: 'alice', OCIPUSH_PASSWORD: PASSWORD };
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const onlyStaging = join(tmp.path, 'docker-staging-env');
    mkdirSync(onlyStaging, { recursive: true });
    writeFileSync(join(onlyStaging, 'config.json'), JSON.stringify({ auths: { [regs.staging.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/env/app:1`], { env: envWith(onlyStaging, viaEnv) }));
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:1`, `${regs.production.host}/env/app:2`], { env: envWith(undefined, viaEnv) });
    assertOneLineError(r, new RegExp(`^ocipush: authentication required by ${regs.staging.host.replace(/\./g, '\\.')}`));
  });

  it('an unknown tag: one line naming the reference, nothing on stdout', async () => {
    const r = await runCliAsync(['copy', `${regs.staging.host}/team/app:nope`, `${regs.production.host}/prod/app:nope`], { env });
    assertOneLineError(r, /^ocipush: 127\.0\.0\.1:\d+\/team\/app:nope: manifest not found$/);
  });

  it('into oci:DIR@DIGEST: the image of another digest is refused and no layout made; the image of that digest is listed without a name', async () => {
    const src = `${regs.staging.host}/team/app:1`;
    const wrong = join(tmp.path, 'by-wrong-digest');
    assertOneLineError(await runCliAsync(['copy', src, `oci:${wrong}@${multi.index.digest}`], { env }),
      new RegExp(`^ocipush: oci:.*by-wrong-digest@${multi.index.digest}: the image to copy has digest ${image.manifest.digest}, not ${multi.index.digest}$`), 2);
    assert.ok(!existsSync(wrong), 'no layout made');
    assertOneLineError(await runCliAsync(['copy', src, `oci:${wrong}:sha256:abc`], { env }), /"sha256:abc" is not a name for an image in a layout/, 2);

    const dir = join(tmp.path, 'by-digest');
    assertOk(await runCliAsync(['copy', '--no-referrers', src, `oci:${dir}@${image.manifest.digest}`], { env }));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((d) => [d.digest, d.annotations]), [[image.manifest.digest, undefined]]);
    requireTool('skopeo');
    assert.equal(sha256(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}`])), image.manifest.digest);
    assertOk(await runCliAsync(['copy', `oci:${dir}@${image.manifest.digest}`, `${regs.production.host}/pinned/app:1`], { env }));
    assert.equal((await skopeoRaw(`${regs.production.host}/pinned/app:1`, creds)).digest, image.manifest.digest);

    // An artifact by digest: an entry of its own in a layout without its subject; beside its
    // subject, kept as the layout keeps referrers, and carried with it.
    const report = join(tmp.path, 'pinned-report.json');
    writeFileSync(report, '{"findings":[]}');
    const attached = await runCliAsync(['attach', src, `${report}:application/json`, '--artifact-type', 'application/vnd.example.pinned+json'], { env });
    assertOk(attached);
    const artifact = attached.stdout.trim();
    const entries = (layout: string) => (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; artifactType?: string; annotations?: object }[] }).manifests
      .filter((d) => d.digest === artifact).map((d) => [d.artifactType, d.annotations]);
    const alone = join(tmp.path, 'artifact-alone');
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app@${artifact}`, `oci:${alone}@${artifact}`], { env }));
    assert.deepEqual(entries(alone), [[undefined, undefined]]);
    const beside = join(tmp.path, 'artifact-beside');
    assertOk(await runCliAsync(['copy', '--no-referrers', src, `oci:${beside}:app`], { env }));
    assertOk(await runCliAsync(['copy', `${regs.staging.host}/team/app@${artifact}`, `oci:${beside}@${artifact}`], { env }));
    assert.deepEqual(entries(beside), [['application/vnd.example.pinned+json', undefined]]);
    assertOk(await runCliAsync(['copy', `oci:${beside}:app`, `${regs.production.host}/carried/app:1`], { env }));
    const listed = await runCliAsync(['referrers', `${regs.production.host}/carried/app:1`, '--json'], { env });
    assertOk(listed);
    assert.deepEqual((JSON.parse(listed.stdout) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [artifact]);
  });

  it('into a layout name that held another image: that image\'s referrer entries (its SBOM) leave with it, as a rebuilt tag\'s do', async () => {
    const rootfs = join(tmp.path, 'sbom-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'app.txt'), 'with an SBOM\n');
    const built = join(tmp.path, 'with-sbom');
    assertOk(await runCliAsync(['build', rootfs, '--sbom', '--layout', built, '--tag', 'a'], { env }));
    const dir = join(tmp.path, 'renamed');
    const referrerEntries = () => (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { artifactType?: string }[] }).manifests.filter((d) => d.artifactType !== undefined).map((d) => d.artifactType);
    assertOk(await runCliAsync(['copy', `oci:${built}:a`, `oci:${dir}:app`], { env }));
    assert.deepEqual(referrerEntries(), ['application/spdx+json']);
    assertOk(await runCliAsync(['copy', `oci:${image.layout}:v1`, `oci:${dir}:app`], { env }));
    assert.deepEqual(referrerEntries(), []);
    requireTool('skopeo');
    assert.equal(sha256(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:app`])), image.manifest.digest);
    // So does a pull over the name.
    assertOk(await runCliAsync(['copy', `oci:${built}:a`, `oci:${dir}:app`], { env }));
    assert.deepEqual(referrerEntries(), ['application/spdx+json']);
    assertOk(await runCliAsync(['pull', `${regs.staging.host}/team/app:1`, `oci:${dir}:app`], { env }));
    assert.deepEqual(referrerEntries(), []);
  });
});
