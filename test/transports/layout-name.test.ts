import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build, isOcipushError, pull, push } from '../../src/index.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, umociImage } from '../registry/support.js';
import { skopeoRaw } from '../cli/copy-support.js';

/**
 * OCIPUSH_LAYOUT=oci:DIR, the CLI's default layout written as skopeo and oras name one, read by a
 * library call that names no `layout` as the CLI reads it: the directory DIR, not one called
 * `oci:DIR` under the current directory (which a build made and nothing else read).
 */
describe('OCIPUSH_LAYOUT=oci:DIR, read by the library calls', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  const cwd = process.cwd();
  const saved = process.env.OCIPUSH_LAYOUT;
  /** The manifest digest skopeo reads for `oci:DIR:NAME`. */
  const ociDigest = (dir: string, name: string) => run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${dir}:${name}`]).trim();

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    mkdirSync(join(tmp.path, 'work', 'root'), { recursive: true });
    writeFileSync(join(tmp.path, 'work', 'root', 'hello'), 'hello\n');
    // Relative paths (the rootfs, a default layout gone astray) resolve in a directory of the test's own.
    process.chdir(join(tmp.path, 'work'));
  });
  after(async () => {
    process.chdir(cwd);
    if (saved === undefined) delete process.env.OCIPUSH_LAYOUT;
    else process.env.OCIPUSH_LAYOUT = saved;
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('build writes into DIR, push sends from it and pull adds to it; nothing named oci:… appears', async () => {
    const dir = join(tmp.path, 'L');
    process.env.OCIPUSH_LAYOUT = `oci:${dir}`;
    const built = await build({ rootfs: 'root', tag: 'app' });
    assert.equal(ociDigest(dir, 'app'), built.digest);
    const pushed = await push({ tag: 'app', to: `${registry.host}/env/app:1` });
    assert.equal((await skopeoRaw(`${registry.host}/env/app:1`)).digest, built.digest);
    assert.equal(pushed.digest, built.digest);
    await pull({ from: `${registry.host}/env/app:1`, tag: 'again' });
    assert.equal(ociDigest(dir, 'again'), built.digest);
    assert.deepEqual(readdirSync('.'), ['root'], 'no directory named after the variable in the current directory');
  });

  it('a NAME in it: EUSAGE naming the variable and the `tag` option, nothing written', async () => {
    const dir = join(tmp.path, 'N');
    process.env.OCIPUSH_LAYOUT = `oci:${dir}:app`;
    const err = await build({ rootfs: 'root' }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err), String(err));
    assert.equal(err.code, 'EUSAGE');
    assert.equal(err.message, `OCIPUSH_LAYOUT=oci:${dir}:app: the variable names a layout, not an image in it: OCIPUSH_LAYOUT=oci:${dir}, and the image with \`tag\` app`);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(readdirSync('.'), ['root']);
    // A layout named by the call is the call's: the variable is not read.
    const named = await build({ rootfs: 'root', layout: join(tmp.path, 'named') });
    assert.equal(ociDigest(join(tmp.path, 'named'), 'latest'), named.digest);
  });
});

/**
 * `oci:DIR@sha512:…`, the by-digest form of a layout (oras's `--oci-layout DIR@DIGEST`) with the
 * image spec's other algorithm: it was read as the directory "DIR@sha512", which does not exist.
 */
describe('oci:DIR@sha512:…', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => { tmp = await tempDir(); });
  after(async () => tmp?.cleanup());

  it('names the image of that sha512 digest in DIR, which copy takes whole', async () => {
    const image = umociImage(tmp.path, 'v1', [512]);
    const layout = join(tmp.path, 'sha512');
    const blobs: string[] = [];
    const put = (bytes: Buffer) => {
      const digest = `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
      mkdirSync(join(layout, 'blobs', 'sha512'), { recursive: true });
      writeFileSync(blobPath(layout, digest), bytes);
      return digest;
    };
    const manifest = JSON.parse(readFileSync(blobPath(image.layout, image.manifest.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [manifest.config, ...manifest.layers]) {
      d.digest = put(readFileSync(blobPath(image.layout, d.digest)));
      blobs.push(d.digest);
    }
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = put(bytes);
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: bytes.length }] }));

    const out = join(tmp.path, 'out');
    const r = runCli(['copy', `oci:${layout}@${digest}`, `oci:${out}:app`]);
    assert.equal(r.status, 0, r.stderr);
    // Every blob is there under its sha512, its bytes hashing to it.
    for (const d of [digest, ...blobs]) {
      assert.equal(`sha512:${createHash('sha512').update(readFileSync(blobPath(out, d))).digest('hex')}`, d);
    }
  });
});
