import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayout } from '../../../src/content/layout.js';
import { digestHex, sha256 } from '../../../src/oci/digest.js';
import { MediaType } from '../../../src/oci/media-types.js';
import { MIN_BLOCK_SIZE } from '../../../src/layer/compress/index.js';
import { requireTool, run, tempDir, validateLayout } from '../../support/tools.js';
import { compress, randomBytes, textBytes } from './support.js';

const B = MIN_BLOCK_SIZE;

/** A small tree whose tar spans many blocks, and the tar of it made by GNU tar. */
function makeTar(dir: string): { files: Record<string, Buffer>; tar: Buffer } {
  requireTool('tar');
  const root = join(dir, 'rootfs');
  const files: Record<string, Buffer> = {
    'etc/motd': Buffer.from('hello from a multi-member gzip layer\n'),
    'usr/share/doc/text.txt': textBytes(5 * B + 123),
    'usr/lib/blob.bin': randomBytes(2 * B + 7),
    'empty': Buffer.alloc(0),
  };
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  const tarPath = join(dir, 'layer.tar');
  run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', tarPath, '-C', root, '.']);
  return { files, tar: readFileSync(tarPath) };
}

test('gzip, zcat and pigz read the multi-member output, empty input included', async (t) => {
  requireTool('gzip');
  requireTool('zcat');
  requireTool('pigz');
  const dir = await tempDir();
  t.after(dir.cleanup);
  for (const [name, input] of [['text', textBytes(7 * B + 1)], ['random', randomBytes(3 * B)], ['empty', Buffer.alloc(0)]] as const) {
    const path = join(dir.path, `${name}.gz`);
    writeFileSync(path, await compress(input, { compression: 'gzip', blockSize: B, threads: 2 }));
    run('gzip', ['-t', path]);
    const viaZcat = run('sh', ['-c', `zcat ${path} | sha256sum`]).split(' ')[0];
    assert.equal(`sha256:${viaZcat}`, sha256(input), `zcat ${name}`);
    const viaPigz = run('sh', ['-c', `pigz -dc ${path} | sha256sum`]).split(' ')[0];
    assert.equal(`sha256:${viaPigz}`, sha256(input), `pigz ${name}`);
  }
});

test('umoci and skopeo (Go) unpack an image whose layer came from the compressor', async (t) => {
  requireTool('umoci');
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const { files, tar } = makeTar(dir.path);
  const gz = await compress(tar, { compression: 'gzip', blockSize: B, threads: 2 });
  assert.ok(gz.length > 0);

  const layout = await OciLayout.open(join(dir.path, 'layout'), { create: true });
  const diffId = sha256(tar);
  const layer = await layout.putBytes(MediaType.OciLayerGzip, gz);
  const config = await layout.putJson(MediaType.OciConfig, {
    architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] },
  });
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
  await layout.tag(manifest, 'multi');
  validateLayout(layout.root, 'multi');

  const bundle = join(dir.path, 'bundle');
  run('umoci', ['unpack', '--rootless', '--image', `${layout.root}:multi`, bundle]);
  for (const [name, content] of Object.entries(files)) {
    assert.ok(readFileSync(join(bundle, 'rootfs', name)).equals(content), `umoci unpacked ${name}`);
  }

  // --dest-decompress makes skopeo gunzip the layer in Go and store it under its own digest.
  const out = join(dir.path, 'dir');
  run('skopeo', ['copy', '--dest-decompress', `oci:${layout.root}:multi`, `dir:${out}`]);
  assert.ok(readdirSync(out).includes(digestHex(diffId)), 'skopeo stored the decompressed layer under the diff_id');
});
