import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk } from '../cli/registry-support.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * zstd as `pzstd` writes it: a skippable frame (magic 0x184D2A50, its length, pzstd's frame
 * sizes) before the first zstd frame. containerd, go-archive (docker load) and the zstd command
 * take such a stream as zstd; a docker-archive so compressed, or a layer, is read as zstd here too.
 */
describe('zstd written by pzstd (a skippable frame first)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layerTar: Buffer;
  const pzstd = (bytes: Buffer): Buffer => execFileSync('pzstd', ['-q', '-c'], { input: bytes, maxBuffer: 64 << 20 });

  /** A docker-archive (docker save's layout) of one image whose one layer is `layer`. */
  function dockerArchive(name: string, layer: Buffer): string {
    const dir = join(tmp.path, name);
    mkdirSync(dir, { recursive: true });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } }));
    writeFileSync(join(dir, `${sha256(config).slice(7)}.json`), config);
    writeFileSync(join(dir, 'layer.tar'), layer);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `${sha256(config).slice(7)}.json`, RepoTags: ['example.com/app:1'], Layers: ['layer.tar'] }]));
    const file = join(tmp.path, `${name}.tar`);
    run('tar', ['--owner=0', '--group=0', '-C', dir, '-cf', file, 'manifest.json', 'layer.tar', `${sha256(config).slice(7)}.json`]);
    return file;
  }

  const manifestOf = (layout: string, tag: string) => {
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
    return { digest: entry.digest, manifest: JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', entry.digest.slice(7)), 'utf8')) as { layers: { mediaType: string }[] } };
  };
  const rootfsNames = (ref: string) => {
    const out = join(tmp.path, `rootfs-${Math.random().toString(36).slice(2)}.tar`);
    assertOk(runCli(['rootfs', ref, '-o', out]));
    return run('tar', ['-tf', out]).split('\n').filter((n) => n && !n.endsWith('/')).sort();
  };

  before(async () => {
    requireTool('pzstd');
    requireTool('tar');
    tmp = await tempDir();
    const files = join(tmp.path, 'files');
    mkdirSync(join(files, 'etc'), { recursive: true });
    writeFileSync(join(files, 'etc', 'hello'), 'hello\n');
    writeFileSync(join(files, 'etc', 'big'), 'x'.repeat(200_000));
    const file = join(tmp.path, 'layer.tar');
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-C', files, '-cf', file, '.']);
    layerTar = readFileSync(file);
    assert.equal(pzstd(layerTar).readUInt32LE(0), 0x184d2a50, 'pzstd writes a skippable frame first');
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('a docker-archive compressed by pzstd is read as the archive itself: the same image', () => {
    const plain = dockerArchive('plain', layerTar);
    const zst = join(tmp.path, 'plain.tar.zst');
    writeFileSync(zst, pzstd(readFileSync(plain)));
    const layout = join(tmp.path, 'from-archive');
    assertOk(runCli(['copy', '-q', `docker-archive:${plain}`, `oci:${layout}:plain`]));
    assertOk(runCli(['copy', '-q', `docker-archive:${zst}`, `oci:${layout}:zst`]));
    assert.equal(manifestOf(layout, 'zst').digest, manifestOf(layout, 'plain').digest);
  });

  it('a pzstd-compressed layer in a docker-archive is a zstd layer: validate checks it against its diff_id, and rootfs and the zstd command read its tar', () => {
    const archive = dockerArchive('layer-zst', pzstd(layerTar));
    const layout = join(tmp.path, 'layer-zst');
    assertOk(runCli(['copy', '-q', `docker-archive:${archive}`, `oci:${layout}:app`]));
    assert.equal(manifestOf(layout, 'app').manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assertOk(runCli(['validate', `oci:${layout}:app`]));
    assert.deepEqual(rootfsNames(`oci:${layout}:app`), ['./etc/big', './etc/hello']);
    const layer = manifestOf(layout, 'app').manifest.layers[0] as unknown as { digest: string };
    assert.ok(execFileSync('zstd', ['-dcq', join(layout, 'blobs', 'sha256', layer.digest.slice(7))], { maxBuffer: 64 << 20 }).equals(layerTar), 'the zstd command reads the layer back as the tar');
  });

  it('a layout layer pzstd compressed, whatever its media type says, is read as zstd, as containerd reads it', () => {
    const layout = join(tmp.path, 'labelled');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer, mediaType: string) => {
      writeFileSync(join(blobs, sha256(bytes).slice(7)), bytes);
      return { mediaType, digest: sha256(bytes), size: bytes.length };
    };
    const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } })), 'application/vnd.oci.image.config.v1+json');
    const manifest = put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [put(pzstd(layerTar), 'application/vnd.oci.image.layer.v1.tar+gzip')],
    })), 'application/vnd.oci.image.manifest.v1+json');
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
    assert.deepEqual(rootfsNames(`oci:${layout}:v1`), ['./etc/big', './etc/hello']);
  });
});
