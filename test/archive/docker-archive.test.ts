import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CLI, run, runCli, tempDir } from '../support/tools.js';
import { makeHelloLayout, staticBusybox, type HelloLayout } from './fixtures.js';
import { extract, layoutConfigFor, podman, readManifestJson, skopeo } from './support.js';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { exportDockerArchive } from '../../src/archive/export.js';

const sha256File = (path: string) => `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
const hexOf = (digest: string) => digest.slice('sha256:'.length);

describe('ocipush export', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let fx: HelloLayout;
  let archive: string;

  before(async () => {
    tmp = await tempDir('ocipush-export-');
    fx = makeHelloLayout(join(tmp.path, 'fixture'));
    archive = join(tmp.path, 'hello.tar');
    const r = runCli(['export', '--layout', fx.layout, '--repository', 'hello', '-o', archive]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /hello:scratch sha256:[0-9a-f]{64} \(1 layer\)/);
    assert.match(r.stdout, /hello:alpine sha256:[0-9a-f]{64} \(2 layers\)/);
  });
  after(() => tmp.cleanup());

  it('podman load loads both images under their names, with the layout config as image id', (t) => {
    const p = podman(join(tmp.path, 'podman-both'));
    t.after(p.cleanup);
    const loaded = p.run(['load', '-q', '-i', archive]);
    assert.match(loaded, /hello:scratch/);
    assert.match(loaded, /hello:alpine/);
    const images = p.run(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']).trim().split('\n').sort();
    const scratchConfig = layoutConfigFor(fx.layout, 'scratch').manifest.config.digest;
    const alpineConfig = layoutConfigFor(fx.layout, 'alpine').manifest.config.digest;
    assert.deepEqual(images, [
      `localhost/hello:alpine ${hexOf(alpineConfig).slice(0, 12)}`,
      `localhost/hello:scratch ${hexOf(scratchConfig).slice(0, 12)}`,
    ]);
    const layers = JSON.parse(p.run(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'localhost/hello:alpine']));
    assert.deepEqual(layers, layoutConfigFor(fx.layout, 'alpine').config.rootfs.diff_ids);
  });

  it('writes manifest.json and every blob once, named by its digest', () => {
    const dir = join(tmp.path, 'extracted');
    const names = extract(archive, dir);
    const scratch = layoutConfigFor(fx.layout, 'scratch');
    const alpine = layoutConfigFor(fx.layout, 'alpine');
    const blobPath = (d: string) => `blobs/sha256/${hexOf(d)}`;
    assert.deepEqual(readManifestJson(dir), [
      { Config: blobPath(scratch.manifest.config.digest), RepoTags: ['hello:scratch'], Layers: scratch.manifest.layers.map((l) => blobPath(l.digest)) },
      { Config: blobPath(alpine.manifest.config.digest), RepoTags: ['hello:alpine'], Layers: alpine.manifest.layers.map((l) => blobPath(l.digest)) },
    ]);
    // The hello layer is shared, as in the hand-made example: 2 configs + 2 distinct layers.
    assert.equal(alpine.manifest.layers[1]!.digest, scratch.manifest.layers[0]!.digest);
    const blobs = names.filter((n) => n.startsWith('blobs/sha256/') && n.length > 'blobs/sha256/'.length);
    // 2 manifests (as docker save ≥ 25 keeps them) + 2 configs + 2 distinct layers.
    assert.equal(blobs.length, 6);
    assert.ok(blobs.includes(blobPath(scratch.manifestDigest)) && blobs.includes(blobPath(alpine.manifestDigest)));
    assert.equal(new Set(blobs).size, blobs.length);
    for (const name of blobs) assert.equal(sha256File(join(dir, name)), `sha256:${name.slice('blobs/sha256/'.length)}`);
    // The layers are the layout's blobs as they are: gzip, not recompressed.
    assert.deepEqual(readFileSync(join(dir, blobPath(scratch.manifest.layers[0]!.digest))).subarray(0, 2), Buffer.from([0x1f, 0x8b]));
    assert.ok(!names.includes('index.json') && !names.includes('oci-layout'), 'no OCI index unless --oci-layout');
  });

  it('skopeo reads the archive: layers are the config diff_ids', () => {
    for (const tag of ['scratch', 'alpine']) {
      const { config } = layoutConfigFor(fx.layout, tag);
      const inspected = JSON.parse(skopeo(['inspect', `docker-archive:${archive}:hello:${tag}`]));
      assert.deepEqual(inspected.Layers, config.rootfs.diff_ids);
      const exportedConfig = JSON.parse(skopeo(['inspect', '--config', `docker-archive:${archive}:hello:${tag}`]));
      assert.deepEqual(exportedConfig.rootfs.diff_ids, config.rootfs.diff_ids);
      assert.deepEqual(exportedConfig.config.Entrypoint, ['/hello']);
    }
  });

  it('skopeo copy docker-archive: → oci: round trips the files', () => {
    const oci = join(tmp.path, 'roundtrip');
    skopeo(['copy', `docker-archive:${archive}:hello:alpine`, `oci:${oci}:alpine`]);
    const copied = layoutConfigFor(oci, 'alpine');
    assert.deepEqual(copied.config.rootfs.diff_ids, layoutConfigFor(fx.layout, 'alpine').config.rootfs.diff_ids);
    const bundle = join(tmp.path, 'roundtrip-bundle');
    run('umoci', ['unpack', '--image', `${oci}:alpine`, bundle]);
    assert.deepEqual(readFileSync(join(bundle, 'rootfs', 'hello')), readFileSync(fx.hello));
    assert.deepEqual(readFileSync(join(bundle, 'rootfs', 'bin', 'sh')), readFileSync(staticBusybox()));
  });

  it('read back (copy docker-archive:), an image keeps the layout\'s manifest digest and media type, as copy to docker-archive: keeps them', () => {
    const out = join(tmp.path, 'read-back');
    for (const tag of ['scratch', 'alpine']) {
      const r = runCli(['copy', `docker-archive:${archive}:hello:${tag}`, `oci:${out}:${tag}`]);
      assert.equal(r.status, 0, r.stderr);
      const inspected = JSON.parse(skopeo(['inspect', `oci:${out}:${tag}`])) as { Digest: string };
      assert.equal(inspected.Digest, layoutConfigFor(fx.layout, tag).manifestDigest, `hello:${tag}`);
    }
    assert.equal(JSON.parse(skopeo(['inspect', '--raw', `oci:${out}:alpine`])).config.mediaType, MediaType.OciConfig);
    const p = podman(join(tmp.path, 'podman-read-back'));
    try {
      assert.match(p.run(['load', '-q', '-i', archive]), /hello:alpine/);
    } finally {
      p.cleanup();
    }
  });

  it('IMAGE=REPO:TAG selects and renames; one image named twice is one entry', (t) => {
    const out = join(tmp.path, 'renamed.tar');
    const r = runCli(['export', '--layout', fx.layout, 'scratch=registry.example:5000/team/hello:1.0', 'scratch=hello:latest', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const dir = join(tmp.path, 'renamed');
    extract(out, dir);
    const entries = readManifestJson(dir);
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0]!.RepoTags, ['registry.example:5000/team/hello:1.0', 'hello:latest']);
    const p = podman(join(tmp.path, 'podman-renamed'));
    t.after(p.cleanup);
    p.run(['load', '-q', '-i', out]);
    const names = p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n').sort();
    assert.deepEqual(names, ['localhost/hello:latest', 'registry.example:5000/team/hello:1.0']);
  });

  it('oci:DIR:NAME=REPO:TAG names the layout and the image as skopeo does: the same archive as --layout', (t) => {
    const byFlag = join(tmp.path, 'by-flag.tar');
    const byName = join(tmp.path, 'by-name.tar');
    assert.equal(runCli(['export', '--layout', fx.layout, 'scratch=hello:1.0', '-o', byFlag]).status, 0);
    const r = runCli(['export', `oci:${fx.layout}:scratch=hello:1.0`, '-o', byName]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(byName), readFileSync(byFlag));
    const p = podman(join(tmp.path, 'podman-oci-name'));
    t.after(p.cleanup);
    p.run(['load', '-q', '-i', byName]);
    assert.deepEqual(p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n'), ['localhost/hello:1.0']);
  });

  it('a layout that keeps signatures (sha256-<hex>.sig, as sign writes them) exports its images only, which podman loads', (t) => {
    const signed = join(tmp.path, 'signed');
    cpSync(fx.layout, signed, { recursive: true });
    const env = { COSIGN_PASSWORD: '' };
    assert.equal(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }).status, 0);
    const sign = runCli(['sign', `oci:${signed}:alpine`, '--key', join(tmp.path, 'k.key'), '--sign-container-identity', 'localhost/hello'], { env });
    assert.equal(sign.status, 0, sign.stderr);
    assert.match(readFileSync(join(signed, 'index.json'), 'utf8'), /"sha256-[0-9a-f]{64}\.sig"/, 'the signature is a name of the layout');

    const out = join(tmp.path, 'signed.tar');
    const r = runCli(['export', '--layout', signed, '--repository', 'hello', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(run('tar', ['-xOf', out, 'manifest.json'])).map((e: { RepoTags: string[] }) => e.RepoTags), [['hello:scratch'], ['hello:alpine']]);
    const p = podman(join(tmp.path, 'podman-signed'));
    t.after(p.cleanup);
    p.run(['load', '-q', '-i', out]);
    assert.deepEqual(p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n').sort(), ['localhost/hello:alpine', 'localhost/hello:scratch']);
  });

  it('a layout that also names an artifact (artifact push, oras push --oci-layout) exports its images and says the artifact is left out', (t) => {
    const mixed = join(tmp.path, 'mixed');
    cpSync(fx.layout, mixed, { recursive: true });
    const notes = join(tmp.path, 'notes.txt');
    writeFileSync(notes, 'release notes\n');
    assert.equal(runCli(['artifact', 'push', `oci:${mixed}:notes`, notes, '--artifact-type', 'application/vnd.example.notes']).status, 0);

    const out = join(tmp.path, 'mixed.tar');
    const r = runCli(['export', '--layout', mixed, '--repository', 'hello', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^"notes" is not a container image \(config media type application\/vnd\.oci\.empty\.v1\+json\): left out of the archive$/m);
    assert.deepEqual(JSON.parse(run('tar', ['-xOf', out, 'manifest.json'])).map((e: { RepoTags: string[] }) => e.RepoTags), [['hello:scratch'], ['hello:alpine']]);
    const p = podman(join(tmp.path, 'podman-mixed'));
    t.after(p.cleanup);
    p.run(['load', '-q', '-i', out]);
    assert.deepEqual(p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n').sort(), ['localhost/hello:alpine', 'localhost/hello:scratch']);
  });

  it('writes to stdout when it is not a terminal, byte for byte the same archive', () => {
    const r = spawnSync(process.execPath, [CLI, 'export', '--layout', fx.layout, '--repository', 'hello'], { maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.ok(r.stdout.equals(readFileSync(archive)), 'stdout archive differs from the -o archive');
    assert.match(r.stderr.toString(), /wrote 2 images to stdout/);
  });

  it('--oci-layout also writes an OCI index that skopeo oci-archive: reads', () => {
    const out = join(tmp.path, 'with-index.tar');
    const r = runCli(['export', '--layout', fx.layout, '--repository', 'hello', '--oci-layout', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const inspected = JSON.parse(skopeo(['inspect', `oci-archive:${out}:hello:alpine`]));
    assert.equal(inspected.Digest, layoutConfigFor(fx.layout, 'alpine').manifestDigest);
    const viaDocker = JSON.parse(skopeo(['inspect', `docker-archive:${out}:hello:scratch`]));
    assert.deepEqual(viaDocker.Layers, layoutConfigFor(fx.layout, 'scratch').config.rootfs.diff_ids);
    // oci-image-tool 1.0.0-rc cannot walk tar files at all (even GNU tar's): validate the tree.
    const dir = join(tmp.path, 'with-index');
    extract(out, dir);
    run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=hello:alpine', dir]);
  });

  it('narrows an image index to --platform', async () => {
    const layout = await OciLayout.open(fx.layout);
    const scratch = layoutConfigFor(fx.layout, 'scratch');
    const alpine = layoutConfigFor(fx.layout, 'alpine');
    const entry = (digest: string, architecture: string) => ({
      mediaType: MediaType.OciManifest, digest: digest as `sha256:${string}`, size: readFileSync(join(fx.layout, 'blobs', 'sha256', hexOf(digest))).length,
      platform: { os: 'linux', architecture },
    });
    const index = await layout.putJson(MediaType.OciIndex, {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [entry(scratch.manifestDigest, 'amd64'), entry(alpine.manifestDigest, 'arm64')],
    });
    const multiLayout = join(tmp.path, 'multi');
    run('cp', ['-a', fx.layout, multiLayout]);
    const copy = await OciLayout.open(multiLayout);
    await copy.tag(index, 'multi');
    const configOf = (platform?: string) => {
      const label = (platform ?? 'default').replaceAll('/', '-');
      const out = join(tmp.path, `multi-${label}.tar`);
      const r = runCli(['export', '--layout', multiLayout, 'multi=hello:multi', '-o', out, ...(platform ? ['--platform', platform] : [])]);
      assert.equal(r.status, 0, r.stderr);
      const dir = join(tmp.path, `multi-${label}`);
      extract(out, dir);
      return readManifestJson(dir)[0]!.Config;
    };
    assert.equal(configOf(), `blobs/sha256/${hexOf(scratch.manifest.config.digest)}`);
    assert.equal(configOf('linux/arm64'), `blobs/sha256/${hexOf(alpine.manifest.config.digest)}`);
    const r = runCli(['export', '--layout', multiLayout, 'multi=hello:multi', '--platform', 'linux/s390x', '-o', join(tmp.path, 'x.tar')]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'ocipush: "multi" has no image for linux/s390x (it has: linux/amd64, linux/arm64); choose one with --platform\n');
  });

  it('the library API streams to any writable and reports what it wrote', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const result = await exportDockerArchive({ layout: fx.layout, images: ['alpine=hello:alpine'], output: sink });
    assert.equal(result.images.length, 1);
    assert.deepEqual(result.images[0]!.repoTags, ['hello:alpine']);
    assert.equal(result.images[0]!.manifest, layoutConfigFor(fx.layout, 'alpine').manifestDigest);
    assert.equal(result.blobCount, 4);
    assert.ok(Buffer.concat(chunks).length > result.blobBytes);
  });
});
