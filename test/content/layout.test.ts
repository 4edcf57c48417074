import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { OciLayout } from '../../src/content/layout.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { OcipushError } from '../../src/errors.js';
import { gzipSync } from 'node:zlib';
import { tempDir, requireTool, run, runCli, REPO_ROOT, validateLayout } from '../support/tools.js';
import { assertOk } from '../cli/registry-support.js';
import { skopeoTags } from '../registry/support.js';

async function listAll(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

test('a new layout is valid for oci-image-tool and umoci', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
  // An empty tar (two zero blocks), gzipped: oci-image-tool wants at least one layer.
  const layer = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.alloc(1024)));
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
  await layout.tag(manifest, 'empty');
  validateLayout(layout.root, 'empty');
  requireTool('umoci');
  const list = run('umoci', ['ls', '--layout', layout.root]);
  assert.equal(list.trim(), 'empty');
});

test('blobs are verified on the way in and out, and a bad push leaves nothing behind', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(dir.path, { create: true });
  const before = await listAll(dir.path);
  const good = Buffer.from('some content');
  const desc = { digest: sha256(good), size: good.length };
  await assert.rejects(layout.push({ digest: sha256('other'), size: good.length }, Readable.from([good])), (err: unknown) => (err as OcipushError).code === 'EDIGEST');
  assert.deepEqual(await listAll(dir.path), before, 'a refused blob leaves no file, temp or final');
  await layout.push(desc, Readable.from([good]));
  assert.ok(await layout.exists(desc));
  assert.deepEqual(await layout.readBlob(desc), good);
  // A blob corrupted on disk is refused when read back.
  await writeFile(layout.blobPath(desc.digest), 'some CONTENT');
  await assert.rejects(layout.readBlob(desc), (err: unknown) => (err as OcipushError).code === 'EDIGEST');
  // Small blobs are read in one go: longer or shorter than declared is refused as a stream refuses it, when read.
  const refused = (pattern: RegExp) => (err: unknown) => (err as OcipushError).code === 'EDIGEST' && pattern.test((err as Error).message);
  await writeFile(layout.blobPath(desc.digest), 'some content and more');
  await assert.rejects(layout.readBlob(desc), refused(/: more than the expected 12 bytes$/));
  await writeFile(layout.blobPath(desc.digest), 'some');
  const stream = await layout.fetch(desc);
  await assert.rejects(async () => { for await (const _ of stream) { /* read */ } }, refused(/: size 4 does not match the expected 12$/));
});

test('tags replace only their own entry, and resolve names what exists on a miss', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(dir.path, { create: true });
  const a = await layout.putBytes(MediaType.OciManifest, Buffer.from('{"a":1}'));
  const b = await layout.putBytes(MediaType.OciManifest, Buffer.from('{"b":2}'));
  await layout.tag(a, 'one');
  await layout.tag(a, 'two');
  await layout.tag(b, 'one');
  const index = await layout.readIndex();
  assert.equal(index.manifests.length, 2);
  assert.equal((await layout.resolve('one')).digest, b.digest);
  assert.equal((await layout.resolve('two')).digest, a.digest);
  await assert.rejects(layout.resolve('three'), /no image tagged "three" \(the layout has: two, one\)/);
  await assert.rejects(layout.resolve(), /holds 2 images/);
  await assert.rejects(layout.tag({ mediaType: MediaType.OciManifest, digest: sha256('missing'), size: 7 }, 'x'), /not stored/);
});

test('one image listed twice, unnamed (skopeo copy into oci:DIR) and then named, is the layout\'s only image', async (t) => {
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const src = await OciLayout.open(join(dir.path, 'src'), { create: true });
  const config = await src.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const manifest = await src.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [] });
  await src.tag(manifest, 'v1');
  const dst = join(dir.path, 'dst');
  run('skopeo', ['copy', '--quiet', `oci:${join(dir.path, 'src')}:v1`, `oci:${dst}`]);
  const layout = await OciLayout.open(dst);
  const [unnamed] = (await layout.readIndex()).manifests;
  assert.equal(unnamed?.annotations, undefined, 'skopeo lists it without a name');
  await layout.tag(unnamed!, 'app');
  assert.equal((await layout.readIndex()).manifests.length, 2);
  const only = await layout.resolve();
  assert.deepEqual([only.digest, only.annotations?.['org.opencontainers.image.ref.name']], [manifest.digest, 'app']);
  // Two images are still two.
  await layout.tag(config, 'other');
  await assert.rejects(layout.resolve(), /holds 2 images/);
});

test('a corrupt layout is named with its cause', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  await assert.rejects(OciLayout.open(dir.path), /not an OCI image layout/);
  await writeFile(join(dir.path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layout = await OciLayout.open(dir.path);
  await assert.rejects(layout.readIndex(), /index.json is missing/);
  await writeFile(join(dir.path, 'index.json'), '{not json');
  await assert.rejects(layout.readIndex(), /index.json is not valid JSON/);
  await mkdir(join(dir.path, 'x'));
  await writeFile(join(dir.path, 'x', 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
  await assert.rejects(OciLayout.open(join(dir.path, 'x')), /unsupported imageLayoutVersion/);
});

test('concurrent writers in separate processes never lose a tag', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  await OciLayout.open(dir.path, { create: true });
  const script = `
    import { OciLayout } from ${JSON.stringify(join(REPO_ROOT, 'dist/src/content/layout.js'))};
    const layout = await OciLayout.open(process.argv[1]);
    for (let i = 0; i < 20; i++) {
      const d = await layout.putBytes('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ w: process.argv[2], i })));
      await layout.tag(d, 'w' + process.argv[2] + '-' + i);
    }`;
  const writers = [1, 2, 3, 4].map((w) => new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir.path, String(w)], { stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? -1));
  }));
  assert.deepEqual(await Promise.all(writers), [0, 0, 0, 0]);
  const index = JSON.parse(await readFile(join(dir.path, 'index.json'), 'utf8'));
  assert.equal(index.manifests.length, 80);
  const leftovers = (await listAll(dir.path)).filter((p) => p.includes('.tmp-') || p.endsWith('.lock'));
  assert.deepEqual(leftovers, []);
});

test('a truncated blob is reported as corrupt with its size, not as missing', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
  const layer = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.alloc(1024)));
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
  await layout.tag(manifest, 'img');
  await layout.close();
  const bytes = await readFile(layout.blobPath(layer.digest));
  await writeFile(layout.blobPath(layer.digest), bytes.subarray(0, 10));
  const truncated = new RegExp(`blob ${layer.digest} is corrupt: truncated to 10 bytes, expected ${layer.size} \\(`);
  // A push reads the layout's blobs through LazyBlobs: a blob not recorded as remote is looked at on disk.
  const { LazyBlobs } = await import('../../src/transfer/lazy-blobs.js');
  await assert.rejects(new LazyBlobs(layout).ensure(layer), (err: OcipushError) => err.code === 'EDIGEST' && truncated.test(err.message));
  const r = runCli(['export', '--layout', layout.root, 'img=img:1', '-o', join(dir.path, 'out.tar')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, truncated);
  await rm(layout.blobPath(layer.digest));
  await assert.rejects(new LazyBlobs(layout).ensure(layer), /is missing, and no registry is recorded to fetch it from$/);
});

test('a write that finds its blob already there (untagged) makes the layout a writer first: gc waits, the blob stays', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const { collectGarbage } = await import('../../src/content/gc.js');
  const layerBytes = gzipSync(Buffer.alloc(1024));
  const configJson = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } };
  // An image whose tag was deleted (as `delete oci:DIR:NAME` or `umoci rm` leave it): its blobs are garbage until gc.
  const first = await OciLayout.open(dir.path, { create: true });
  const layer = await first.putBytes(MediaType.OciLayerGzip, layerBytes);
  const config = await first.putJson(MediaType.OciConfig, configJson);
  await first.tag(await first.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }), 'old');
  assert.equal(await first.untag('old'), true);
  await first.close();

  // A verb writing an image over the same blobs (sign again, attach the same file, index create): both are found there.
  const writer = await OciLayout.open(dir.path);
  assert.deepEqual(await writer.putBytes(MediaType.OciLayerGzip, layerBytes), layer);
  await writer.push(config, Readable.from([Buffer.from(JSON.stringify(configJson))]));
  const gc = await OciLayout.open(dir.path);
  await assert.rejects(collectGarbage(gc, { waitMs: 0 }), (err: unknown) => (err as OcipushError).code === 'ELOCKED');
  await writer.tag(await writer.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer], annotations: { n: '2' } }), 'new');
  await writer.close();
  assert.equal((await collectGarbage(gc, { waitMs: 0, graceMs: 0 })).removed.length, 1, 'only the old manifest goes');
  validateLayout(dir.path, 'new');
  requireTool('umoci');
  run('umoci', ['unpack', '--image', `${dir.path}:new`, join(dir.path, 'bundle')]);
});

test('a manifest deleted by hand under one tag fails no later write into the layout; a new entry still must be stored', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const trees = ['a', 'b', 'c'].map((name) => {
    const tree = join(dir.path, `rootfs-${name}`);
    mkdirSync(tree);
    writeFileSync(join(tree, name), `${name}\n`);
    return tree;
  });
  const root = join(dir.path, 'l');
  for (const [i, name] of ['a', 'b'].entries()) assert.equal(runCli(['build', trees[i]!, '--layout', root, '--tag', name, '-q']).status, 0);
  const source = join(dir.path, 'source');
  assert.equal(runCli(['build', trees[2]!, '--layout', source, '--tag', 'c', '-q']).status, 0);
  const layout = await OciLayout.open(root);
  const damaged = await layout.resolve('a');
  await rm(layout.blobPath(damaged.digest));

  // Writes of other images go on, as skopeo's and umoci's do; the damaged entry is left as it was, for gc and validate to name.
  for (const args of [['build', trees[2]!, '--layout', root, '--tag', 'built'], ['copy', `oci:${source}:c`, `oci:${root}:copied`], ['tag', `oci:${root}:b`, 'b2']]) {
    const r = runCli([...args, '-q']);
    assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
  }
  assert.deepEqual(await layout.names(), ['a', 'b', 'built', 'copied', 'b2']);
  requireTool('skopeo');
  for (const name of ['built', 'copied', 'b2']) JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${root}:${name}`]));
  assert.match(runCli(['gc', '--layout', root]).stderr, new RegExp(`index\\.json names manifest ${damaged.digest}, which the layout does not hold`));

  // The check still holds for what a write adds: a second name for the missing manifest is refused.
  await assert.rejects(layout.tag(damaged, 'again'), (err: OcipushError) => err.code === 'ELAYOUT' && err.message.endsWith(`refusing to index ${damaged.digest}, which is not stored`));
  assert.deepEqual(await layout.names(), ['a', 'b', 'built', 'copied', 'b2']);
  await layout.close();
});

test('a new name of an entry docker save ≥ 25 wrote (a bare tag beside containerd\'s full name) takes that repository: export names both, as skopeo reads the archive, instead of the old name twice', async (t) => {
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const root = join(dir.path, 'l');
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  assertOk(runCli(['build', rootfs, '--layout', root, '--tag', 'latest', '-q']));
  // As docker save ≥ 25 writes index.json: the tag alone, the full name in containerd's annotation.
  const indexFile = join(root, 'index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  index.manifests[0]!.annotations['io.containerd.image.name'] = 'docker.io/example/app:latest';
  await writeFile(indexFile, JSON.stringify(index));
  assertOk(runCli(['tag', `oci:${root}:latest`, '1.0', 'example/other:2']));
  const archive = join(dir.path, 'app.tar');
  assertOk(runCli(['export', `oci:${root}`, '-o', archive, '-q']));
  assert.deepEqual(skopeoTags(`docker-archive:${archive}`),
    ['docker.io/example/app:1.0', 'docker.io/example/app:latest', 'example/other:2']);
});
