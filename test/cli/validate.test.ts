import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir, validateLayout, type RunResult } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { validate } from './json-schema.js';
import { layoutWithLayerBytes } from '../assemble/support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let umociLayout: string;
let ociLayout: string;
const env = envWith();

interface Report {
  valid: boolean;
  manifests: { kind: string; platform?: string }[];
  blobs: number;
  bytesRead: number;
  problems: { code: string; message: string; digest: string }[];
}

async function validateJson(args: string[], status: number): Promise<Report> {
  const r = await runCliAsync(['validate', ...args, '--json'], { env });
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  const doc = JSON.parse(r.stdout) as Report;
  assert.deepEqual(validate('validate.schema.json', doc), [], r.stdout);
  // Written as every --json result is, whether the image is valid or not: indented, one document.
  assert.equal(r.stdout, `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}

/** Failed with the problems, then the summary, on stderr; nothing on stdout. */
function assertInvalid(r: RunResult, ...problems: RegExp[]): void {
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, problems.length + 1, r.stderr);
  problems.forEach((p, i) => assert.match(lines[i]!, p));
  assert.match(lines.at(-1)!, new RegExp(`is not valid: ${problems.length} problems?`));
}

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function json(layout: string, digest: string): Record<string, any> {
  return JSON.parse(readFileSync(blobPath(layout, digest), 'utf8')) as Record<string, any>;
}

/** Stores `value` as a blob of the layout, returning its descriptor fields. */
function putJson(layout: string, value: unknown): { digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(blobPath(layout, digest), bytes);
  return { digest, size: bytes.length };
}

/** The one manifest of a layout's index.json, to be rewritten by a test. */
function firstManifest(layout: string): Record<string, any> {
  return (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, any>[] }).manifests[0]!;
}

/** Points the layout's index.json at a new root descriptor (same tag). */
function setRoot(layout: string, root: Record<string, unknown>): void {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: unknown[] };
  index.manifests = [root];
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
}

/** Where docker-registry 2.8 keeps a blob's bytes on its filesystem driver. */
function registryBlobData(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * An image umoci made (two layers), and a two-platform index ocipush built and pushed: the
 * faults are then made where the bytes live — in the layout's files, in the registry's own storage
 * — and a tool of the field confirms each is a real fault before ocipush is asked.
 */
before(async () => {
  requireTool('umoci');
  tmp = await tempDir();
  umociLayout = join(tmp.path, 'umoci');
  run('umoci', ['init', '--layout', umociLayout]);
  run('umoci', ['new', '--image', `${umociLayout}:t`]);
  for (const [dir, file] of [['r1', 'etc/one'], ['r2', 'usr/two']] as const) {
    mkdirSync(join(tmp.path, dir, file, '..'), { recursive: true });
    writeFileSync(join(tmp.path, dir, file), `${'some bytes of a file\n'.repeat(4000)}${dir}\n`);
    run('umoci', ['insert', '--image', `${umociLayout}:t`, join(tmp.path, dir), '/']);
  }
  ociLayout = join(tmp.path, 'oci');
  for (const arch of ['amd64', 'arm64']) {
    mkdirSync(join(tmp.path, arch, 'etc'), { recursive: true });
    writeFileSync(join(tmp.path, arch, 'etc', 'arch'), `${arch}\n`.repeat(10000));
    assertOk(await runCliAsync(['build', join(tmp.path, arch), '--layout', ociLayout, '--tag', arch, '--platform', `linux/${arch}`], { env }));
  }
  assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--tag', 'multi', '--layout', ociLayout], { env }));
  registry = await startRegistry();
  assertOk(await runCliAsync(['push', `${registry.host}/v/app:multi`, '--layout', ociLayout, '--tag', 'multi'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('validate', () => {
  it('passes a whole image umoci made and a whole index in a registry, every platform or one, with --json as documented', async () => {
    validateLayout(umociLayout, 't');
    const local = await validateJson([`oci:${umociLayout}:t`], 0);
    assert.equal(local.valid, true);
    assert.deepEqual(local.manifests.map((m) => m.kind), ['image']);
    assert.equal(local.blobs, 3, 'the config and both layers');

    const remote = await runCliAsync(['validate', `${registry.host}/v/app:multi`], { env });
    assertOk(remote);
    assert.match(remote.stdout, /^sha256:[a-f0-9]{64}\n$/);
    assert.match(remote.stderr, /is valid: 2 images, 4 blobs, .* read/);
    const one = await validateJson([`${registry.host}/v/app:multi`, '--platform', 'linux/arm64'], 0);
    assert.deepEqual(one.manifests.map((m) => [m.kind, m.platform]), [['index', undefined], ['image', 'linux/arm64']]);
  });

  it('names a layer whose bytes in the registry are not what its digest says; --fast, which reads none, does not see it', async () => {
    const copy = join(tmp.path, 'served');
    const arm = json(ociLayout, firstManifestOf(ociLayout, 'arm64'));
    const layer = arm.layers[0].digest as string;
    const data = registryBlobData(layer);
    const kept = readFileSync(data);
    flipByte(data, 100);
    try {
      // skopeo sees the same fault.
      requireTool('skopeo');
      await assert.rejects(promisify(execFile)('skopeo', ['copy', '--src-tls-verify=false', '--override-arch', 'arm64', `docker://${registry.host}/v/app:multi`, `oci:${copy}:x`]));
      assertInvalid(await runCliAsync(['validate', `${registry.host}/v/app:multi`], { env }),
        new RegExp(`linux/arm64 layer 0: .*${layer}.*(digest|sha256)`));
      const report = await validateJson([`${registry.host}/v/app:multi`], 1);
      assert.equal(report.valid, false);
      assert.deepEqual(report.problems.map((p) => [p.code, p.digest]), [['EDIGEST', layer]]);
      assertOk(await runCliAsync(['validate', `${registry.host}/v/app:multi`, '--fast'], { env }));
    } finally {
      writeFileSync(data, kept);
    }
    assertOk(await runCliAsync(['validate', `${registry.host}/v/app:multi`], { env }));
  });

  it('names every blob missing from a layout, with --fast too', async () => {
    const layout = join(tmp.path, 'missing');
    cpSync(umociLayout, layout, { recursive: true });
    const manifest = json(layout, firstManifest(layout).digest as string);
    const [lower, upper] = manifest.layers.map((l: { digest: string }) => l.digest) as [string, string];
    rmSync(blobPath(layout, lower));
    rmSync(blobPath(layout, upper));
    assert.throws(() => validateLayout(layout, 't'), 'oci-image-tool refuses the layout too');
    for (const fast of [[], ['--fast']]) {
      assertInvalid(await runCliAsync(['validate', `oci:${layout}:t`, ...fast], { env }),
        new RegExp(`layer [01]: .*(${lower}|${upper}).* missing`), new RegExp(`layer [01]: .*(${lower}|${upper}).* missing`));
    }
  });

  it('names a layer that does not decompress to the diff_id its config lists, as umoci refuses to unpack it', async () => {
    const layout = join(tmp.path, 'diffid');
    cpSync(umociLayout, layout, { recursive: true });
    const root = firstManifest(layout);
    const manifest = json(layout, root.digest as string);
    const config = json(layout, manifest.config.digest as string);
    const wrong = `sha256:${'0'.repeat(64)}`;
    config.rootfs.diff_ids[1] = wrong;
    manifest.config = { ...manifest.config, ...putJson(layout, config) };
    setRoot(layout, { ...root, ...putJson(layout, manifest) });
    assert.throws(() => run('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.path, 'bundle')]), /diffid mismatch/);
    const report = await validateJson([`oci:${layout}:t`], 1);
    assert.equal(report.problems.length, 1);
    assert.equal(report.problems[0]!.code, 'EDIGEST');
    assert.match(report.problems[0]!.message, new RegExp(`layer 1: blob ${manifest.layers[1].digest} decompresses to sha256:[a-f0-9]{64}, but the config lists diff_id ${wrong}`));
    // Only reading the layer shows it.
    assertOk(await runCliAsync(['validate', `oci:${layout}:t`, '--fast'], { env }));
  });

  it('names a gzip layer followed by zero padding (gzip -t and Node pass over it), which umoci, podman and containerd refuse', async () => {
    const layout = join(tmp.path, 'padded');
    const tree = join(tmp.path, 'padded-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'file'), 'hello\n');
    const tar = join(tmp.path, 'padded.tar');
    run('tar', ['-cf', tar, '-C', tree, 'file']);
    const padded = Buffer.concat([gzipSync(readFileSync(tar)), Buffer.alloc(1024)]);
    writeFileSync(`${tar}.gz`, padded);
    run('gzip', ['-t', `${tar}.gz`]);
    const layer = layoutWithLayerBytes(layout, 't', padded, `sha256:${createHash('sha256').update(readFileSync(tar)).digest('hex')}`);
    assert.throws(() => run('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.path, 'padded-bundle')]), /gzip: invalid header/);
    const report = await validateJson([`oci:${layout}:t`], 1);
    assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
    assert.equal(report.problems[0]!.code, 'EINVALID');
    assert.match(report.problems[0]!.message, new RegExp(`layer 0: blob ${layer} has 1024 bytes after its gzip stream`));
  });

  it('names an index entry whose platform is not its image\'s, and a config with a diff_id too few', async () => {
    const layout = join(tmp.path, 'entries');
    cpSync(ociLayout, layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, any>[] };
    const multi = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi')!;
    const imageIndex = json(layout, multi.digest as string);
    imageIndex.manifests[1].platform = { os: 'linux', architecture: 's390x' };
    const amd = imageIndex.manifests[0];
    const manifest = json(layout, amd.digest as string);
    const config = json(layout, manifest.config.digest as string);
    config.rootfs.diff_ids = [];
    manifest.config = { ...manifest.config, ...putJson(layout, config) };
    Object.assign(amd, putJson(layout, manifest));
    setRoot(layout, { ...multi, ...putJson(layout, imageIndex) });
    assertInvalid(await runCliAsync(['validate', `oci:${layout}:multi`], { env }),
      /linux\/amd64: the config lists 0 diff_ids for 1 layers/,
      /the index lists it for linux\/s390x, its config says linux\/arm64/);
  });

  it('--platform: refuses one image of another platform, and checks a layout whose other index lacks it', async () => {
    // A single amd64 image, as skopeo reads its config: not the s390x image a gate asked to check.
    const single = `${registry.host}/v/app:amd64`;
    assertOk(await runCliAsync(['push', single, '--layout', ociLayout, '--tag', 'amd64'], { env }));
    assert.equal((JSON.parse(run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${single}`])) as { architecture: string }).architecture, 'amd64');
    const wrong = await runCliAsync(['validate', single, '--platform', 'linux/s390x'], { env });
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /^ocipush: \S+\/v\/app:amd64 is one image for linux\/amd64, not for linux\/s390x \(--platform\)\n$/);
    assertOk(await runCliAsync(['validate', single, '--platform', 'linux/amd64'], { env }));
    const lacking = await runCliAsync(['validate', `${registry.host}/v/app:multi`, '--platform', 'linux/s390x'], { env });
    assert.match(lacking.stderr, /^ocipush: \S+ has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\)\n$/);
    // Every image of a layout, for one platform: an index holding only arm64 beside the amd64 image is not a failure.
    const layout = join(tmp.path, 'platforms');
    cpSync(ociLayout, layout, { recursive: true });
    assertOk(await runCliAsync(['index', 'create', 'arm64', '--tag', 'arm-only', '--layout', layout], { env }));
    const doc = await validateJson([`oci:${layout}`, '--platform', 'linux/amd64'], 0);
    assert.deepEqual(doc.manifests.filter((m) => m.kind === 'image').map((m) => m.platform), ['linux/amd64']);
    const none = await runCliAsync(['validate', `oci:${layout}`, '--platform', 'linux/s390x'], { env });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /has no image for linux\/s390x/);
  });

  it('--platform: an index entry without a platform is the platform its config says, as pull reads it, not one to check whatever it is', async () => {
    // umoci lists its images without a platform: its one image is amd64 by its config.
    assert.equal(firstManifest(umociLayout).platform, undefined);
    const umoci = await runCliAsync(['validate', `oci:${umociLayout}`, '--platform', 'linux/s390x'], { env });
    assert.equal(umoci.status, 1, umoci.stderr);
    assert.equal(umoci.stdout, '');
    assert.match(umoci.stderr, /^ocipush: oci:\S+ has no image for linux\/s390x \(it has: linux\/amd64\)\n$/);
    // An index whose entries say no platform: only the arm64 image is checked for linux/arm64, as pull takes it.
    const layout = join(tmp.path, 'unlisted-platforms');
    cpSync(ociLayout, layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, any>[] };
    const multi = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi')!;
    const imageIndex = json(layout, multi.digest as string);
    for (const entry of imageIndex.manifests) delete entry.platform;
    setRoot(layout, { ...multi, ...putJson(layout, imageIndex) });
    const arm64 = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'arm64')!.digest as string;
    assert.equal(json(layout, json(layout, arm64).config.digest as string).architecture, 'arm64');
    const doc = await validateJson([`oci:${layout}:multi`, '--platform', 'linux/arm64'], 0);
    assert.deepEqual(doc.manifests.filter((m) => m.kind === 'image').map((m) => m.platform), ['linux/arm64']);
    assert.equal((doc as unknown as { manifests: { digest: string; kind: string }[] }).manifests.find((m) => m.kind === 'image')!.digest, arm64);
    const none = await runCliAsync(['validate', `oci:${layout}:multi`, '--platform', 'linux/s390x'], { env });
    assert.equal(none.status, 1, none.stderr);
    assert.match(none.stderr, /^ocipush: oci:\S+ has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\)\n$/);
  });

  it('takes an arm/v6 entry whose config leaves out the variant as arm/v6, as skopeo reads it', async () => {
    const layout = join(tmp.path, 'variant');
    cpSync(ociLayout, layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, any>[] };
    const multi = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi')!;
    const imageIndex = json(layout, multi.digest as string);
    const arm = imageIndex.manifests[1];
    const manifest = json(layout, arm.digest as string);
    const config = json(layout, manifest.config.digest as string);
    config.architecture = 'arm';
    delete config.variant;
    manifest.config = { ...manifest.config, ...putJson(layout, config) };
    Object.assign(arm, putJson(layout, manifest), { platform: { os: 'linux', architecture: 'arm', variant: 'v6' } });
    setRoot(layout, { ...multi, ...putJson(layout, imageIndex) });
    // skopeo takes the entry for arm/v6 and copies the image whole.
    const copied = join(tmp.path, 'variant-skopeo');
    run('skopeo', ['copy', '--override-os', 'linux', '--override-arch', 'arm', '--override-variant', 'v6', `oci:${layout}:multi`, `oci:${copied}:x`]);
    assert.equal((JSON.parse(readFileSync(join(copied, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest, arm.digest);
    const doc = await validateJson([`oci:${layout}:multi`], 0);
    assert.deepEqual(doc.manifests.map((m) => m.platform), [undefined, 'linux/amd64', 'linux/arm/v6']);
    assertOk(await runCliAsync(['validate', `oci:${layout}:multi`, '--platform', 'linux/arm/v6'], { env }));
  });

  it('counts BuildKit\'s attestation manifests as artifacts, not images, and still checks their blobs', async () => {
    const layout = join(tmp.path, 'attested');
    cpSync(ociLayout, layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Record<string, any>[] };
    const multi = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi')!;
    const imageIndex = json(layout, multi.digest as string);
    // As BuildKit writes one (docker buildx build --attest type=provenance): an image config of
    // unknown/unknown over in-toto layers, listed under unknown/unknown and annotated.
    const statement = putJson(layout, { _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [], predicate: {} });
    const config = putJson(layout, { architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] } });
    const attestation = putJson(layout, {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.in-toto+json', ...statement, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
    });
    imageIndex.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', ...attestation, platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.digest': imageIndex.manifests[0].digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    });
    setRoot(layout, { ...multi, ...putJson(layout, imageIndex) });
    const r = await runCliAsync(['validate', `oci:${layout}:multi`], { env });
    assertOk(r);
    assert.match(r.stderr, /is valid: 2 images, 6 blobs/);
    const doc = await validateJson([`oci:${layout}:multi`], 0);
    assert.deepEqual(doc.manifests.map((m) => m.kind), ['index', 'image', 'image', 'artifact']);
    rmSync(blobPath(layout, statement.digest));
    assertInvalid(await runCliAsync(['validate', `oci:${layout}:multi`], { env }), new RegExp(`${statement.digest} is missing`));
  });

  it('checks every image of a layout named without a tag, each shared blob once', async () => {
    const whole = await validateJson([`oci:${ociLayout}`], 0);
    assert.deepEqual(whole.manifests.map((m) => m.kind).sort(), ['image', 'image', 'index', 'index'], 'index.json, the two images, the index over them');
    assert.equal(whole.blobs, 4, 'two configs and two layers, though the index names both images again');
    const layout = join(tmp.path, 'whole');
    cpSync(ociLayout, layout, { recursive: true });
    const armLayer = json(layout, firstManifestOf(layout, 'arm64')).layers[0].digest as string;
    rmSync(blobPath(layout, armLayer));
    // The push recorded where the registry holds the layout's blobs: a missing one is checked there, and not fetched into the layout.
    assertOk(await runCliAsync(['validate', `oci:${layout}`], { env }));
    assertOk(await runCliAsync(['validate', `oci:${layout}`, '--fast'], { env }));
    assert.equal(existsSync(blobPath(layout, armLayer)), false, 'the layout is left as it was');
    // A damaged file of it is the layout's own problem, though the registry holds a whole copy.
    writeFileSync(blobPath(layout, armLayer), 'cut');
    assertInvalid(await runCliAsync(['validate', `oci:${layout}`], { env }), new RegExp(`${armLayer} is corrupt: truncated to 3 bytes`));
    assertInvalid(await runCliAsync(['validate', `oci:${layout}`, '--fast'], { env }), new RegExp(`${armLayer} is corrupt: truncated to 3 bytes`));
    rmSync(blobPath(layout, armLayer));
    rmSync(join(layout, '.ocipush-remote-blobs.json'));
    assertInvalid(await runCliAsync(['validate', `oci:${layout}`], { env }), new RegExp(`linux/arm64 layer 0: .*${armLayer} is missing`));
  });

  it('stops with one line when the registry cannot be reached: not a problem of the image', async () => {
    const r = await runCliAsync(['validate', '127.0.0.1:9/v/app:multi', '--json'], { env });
    assert.equal(r.status, 1);
    const doc = JSON.parse(r.stdout) as { error: { code: string } };
    assert.deepEqual(validate('error.schema.json', doc), []);
    assert.equal(doc.error.code, 'ENETWORK');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  });
});

/** The manifest digest of a tag of the layout's index.json. */
function firstManifestOf(layout: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!.digest;
}
