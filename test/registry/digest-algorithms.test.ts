import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir, validateLayout } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { blobPath, skopeoRawManifest, umociImage, type UmociImage } from './support.js';

const sha512 = (bytes: Uint8Array) => `sha512:${createHash('sha512').update(bytes).digest('hex')}`;

/**
 * sha512 is the other digest algorithm the image spec registers, and a reference may name a
 * manifest by it (`REPO@sha512:…`): what the registry answers must hash to it with sha512, as
 * it must hash to a sha256 name with sha256, or a pull by digest pins nothing.
 */
describe('a manifest named by a sha512 digest', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let manifestBytes: Buffer;

  /** The registry's own link of a manifest revision under a sha512 name, as one that keeps sha512 names holds it. */
  const linkSha512 = async (repository: string, name: string) => {
    const dir = join(registry.storageDir, 'docker/registry/v2/repositories', repository, '_manifests/revisions/sha512', name.slice('sha512:'.length));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'link'), image.manifest.digest);
  };

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'v1', [2048]);
    manifestBytes = await readFile(blobPath(image.layout, image.manifest.digest));
    assertOk(await runCliAsync(['push', `oci:${image.layout}:v1`, `${registry.host}/algo/app:v1`]));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull by a sha512 digest the bytes do not have is refused in one line, nothing written', async () => {
    const other = sha512(Buffer.from('another manifest'));
    await linkSha512('algo/app', other);
    const dir = join(tmp.path, 'wrong');
    const r = await runCliAsync(['pull', `${registry.host}/algo/app@${other}`, `oci:${dir}:app`]);
    assertOneLineError(r, new RegExp(`^ocipush: ${registry.host}: fetch manifest algo/app@${other}: content has digest ${sha512(manifestBytes)}, the registry says ${other}$`));
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('pull by the sha512 digest the bytes have writes the image', async () => {
    const own = sha512(manifestBytes);
    await linkSha512('algo/app', own);
    const dir = join(tmp.path, 'right');
    assertOk(await runCliAsync(['pull', `${registry.host}/algo/app@${own}`, `oci:${dir}:app`]));
    validateLayout(dir, 'app');
  });
});

/**
 * A layout whose blobs and manifests are named by sha512 (`blobs/sha512/…`, as containerd can
 * write one): distribution checks a sha512 digest it is given, then names what it stored by its
 * sha256. An image goes under its tag; an index, whose images the registry would have to find by
 * their sha512 names, is refused in one line.
 */
describe('copy of a layout named by sha512 into a registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  let manifestBytes: Buffer;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    const image = umociImage(tmp.path, 'v1', [2048]);
    layout = join(tmp.path, 'sha512');
    const put = async (bytes: Buffer) => {
      const digest = sha512(bytes);
      await mkdir(join(layout, 'blobs', 'sha512'), { recursive: true });
      await writeFile(blobPath(layout, digest), bytes);
      return digest;
    };
    const manifest = JSON.parse(await readFile(blobPath(image.layout, image.manifest.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [manifest.config, ...manifest.layers]) d.digest = await put(await readFile(blobPath(image.layout, d.digest)));
    manifestBytes = Buffer.from(JSON.stringify(manifest));
    const entry = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: await put(manifestBytes), size: manifestBytes.length };
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...entry, platform: { os: 'linux', architecture: 'amd64' } }] }));
    const indexEntry = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: await put(index), size: index.length };
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, manifests: [{ ...entry, annotations: { 'org.opencontainers.image.ref.name': 'app' } }, { ...indexEntry, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }],
    }));
    for (const copy of ['whole', 'chunked']) await cp(layout, `${layout}-${copy}`, { recursive: true });
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('an image goes under its tag, its bytes as they are, and reads back whole', async () => {
    const r = await runCliAsync(['copy', `oci:${layout}:app`, `${registry.host}/algo/app:v1`]);
    assertOk(r);
    assert.deepEqual(skopeoRawManifest(`${registry.host}/algo/app:v1`).bytes, manifestBytes);
    assertOk(await runCliAsync(['validate', `${registry.host}/algo/app:v1`]));
  });

  for (const chunked of [false, true]) {
    it(`each upload session of a sha512 blob is opened with ?digest-algorithm=sha512 (distribution spec after 1.1.1)${chunked ? ', in chunks' : ''}; the image reads back whole`, async () => {
      const repo = chunked ? 'algo/chunked' : 'algo/whole';
      // A copy of the layout made before any push: no record of a repository to mount its blobs from.
      assertOk(await runCliAsync(['push', `oci:${layout}-${chunked ? 'chunked' : 'whole'}:app`, `${registry.host}/${repo}:v1`, ...(chunked ? ['--chunk-size', '1KiB'] : [])]));
      const log = registry.accessLog().filter((e) => e.path.startsWith(`/v2/${repo}/blobs/uploads/`));
      const starts = log.filter((e) => e.method === 'POST');
      assert.equal(starts.length, 2, JSON.stringify(log.map((e) => `${e.method} ${e.uri}`)));
      for (const e of starts) assert.equal(e.uri, `/v2/${repo}/blobs/uploads/?digest-algorithm=sha512`);
      if (chunked) assert.ok(log.filter((e) => e.method === 'PATCH').length > 2);
      assert.deepEqual(skopeoRawManifest(`${registry.host}/${repo}:v1`).bytes, manifestBytes);
    });
  }

  it('an index is refused in one line, its image PUT once: distribution takes no manifest under a sha512 digest', async () => {
    const r = await runCliAsync(['copy', `oci:${layout}:multi`, `${registry.host}/algo/multi:v1`]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines.at(-1)!, new RegExp(`^ocipush: ${registry.host}: push manifest ${sha512(manifestBytes)}: the registry takes no manifest under a sha512 digest \\(400 DIGEST_INVALID: it names manifests by sha256 only\\)$`));
    assert.ok(!r.stderr.includes('retrying'), r.stderr);
    assert.equal(registry.accessLog().filter((e) => e.method === 'PUT' && e.path.startsWith('/v2/algo/multi/manifests/')).length, 1);
  });
});
