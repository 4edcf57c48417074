import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { loadImage, platformManifest, readManifest } from '../../src/image/load.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { skopeoRawManifest } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

/**
 * An index whose entry is itself an index (and one whose entries carry no platform), as
 * containerd reads them: the platform asked for is looked for in the nested index, an entry
 * without a platform is the platform its config says. skopeo 1.9 stops at the nested index
 * ("received a manifest list instead of a manifest"); what ocipush picks is a plain image it reads.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;
const digests = new Map<string, Descriptor>();
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-platform-');
  registry = await startRegistry();
  layout = join(tmp.path, 'layout');
  for (const platform of ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/s390x']) {
    const dir = join(tmp.path, platform.replaceAll('/', '-'));
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'platform'), `${platform}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', platform.replaceAll('/', '-'), '--platform', platform], { env }));
  }
  assertOk(await runCliAsync(['index', 'create', 'linux-amd64', 'linux-arm64-v8', 'linux-arm-v7', '--tag', 'inner', '--layout', layout], { env }));
  const store = await OciLayout.open(layout);
  for (const name of ['linux-amd64', 'linux-arm64-v8', 'linux-arm-v7', 'linux-s390x', 'inner']) digests.set(name, await store.resolve(name));
  const bare = (d: Descriptor): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  // The s390x image beside an index of three others, which has no platform of its own.
  const nested = await store.putJson(MediaType.OciIndex, {
    schemaVersion: 2, mediaType: MediaType.OciIndex,
    manifests: [{ ...bare(digests.get('linux-s390x')!), platform: { architecture: 's390x', os: 'linux' } }, bare(digests.get('inner')!)],
  });
  await store.tag(nested, 'nested');
  // Entries without a platform: only their configs say what they are for.
  const unlabelled = await store.putJson(MediaType.OciIndex, {
    schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [bare(digests.get('linux-s390x')!), bare(digests.get('linux-arm64-v8')!)],
  });
  await store.tag(unlabelled, 'unlabelled');
  assertOk(await runCliAsync(['copy', `oci:${layout}:nested`, `${registry.host}/nest/app:1`], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('a platform in a nested index', () => {
  it('copy --platform finds it in the index inside the index: its manifest is copied, which skopeo reads', async () => {
    const r = await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/arm:1`, '--platform', 'linux/arm64'], { env });
    assertOk(r);
    assert.equal(r.stdout.trim(), digests.get('linux-arm64-v8')!.digest);
    assert.equal(skopeoRawManifest(`${registry.host}/nest/arm:1`).digest, digests.get('linux-arm64-v8')!.digest);
    const config = JSON.parse(run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${registry.host}/nest/arm:1`])) as { architecture: string; variant?: string };
    assert.deepEqual([config.architecture, config.variant], ['arm64', 'v8']);
    // An entry of the outer index still comes first.
    const s390x = await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/s390x:1`, '--platform', 'linux/s390x'], { env });
    assertOk(s390x);
    assert.equal(s390x.stdout.trim(), digests.get('linux-s390x')!.digest);
  });

  it('pull, inspect, rootfs and push --platform descend too; linux/arm is the arm/v7 image', async () => {
    const pulled = join(tmp.path, 'pulled');
    assertOk(await runCliAsync(['pull', `${registry.host}/nest/app:1`, '--layout', pulled, '--platform', 'linux/arm'], { env }));
    assert.equal((await (await OciLayout.open(pulled)).resolve('1')).digest, digests.get('linux-arm-v7')!.digest);
    const inspected = await runCliAsync(['inspect', `${registry.host}/nest/app:1`, '--platform', 'linux/amd64', '--json'], { env });
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, digests.get('linux-amd64')!.digest);
    const tar = join(tmp.path, 'fs.tar');
    assertOk(await runCliAsync(['rootfs', `oci:${layout}:nested`, '--platform', 'linux/arm/v7', '-o', tar], { env }));
    run('tar', ['-xf', tar, '-C', tmp.path, 'etc/platform']);
    assert.equal(readFileSync(join(tmp.path, 'etc', 'platform'), 'utf8'), 'linux/arm/v7\n');
    const pushed = await runCliAsync(['push', `${registry.host}/nest/pushed:1`, '--layout', layout, '--tag', 'nested', '--platform', 'linux/arm64/v8'], { env });
    assertOk(pushed);
    assert.equal(skopeoRawManifest(`${registry.host}/nest/pushed:1`).digest, digests.get('linux-arm64-v8')!.digest);
  });

  it('a platform no index has: one line listing every platform, those of the nested index too', async () => {
    assertOneLineError(await runCliAsync(['inspect', `${registry.host}/nest/app:1`, '--platform', 'linux/ppc64le'], { env }),
      /nest\/app:1: no manifest for linux\/ppc64le \(the index has: linux\/s390x, linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)$/);
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/none:1`, '--platform', 'linux/arm/v6'], { env }),
      /no manifest for linux\/arm\/v6 \(the index has: linux\/s390x, linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)$/);
  });
});

describe('several platforms of a nested index', () => {
  it('copy --platform A,B narrows the index inside the index too: a new nested index with only what was asked for, which skopeo reads', async () => {
    const r = await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/two:1`, '--platform', 'linux/arm64,linux/s390x'], { env });
    assertOk(r);
    const root = JSON.parse(skopeoRawManifest(`${registry.host}/nest/two:1`).bytes.toString()) as { manifests: Descriptor[] };
    assert.equal(root.manifests.length, 2);
    assert.equal(root.manifests[0]!.digest, digests.get('linux-s390x')!.digest);
    const inner = JSON.parse(skopeoRawManifest(`${registry.host}/nest/two@${root.manifests[1]!.digest}`).bytes.toString()) as { manifests: Descriptor[] };
    assert.deepEqual(inner.manifests.map((m) => m.digest), [digests.get('linux-arm64-v8')!.digest]);
    assertOk(await runCliAsync(['validate', `${registry.host}/nest/two:1`], { env }));
    // An index holding only what was asked for, nested one included, is copied as it is.
    const all = await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/all:1`, '--platform', 'linux/s390x,linux/amd64,linux/arm64,linux/arm', '--json'], { env });
    assertOk(all);
    assert.equal((JSON.parse(all.stdout) as { digest: string }).digest, skopeoRawManifest(`${registry.host}/nest/app:1`).digest);
  });

  it('a platform missing from every index: one line listing them all', async () => {
    assertOneLineError(await runCliAsync(['copy', `${registry.host}/nest/app:1`, `${registry.host}/nest/none:2`, '--platform', 'linux/arm64,linux/ppc64le'], { env }),
      /has no image for linux\/ppc64le \(it has: linux\/s390x, linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)$/);
  });
});

describe('an index entry whose config leaves out the variant', () => {
  it('is the entry\'s platform (arm/v6), as skopeo picks it: rootfs and a build on it take it, the build\'s config says v6', async () => {
    const store = await OciLayout.open(layout);
    const arm = digests.get('linux-arm-v7')!;
    const manifest = JSON.parse((await store.readBlob(arm)).toString()) as { config: Descriptor };
    const { variant: _variant, ...config } = JSON.parse((await store.readBlob(manifest.config)).toString()) as Record<string, unknown>;
    const configDesc = await store.putJson(MediaType.OciConfig, config);
    const image = await store.putJson(MediaType.OciManifest, { ...manifest, config: configDesc });
    const index = await store.putJson(MediaType.OciIndex, {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.size, platform: { architecture: 'arm', os: 'linux', variant: 'v6' } }],
    });
    await store.tag(index, 'armv6');
    const bySkopeo = join(tmp.path, 'skopeo-v6');
    run('skopeo', ['copy', '-q', '--override-arch', 'arm', '--override-variant', 'v6', `oci:${layout}:armv6`, `oci:${bySkopeo}:x`]);
    assert.equal((await (await OciLayout.open(bySkopeo)).resolve('x')).digest, image.digest);
    const rootfs = await runCliAsync(['rootfs', `oci:${layout}:armv6`, '--platform', 'linux/arm/v6', '-o', join(tmp.path, 'v6.tar'), '--json'], { env });
    assertOk(rootfs);
    assert.equal((JSON.parse(rootfs.stdout) as { platform: string }).platform, 'linux/arm/v6');
    const dir = join(tmp.path, 'on-v6');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'app'), 'app\n');
    assertOk(await runCliAsync(['build', dir, '--base', `oci:${layout}:armv6`, '--platform', 'linux/arm/v6', '--layout', layout, '--tag', 'on-v6'], { env }));
    const built = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:on-v6`])) as { architecture: string; variant?: string };
    assert.deepEqual([built.architecture, built.variant], ['arm', 'v6']);
  });
});

describe('index entries without a platform', () => {
  it('are chosen by the platform their config says, as containerd does; with none asked for, linux/amd64 or the one image', async () => {
    const store = await OciLayout.open(layout);
    const root = await readManifest(store, await store.resolve('unlabelled'));
    assert.equal(await platformManifest(store, root, { platform: { os: 'linux', architecture: 'arm64' } }).then((d) => d.digest), digests.get('linux-arm64-v8')!.digest);
    assert.equal((await loadImage(store, root.descriptor, { platform: { os: 'linux', architecture: 's390x' } })).descriptor.digest, digests.get('linux-s390x')!.digest);
    await assert.rejects(loadImage(store, root.descriptor, { name: 'unlabelled' }), /unlabelled has no image for linux\/amd64 \(it has: linux\/s390x, linux\/arm64\/v8\)/);
    assert.equal((await loadImage(store, digests.get('inner')!)).descriptor.digest, digests.get('linux-amd64')!.digest);
    const nested = await store.resolve('nested');
    assert.equal((await loadImage(store, nested)).descriptor.digest, digests.get('linux-amd64')!.digest, 'the default platform, in the nested index');
  });
});
