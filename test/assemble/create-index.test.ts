import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createImageIndex } from '../../src/assemble/create-index.js';
import { OciLayout } from '../../src/content/layout.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';

/**
 * One image per platform, with platforms compared as containerd compares them: `linux/arm64` is
 * `linux/arm64/v8`, and Windows images for two `os.version`s are two platforms (how Windows
 * base images ship one tag for ltsc2019 and ltsc2022).
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;

before(async () => {
  tmp = await tempDir('ocipush-create-index-');
  layout = join(tmp.path, 'layout');
  for (const [tag, platform] of [['arm64-v8', 'linux/arm64/v8'], ['arm64', 'linux/arm64'], ['arm-v7', 'linux/arm/v7'], ['arm', 'linux/arm'], ['amd64', 'linux/amd64'], ['amd64-v1', 'linux/amd64/v1']]) {
    const dir = join(tmp.path, tag!);
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'platform'), `${tag}\n`);
    const r = runCli(['build', dir, '--layout', layout, '--tag', tag!, '--platform', platform!]);
    assert.equal(r.status, 0, r.stderr);
  }
  // Two Windows images, as mcr.microsoft.com's are: one windows/amd64 per os.version.
  const store = await OciLayout.open(layout);
  for (const version of ['10.0.17763.1', '10.0.20348.1']) {
    const layer = await store.putBytes(MediaType.OciLayer, Buffer.alloc(1024));
    const config = await store.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'windows', 'os.version': version, rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
    const manifest = await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
    await store.tag(manifest, `windows-${version}`);
  }
});
after(async () => tmp?.cleanup());

describe('index create: one image per platform', () => {
  it('refuses linux/arm64 beside linux/arm64/v8, linux/arm beside linux/arm/v7, and linux/amd64 beside linux/amd64/v1: one platform each', async () => {
    await assert.rejects(createImageIndex({ layout, images: ['arm64-v8', 'arm64'], tag: 'dup' }), /"arm64-v8" and "arm64" are both linux\/arm64\/v8: an index holds one image per platform/);
    await assert.rejects(createImageIndex({ layout, images: ['arm', 'arm-v7'], tag: 'dup' }), /"arm" and "arm-v7" are both linux\/arm\/v7/);
    await assert.rejects(createImageIndex({ layout, images: ['amd64', 'amd64-v1'], tag: 'dup' }), /"amd64" and "amd64-v1" are both linux\/amd64/);
    const r = runCli(['index', 'create', 'arm64', 'arm64-v8', '--tag', 'dup', '--layout', layout]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /are both linux\/arm64\/v8/);
  });

  it('a mix of Docker and OCI images: the error names one of each and the way out, which works', async () => {
    const dir = join(tmp.path, 's390x');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), 's390x\n');
    const built = runCli(['build', dir, '--layout', layout, '--tag', 's390x-docker', '--platform', 'linux/s390x', '--format', 'docker']);
    assert.equal(built.status, 0, built.stderr);
    await assert.rejects(createImageIndex({ layout, images: ['arm64', 's390x-docker'], tag: 'mixed' }),
      /the images mix OCI and Docker media types \("s390x-docker" is Docker, "arm64" is OCI\): an index holds one family; make one the other's with ocipush mutate --format, or build them all with the same --format/);
    const mutated = runCli(['mutate', `oci:${layout}:s390x-docker`, `oci:${layout}:s390x`, '--format', 'oci']);
    assert.equal(mutated.status, 0, mutated.stderr);
    await createImageIndex({ layout, images: ['arm64', 's390x'], tag: 'mixed' });
    requireTool('skopeo');
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:mixed`])) as { mediaType: string; manifests: { mediaType: string }[] };
    assert.deepEqual([raw.mediaType, ...raw.manifests.map((m) => m.mediaType)], [MediaType.OciIndex, MediaType.OciManifest, MediaType.OciManifest]);
  });

  it('keeps two Windows images of two os.versions, each with its os.version, in an index skopeo and oci-image-tool read', async () => {
    requireTool('skopeo');
    requireTool('oci-image-tool');
    const made = await createImageIndex({ layout, images: ['windows-10.0.17763.1', 'windows-10.0.20348.1'], tag: 'windows' });
    assert.deepEqual(made.manifests.map((m) => m.platform), [
      { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.1' },
      { architecture: 'amd64', os: 'windows', 'os.version': '10.0.20348.1' },
    ]);
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:windows`])) as { manifests: { platform: Record<string, string> }[] };
    assert.deepEqual(raw.manifests.map((m) => m.platform['os.version']), ['10.0.17763.1', '10.0.20348.1']);
    run('oci-image-tool', ['validate', '--type', 'imageIndex', join(layout, 'blobs', 'sha256', made.digest.slice(7))]);
    // The command's lines and --json name each entry's os.version: without it the two read the same.
    const r = runCli(['index', 'create', 'windows-10.0.17763.1', 'windows-10.0.20348.1', '--tag', 'windows-cli', '--layout', layout, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { manifests: { platform: string; osVersion?: string }[] }).manifests.map((m) => [m.platform, m.osVersion]),
      [['windows/amd64', '10.0.17763.1'], ['windows/amd64', '10.0.20348.1']]);
    assert.match(r.stderr, /^windows\/amd64 \(os\.version 10\.0\.17763\.1\) sha256:/m);
  });

  it('refuses an index skopeo copied without its images (--multi-arch index-only) in one line, and writes nothing', async () => {
    requireTool('skopeo');
    await createImageIndex({ layout, images: ['arm64', 'arm-v7'], tag: 'two' });
    const bare = join(tmp.path, 'index-only');
    run('skopeo', ['copy', '-q', '--multi-arch', 'index-only', `oci:${layout}:two`, `oci:${bare}:two`]);
    const before = readFileSync(join(bare, 'index.json'), 'utf8');
    const r = runCli(['index', 'create', 'two', '--tag', 'again', '--layout', bare]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ocipush: "two" names sha256:[0-9a-f]{64} for linux\/arm64, which .*index-only does not hold \(an index copied without its images\); name the images the layout has\n$/);
    assert.equal(readFileSync(join(bare, 'index.json'), 'utf8'), before, 'index.json as it was');
    assert.deepEqual(readdirSync(join(bare, 'blobs', 'sha256')).length, 1, 'no blob written');
  });

  it('refuses a cosign signature image (its config names os and architecture "") in one line, and writes nothing', async () => {
    const key = join(tmp.path, 'sign.pem');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const signed = runCli(['sign', `oci:${layout}:arm64`, '--key', key, '--sign-container-identity', 'registry.example/app']);
    assert.equal(signed.status, 0, signed.stderr);
    const store = await OciLayout.open(layout);
    const signature = `${(await store.resolve('arm64')).digest.replace(':', '-')}.sig`;
    await store.resolve(signature);
    const before = readFileSync(join(layout, 'index.json'), 'utf8');
    const r = runCli(['index', 'create', 'arm-v7', signature, '--tag', 'signed', '--layout', layout]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `ocipush: "${signature}" is for no platform (its config names no os or architecture: a cosign signature, an artifact, an image made without one): an index lists images by platform\n`);
    assert.equal(readFileSync(join(layout, 'index.json'), 'utf8'), before, 'index.json as it was');
  });

  it('gives each entry the os.features its config lists (win32k), as buildah manifest add does', async () => {
    const buildah = requireTool('buildah');
    requireTool('skopeo');
    const store = await OciLayout.open(layout);
    for (const [version, features] of [['10.0.17763.2', ['win32k']], ['10.0.20348.2', []]] as const) {
      const layer = await store.putBytes(MediaType.OciLayer, Buffer.alloc(1024));
      const config = await store.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'windows', 'os.version': version, 'os.features': features, rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
      const manifest = await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
      await store.tag(manifest, `windows-gui-${version}`);
    }
    await store.close();
    const images = ['windows-gui-10.0.17763.2', 'windows-gui-10.0.20348.2'];
    const made = await createImageIndex({ layout, images, tag: 'windows-gui' });
    const storage = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    run(buildah, [...storage, 'manifest', 'create', 'windows-gui']);
    for (const image of images) run(buildah, [...storage, 'manifest', 'add', 'windows-gui', `oci:${layout}:${image}`]);
    const listed = JSON.parse(run(buildah, [...storage, 'manifest', 'inspect', 'windows-gui'])) as { manifests: { platform: object }[] };
    assert.deepEqual(made.manifests.map((m) => m.platform), listed.manifests.map((m) => m.platform));
    assert.deepEqual(made.manifests[0]!.platform!['os.features'], ['win32k']);
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:windows-gui`])) as { manifests: { platform: Record<string, unknown> }[] };
    assert.deepEqual(raw.manifests.map((m) => m.platform['os.features']), [['win32k'], undefined]);
  });
});
