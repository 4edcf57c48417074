import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoFails, skopeoRaw } from './copy-support.js';
import { validate } from './json-schema.js';
import { opensslVerifiedSignatures } from './signature-support.js';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let other: RunningRegistry;
const env = envWith();

interface IndexReport {
  digest: string;
  destination: string;
  manifests: { digest: string; platform?: string; artifactType?: string }[];
  blobs: { kind: string; outcome: string }[];
}

/** Pushes a one-file image for `platform` to `reference`, as a CI runner of that architecture would. */
async function pushImage(reference: string, platform: string, text = platform): Promise<void> {
  const name = `${platform.replaceAll('/', '-')}-${text.length}`;
  const dir = join(tmp.path, `rootfs-${name}`);
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'platform'), `${text}\n`);
  const layout = join(tmp.path, `layout-${name}`);
  assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', 'x', '--platform', platform], { env }));
  assertOk(await runCliAsync(['push', reference, '--layout', layout, '--tag', 'x'], { env }));
}

async function createIndex(args: string[]): Promise<IndexReport> {
  const r = await runCliAsync(['index', 'create', ...args, '--json'], { env });
  assertOk(r);
  const report = JSON.parse(r.stdout) as IndexReport;
  assert.deepEqual(validate('index.schema.json', report), [], r.stdout);
  return report;
}

/** What skopeo copies of one platform of `reference`, unpacked by umoci: the file the image holds. */
function platformFile(reference: string, arch: string): string {
  const copy = join(tmp.path, `skopeo-${arch}-${Math.random().toString(36).slice(2)}`);
  run('skopeo', ['copy', '--src-tls-verify=false', '--override-arch', arch, `docker://${reference}`, `oci:${copy}:x`]);
  run('umoci', ['unpack', '--image', `${copy}:x`, `${copy}-bundle`]);
  return readFileSync(join(`${copy}-bundle`, 'rootfs', 'etc', 'platform'), 'utf8');
}

/** Two images pushed apart under per-architecture tags, as two CI runners leave them. */
before(async () => {
  requireTool('skopeo');
  requireTool('umoci');
  tmp = await tempDir();
  [registry, other] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(`${registry.host}/ci/app:1-amd64`, 'linux/amd64');
  await pushImage(`${registry.host}/ci/app:1-arm64`, 'linux/arm64');
  await pushImage(`${registry.host}/ci/app:1-s390x`, 'linux/s390x');
});
after(async () => {
  await Promise.all([registry?.stop(), other?.stop()]);
  await tmp?.cleanup();
});

describe('index create with images in a registry', () => {
  it('combines images pushed apart into one index in their repository: one PUT, no blob asked for', async () => {
    const [amd, arm] = await Promise.all([skopeoRaw(`${registry.host}/ci/app:1-amd64`), skopeoRaw(`${registry.host}/ci/app:1-arm64`)]);
    await registry.forgetAccessLog();
    const report = await createIndex(['--tag', `${registry.host}/ci/app:1`, `${registry.host}/ci/app:1-amd64`, `${registry.host}/ci/app:1-arm64`]);
    const log = await registry.settledAccessLog();
    assert.deepEqual(log.filter((e) => e.method !== 'GET' && e.method !== 'HEAD').map((e) => `${e.method} ${e.path}`), ['PUT /v2/ci/app/manifests/1']);
    assert.equal(log.filter((e) => e.path.includes('/blobs/')).filter((e) => e.method !== 'GET').length, 0, 'no blob asked for by HEAD');
    const index = await skopeoRaw(`${registry.host}/ci/app:1`);
    assert.equal(index.digest, report.digest);
    const parsed = JSON.parse(index.bytes.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(parsed.manifests.map((m) => [m.digest, m.platform.architecture]), [[amd.digest, 'amd64'], [arm.digest, 'arm64']]);
    assert.equal(platformFile(`${registry.host}/ci/app:1`, 'arm64'), 'linux/arm64\n');
  });

  it('adds an image to an index, into another registry: the blobs stream across and the result validates', async () => {
    await createIndex(['--tag', `${registry.host}/ci/app:2`, `${registry.host}/ci/app:1-amd64`, `${registry.host}/ci/app:1-arm64`]);
    const report = await createIndex(['--tag', `${other.host}/mirror/app:3`, `${registry.host}/ci/app:2`, `${registry.host}/ci/app:1-s390x`]);
    assert.deepEqual(report.manifests.map((m) => m.platform), ['linux/amd64', 'linux/arm64', 'linux/s390x']);
    assert.ok(report.blobs.filter((b) => b.kind === 'layer').every((b) => b.outcome === 'uploaded'), JSON.stringify(report.blobs));
    assertOk(await runCliAsync(['validate', `${other.host}/mirror/app:3`], { env }));
    assert.equal(platformFile(`${other.host}/mirror/app:3`, 's390x'), 'linux/s390x\n');
  });

  it('writes the index into a layout with oci:DIR:NAME', async () => {
    const layout = join(tmp.path, 'combined');
    await createIndex(['--tag', `oci:${layout}:app`, `${registry.host}/ci/app:1-amd64`, `${registry.host}/ci/app:1-arm64`]);
    const copy = join(tmp.path, 'from-layout');
    run('skopeo', ['copy', '--override-arch', 'arm64', `oci:${layout}:app`, `oci:${copy}:x`]);
    run('umoci', ['unpack', '--image', `${copy}:x`, `${copy}-bundle`]);
    assert.equal(readFileSync(join(`${copy}-bundle`, 'rootfs', 'etc', 'platform'), 'utf8'), 'linux/arm64\n');
  });

  it('--sign signs the index it wrote, by digest, in the destination repository', async () => {
    requireTool('openssl');
    const keys = join(tmp.path, 'k');
    const signEnv = { ...env, COSIGN_PASSWORD: 'index-pw' };
    assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env: signEnv }));
    const r = await runCliAsync(['index', 'create', '--tag', `${registry.host}/ci/signed:1`, `${registry.host}/ci/app:1-amd64`, `${registry.host}/ci/app:1-arm64`, '--sign', '--key', `${keys}.key`, '--json'], { env: signEnv });
    assertOk(r);
    const report = JSON.parse(r.stdout) as IndexReport & { signatures: { digest: string }[] };
    assert.deepEqual(validate('index.schema.json', report), [], r.stdout);
    assert.deepEqual(report.signatures.map((s) => s.digest), [report.digest]);
    assert.equal(opensslVerifiedSignatures(registry.host, 'ci/signed', report.digest, `${keys}.pub`, tmp.path), 1);
    assertOneLineError(await runCliAsync(['index', 'create', '--tag', 'app:1', 'a', 'b', '--sign', '--key', `${keys}.key`], { env: signEnv }), /--sign: oci:oci-layout:app:1 is a layout, and a signature names the repository it is for: give it with --sign-container-identity/, 2);
  });

  it('with OCIPUSH_LAYOUT set, a registry-looking --tag is a layout name: the error says how to mean the registry, and docker:// does', async () => {
    const layoutEnv = { ...env, OCIPUSH_LAYOUT: join(tmp.path, 'no-such-layout') };
    assertOneLineError(await runCliAsync(['index', 'create', '--tag', `${registry.host}/ci/env:1`, `${registry.host}/ci/app:1-amd64`], { env: layoutEnv }),
      /not an OCI image layout .*; to combine images in a registry, write --tag docker:\/\/REGISTRY\/REPO:TAG$/);
    assertOk(await runCliAsync(['index', 'create', '--tag', `docker://${registry.host}/ci/env:1`, `${registry.host}/ci/app:1-amd64`], { env: layoutEnv }));
    assert.equal(await skopeoFails(`${registry.host}/ci/env:1`), undefined, 'written');
  });

  it('images named by their transport (oci:DIR:NAME) with a --tag that is a layout name: one line saying --tag names where the index goes, which then works', async () => {
    const layout = join(tmp.path, 'named');
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-amd64`, `oci:${layout}:amd64`], { env }));
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-arm64`, `oci:${layout}:arm64`], { env }));
    const images = [`oci:${layout}:amd64`, `oci:${layout}:arm64`];
    for (const extra of [[], ['--layout', layout]]) {
      assertOneLineError(await runCliAsync(['index', 'create', '--tag', 'both', ...extra, ...images], { env }),
        /^ocipush: index create: oci:.*named:amd64 is a reference, not a name in the layout: with such images, --tag says where the index goes \(oci:DIR:NAME or REGISTRY\/REPO:TAG\)$/, 2);
    }
    await createIndex(['--tag', `oci:${layout}:both`, ...images]);
    assert.deepEqual((JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:both`])) as { manifests: unknown[] }).manifests.length, 2);
  });

  it('refuses two images of one platform with one line, and writes nothing', async () => {
    await pushImage(`${registry.host}/ci/app:2-amd64`, 'linux/amd64', 'another amd64 build');
    assertOneLineError(await runCliAsync(['index', 'create', '--tag', `${registry.host}/ci/app:bad`, `${registry.host}/ci/app:2-amd64`, `${registry.host}/ci/app:2`], { env }),
      /are both linux\/amd64: an index holds one image per platform/, 2);
    assert.ok(await skopeoFails(`${registry.host}/ci/app:bad`), 'the tag was not written');
  });

  it('joins two BuildKit indexes, keeping each attestation manifest beside its image', async () => {
    const layout = join(tmp.path, 'buildkit');
    const put = (bytes: Buffer, mediaType: string) => {
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), bytes);
      return { mediaType, digest, size: bytes.length };
    };
    const json = (value: unknown, mediaType: string) => put(Buffer.from(JSON.stringify(value)), mediaType);
    const sources: string[] = [];
    for (const arch of ['amd64', 'arm64']) {
      const dir = join(tmp.path, `bk-${arch}`);
      mkdirSync(join(dir, 'etc'), { recursive: true });
      writeFileSync(join(dir, 'etc', 'platform'), `buildkit ${arch}\n`);
      assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', `img-${arch}`, '--platform', `linux/${arch}`], { env }));
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[] };
      const image = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === `img-${arch}`)!;
      // What BuildKit writes beside each image: an in-toto statement as the layer of a manifest for unknown/unknown.
      const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document', subject: [{ name: arch, digest: { sha256: image.digest.slice(7) } }], predicate: {} }));
      const layer = put(statement, 'application/vnd.in-toto+json');
      const diffId = layer.digest;
      const config = json({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }, 'application/vnd.oci.image.config.v1+json');
      const attestation = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [{ ...layer, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }] }, 'application/vnd.oci.image.manifest.v1+json');
      const bkIndex = json({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: image.mediaType, digest: image.digest, size: image.size, platform: { architecture: arch, os: 'linux' } },
          { ...attestation, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' } },
        ],
      }, 'application/vnd.oci.image.index.v1+json');
      index.manifests.push({ ...bkIndex, annotations: { 'org.opencontainers.image.ref.name': `bk-${arch}` } });
      writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
      sources.push(`oci:${layout}:bk-${arch}`);
    }
    const report = await createIndex(['--tag', `${registry.host}/ci/buildkit:1`, ...sources]);
    assert.deepEqual(report.manifests.map((m) => m.platform), ['linux/amd64', 'unknown/unknown', 'linux/arm64', 'unknown/unknown']);
    const pushed = JSON.parse((await skopeoRaw(`${registry.host}/ci/buildkit:1`)).bytes.toString()) as { manifests: { annotations?: Record<string, string> }[] };
    assert.deepEqual(pushed.manifests.map((m) => m.annotations?.['vnd.docker.reference.type']), [undefined, 'attestation-manifest', undefined, 'attestation-manifest']);
    assert.equal(platformFile(`${registry.host}/ci/buildkit:1`, 'arm64'), 'buildkit arm64\n');
  });
  it('keeps the annotations an index\'s entries carry (buildah manifest add --annotation), as buildx imagetools create does, and never a layout\'s names', async () => {
    const buildah = requireTool('buildah');
    const store = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    run(buildah, [...store, 'manifest', 'create', 'annotated']);
    run(buildah, [...store, 'manifest', 'add', '--tls-verify=false', '--annotation', 'org.opencontainers.image.description=the arm64 build', 'annotated', `docker://${registry.host}/ci/app:1-arm64`]);
    run(buildah, [...store, 'manifest', 'push', '--all', '--tls-verify=false', 'annotated', `docker://${registry.host}/ci/annotated:arm64`]);
    const report = await createIndex(['--tag', `${registry.host}/ci/annotated:1`, `${registry.host}/ci/annotated:arm64`, `${registry.host}/ci/app:1-s390x`]);
    const index = JSON.parse((await skopeoRaw(`${registry.host}/ci/annotated:1`)).bytes.toString()) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    assert.equal(index.manifests.length, 2);
    assert.deepEqual(index.manifests.map((m) => m.annotations), [{ 'org.opencontainers.image.description': 'the arm64 build' }, undefined]);
    // The same from a layout, where the s390x image's index.json entry carries its name: that stays out.
    const layout = join(tmp.path, 'annotated');
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/annotated:arm64`, `oci:${layout}:arm64`], { env }));
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-s390x`, `oci:${layout}:s390x`], { env }));
    const inLayout = await runCliAsync(['index', 'create', 'arm64', 's390x', '--tag', 'both', '--layout', layout, '--json'], { env });
    assertOk(inLayout);
    assert.equal((JSON.parse(inLayout.stdout) as { digest: string }).digest, report.digest);
  });

  it('from a lazily built layout, mounts the base layers from the base repository into that registry, as push does, without downloading them', async () => {
    const layout = join(tmp.path, 'lazy');
    const app = join(tmp.path, 'lazy-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'run'), 'the app\n');
    for (const arch of ['amd64', 'arm64']) {
      assertOk(await runCliAsync(['build', app, '--base', `${registry.host}/ci/app:1-${arch}`, '--platform', `linux/${arch}`, '--layout', layout, '--tag', arch], { env }));
    }
    const baseLayers = await Promise.all(['amd64', 'arm64'].map(async (arch) => (JSON.parse((await skopeoRaw(`${registry.host}/ci/app:1-${arch}`)).bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest));
    const r = await runCliAsync(['index', 'create', '--tag', `${registry.host}/lazy/app:1`, `oci:${layout}:amd64`, `oci:${layout}:arm64`, '--json'], { env });
    assertOk(r);
    const blobs = (JSON.parse(r.stdout) as { blobs: { digest: string; outcome: string }[] }).blobs;
    assert.deepEqual(baseLayers.map((d) => blobs.find((b) => b.digest === d)?.outcome), ['mounted', 'mounted'], r.stdout);
    for (const d of baseLayers) assert.ok(!existsSync(join(layout, 'blobs', 'sha256', d.slice(7))), 'the base layer was not downloaded');
    assertOk(await runCliAsync(['validate', `${registry.host}/lazy/app:1`], { env }));
  });

  it('takes the images of an index inside an index, each with its platform: the layout and the registry make the same index, which skopeo and umoci read', async () => {
    const inner = await createIndex(['--tag', `${registry.host}/ci/inner:1`, `${registry.host}/ci/app:1-amd64`, `${registry.host}/ci/app:1-arm64`]);
    const layout = join(tmp.path, 'nested');
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/inner:1`, `oci:${layout}:inner`], { env }));
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-s390x`, `oci:${layout}:s390x`], { env }));
    const store = await OciLayout.open(layout);
    const [innerDesc, s390x] = [await store.resolve('inner'), await store.resolve('s390x')];
    // The index of indexes: s390x beside the two-platform index, which has no platform of its own.
    const nested = await store.putJson(MediaType.OciIndex, {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [{ mediaType: s390x.mediaType, digest: s390x.digest, size: s390x.size }, { mediaType: innerDesc.mediaType, digest: innerDesc.digest, size: innerDesc.size }],
    });
    await store.tag(nested, 'nested');
    const report = await createIndex(['--tag', `${registry.host}/ci/flat:1`, `oci:${layout}:nested`]);
    assert.deepEqual(report.manifests.map((m) => m.platform), ['linux/s390x', 'linux/amd64', 'linux/arm64']);
    assert.deepEqual(report.manifests.slice(1).map((m) => m.digest), inner.manifests.map((m) => m.digest));
    const inLayout = await runCliAsync(['index', 'create', 'nested', '--tag', 'flat', '--layout', layout, '--json'], { env });
    assertOk(inLayout);
    assert.equal((JSON.parse(inLayout.stdout) as { digest: string }).digest, report.digest);
    assert.equal(platformFile(`${registry.host}/ci/flat:1`, 'arm64'), 'linux/arm64\n');
    assert.equal(platformFile(`${registry.host}/ci/flat:1`, 's390x'), 'linux/s390x\n');
  });

  it('keeps an artifact an index lists without a platform (an SBOM, as oras and regctl put it there), as buildx imagetools create keeps it, in the layout and the registry alike', async () => {
    const layout = join(tmp.path, 'with-sbom');
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-amd64`, `oci:${layout}:amd64`], { env }));
    const store = await OciLayout.open(layout);
    const amd64 = await store.resolve('amd64');
    const empty = await store.putBytes('application/vnd.oci.empty.v1+json', Buffer.from('{}'));
    const sbom = await store.putBytes('application/spdx+json', Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    const artifact = await store.putJson(MediaType.OciManifest, {
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/spdx+json', config: empty, layers: [sbom],
    });
    const index = await store.putJson(MediaType.OciIndex, {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: amd64.mediaType, digest: amd64.digest, size: amd64.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: artifact.mediaType, digest: artifact.digest, size: artifact.size, artifactType: 'application/spdx+json' },
      ],
    });
    await store.tag(index, 'with-sbom');
    await store.close();
    const report = await createIndex(['--tag', `${registry.host}/ci/sbom:1`, `oci:${layout}:with-sbom`, `${registry.host}/ci/app:1-arm64`]);
    assert.deepEqual(report.manifests.map((m) => m.platform ?? m.artifactType), ['linux/amd64', 'application/spdx+json', 'linux/arm64']);
    const pushed = JSON.parse((await skopeoRaw(`${registry.host}/ci/sbom:1`)).bytes.toString()) as { manifests: { digest: string; platform?: unknown; artifactType?: string }[] };
    assert.deepEqual(pushed.manifests[1], { mediaType: MediaType.OciManifest, digest: artifact.digest, size: artifact.size, artifactType: 'application/spdx+json' });
    // skopeo copies every entry, each blob checked against its digest: the artifact's are there.
    run('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/ci/sbom:1`, `oci:${join(tmp.path, 'sbom-copy')}:x`]);
    assert.equal(platformFile(`${registry.host}/ci/sbom:1`, 'arm64'), 'linux/arm64\n');
    assertOk(await runCliAsync(['copy', `${registry.host}/ci/app:1-arm64`, `oci:${layout}:arm64`], { env }));
    const inLayout = await runCliAsync(['index', 'create', 'with-sbom', 'arm64', '--tag', 'both', '--layout', layout, '--json'], { env });
    assertOk(inLayout);
    assert.equal((JSON.parse(inLayout.stdout) as { digest: string }).digest, report.digest);
  });
});
