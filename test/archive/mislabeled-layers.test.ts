import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { envWith } from '../cli/copy-support.js';
import { assertSameTree } from '../assemble/support.js';
import { podman } from './support.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * Layers whose bytes are not what their media type says: a plain tar called `tar+gzip` (what
 * tools that pushed `docker save` layers as they were made), gzip called `tar`, and a 0-byte
 * layer called gzip. containerd, containers/image (podman) and crane look at the bytes, so the
 * image runs; ocipush reads its filesystem the same way (umoci, which trusts the media type,
 * refuses it, and so does `validate`, whose job is to say so).
 */
describe('layers whose media type says another compression than their bytes have', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let ref: string;
  const env = envWith();

  before(async () => {
    requireTool('skopeo');
    requireTool('tar');
    tmp = await tempDir();
    registry = await startRegistry();
    const tarOf = (name: string, files: Record<string, string>): Buffer => {
      const dir = join(tmp.path, name);
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      const file = join(tmp.path, `${name}.tar`);
      run('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-C', dir, '-cf', file, '.']);
      return readFileSync(file);
    };
    const lower = tarOf('lower', { 'etc/gone': 'removed above\n', 'etc/kept': 'kept\n', 'usr/bin/tool': 'x'.repeat(100_000) });
    const upper = tarOf('upper', { 'etc/.wh.gone': '', 'etc/added': 'added\n' });
    const layers = [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: lower, diffId: sha256(lower) },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', bytes: gzipSync(upper), diffId: sha256(upper) },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: Buffer.alloc(0), diffId: sha256(Buffer.alloc(0)) },
    ];
    const layout = join(tmp.path, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer, mediaType: string) => {
      writeFileSync(join(blobs, sha256(bytes).slice(7)), bytes);
      return { mediaType, digest: sha256(bytes), size: bytes.length };
    };
    const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } })), 'application/vnd.oci.image.config.v1+json');
    const manifest = put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layers.map((l) => put(l.bytes, l.mediaType)),
    })), 'application/vnd.oci.image.manifest.v1+json');
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
    ref = `${registry.host}/odd/app:1`;
    run('skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ref}`]);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('rootfs writes the filesystem podman pulls and mounts; flatten and sbom read them too', async () => {
    const p = podman(join(tmp.path, 'podman'));
    try {
      p.run(['pull', '-q', '--tls-verify=false', `docker://${ref}`]);
      const mounted = p.run(['image', 'mount', ref]).trim();
      const out = join(tmp.path, 'fs.tar');
      assertOk(await runCliAsync(['rootfs', ref, '-o', out, '-q'], { env }));
      const unpacked = join(tmp.path, 'unpacked');
      mkdirSync(unpacked);
      run('tar', ['-C', unpacked, '-xpf', out]);
      assertSameTree(mounted, unpacked);
    } finally {
      p.cleanup();
    }
    const flat = `${registry.host}/odd/flat:1`;
    assertOk(await runCliAsync(['flatten', ref, flat, '-q'], { env }));
    const flatFs = join(tmp.path, 'flat.tar');
    assertOk(await runCliAsync(['rootfs', flat, '-o', flatFs, '-q'], { env }));
    assert.deepEqual(run('tar', ['-tf', flatFs]).split('\n').filter((n) => n && !n.endsWith('/')).sort(), ['./etc/added', './etc/kept', './usr/bin/tool']);
    const sbom = await runCliAsync(['sbom', ref], { env });
    assertOk(sbom);
    assert.deepEqual((JSON.parse(sbom.stdout) as { files: { fileName: string }[] }).files.map((f) => f.fileName).sort(), ['/etc/added', '/etc/kept', '/usr/bin/tool']);
  });

  it('a Dockerfile copies from it, as BuildKit (containerd) reads it', async () => {
    const context = join(tmp.path, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), `FROM ${ref}\nCOPY --from=${ref} /etc/added /copied\n`);
    const layout = join(tmp.path, 'built');
    assertOk(await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '--layout', layout, '-q'], { env }));
    const out = join(tmp.path, 'built.tar');
    assertOk(await runCliAsync(['rootfs', `oci:${layout}`, '-o', out, '-q'], { env }));
    assert.equal(run('tar', ['-xOf', out, 'copied']), 'added\n');
  });

  it('validate still names each layer that is not what its media type says', async () => {
    const r = await runCliAsync(['validate', ref], { env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /layer 0: blob sha256:[0-9a-f]{64} does not decompress as gzip/);
    assert.match(r.stderr, /layer 1: blob sha256:[0-9a-f]{64} decompresses to sha256:[0-9a-f]{64}, but the config lists diff_id/);
  });
});
