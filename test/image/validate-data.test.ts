import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { blobPath, umociImage, type UmociImage } from '../registry/support.js';

type Json = Record<string, unknown>;

/**
 * A descriptor may carry its blob embedded (`data`, base64), and the image spec says it MUST be
 * the very blob its digest and size name: a reader that takes it instead of fetching then sees the same
 * bytes as one that fetches. validate, the gate before a promotion, said such an image was valid
 * whatever its data held.
 */
describe('validate of descriptors with embedded data', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [256]);
  });
  after(async () => tmp?.cleanup());

  /** A copy of the umoci layout whose manifest's config and first layer get `data` from `edit`. */
  const layoutWith = async (name: string, edit: (config: Json, layer: Json, blob: (d: unknown) => Promise<Buffer>) => Promise<void>) => {
    const dir = join(tmp.path, name);
    await cp(image.layout, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(blobPath(dir, image.manifest.digest), 'utf8')) as { config: Json; layers: Json[] };
    await edit(manifest.config, manifest.layers[0]!, (d) => readFile(blobPath(dir, d as string)));
    const bytes = Buffer.from(JSON.stringify(manifest));
    await writeFile(blobPath(dir, sha256(bytes)), bytes);
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.manifest, digest: sha256(bytes), size: bytes.length }] }));
    return { dir, manifest: sha256(bytes), layer: manifest.layers[0]!.digest as string, config: manifest.config.digest as string };
  };

  it('data that is the blob: valid, and umoci reads the image', async () => {
    const { dir } = await layoutWith('same', async (config, layer, blob) => {
      config.data = (await blob(config.digest)).toString('base64');
      layer.data = (await blob(layer.digest)).toString('base64');
    });
    const r = runCli(['validate', `oci:${dir}:v1`]);
    assert.equal(r.status, 0, r.stderr);
    run('umoci', ['stat', '--image', `${dir}:v1`]);
  });

  it('data of other bytes, of another length, or not base64: each named, exit 1', async () => {
    let other = Buffer.alloc(0);
    let configSize = 0;
    const { dir, manifest, layer, config } = await layoutWith('other', async (c, l, blob) => {
      other = Buffer.from(await blob(l.digest));
      other[0] = other[0]! ^ 0xff;
      l.data = other.toString('base64');
      c.data = Buffer.from('{}').toString('base64');
      configSize = c.size as number;
    });
    const r = runCli(['validate', `oci:${dir}:v1`, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const problems = (JSON.parse(r.stdout) as { problems: { code: string; digest: string; message: string }[] }).problems;
    const what = `oci:${dir}:v1: manifest ${manifest}`;
    assert.deepEqual(problems.map((p) => [p.code, p.digest, p.message]), [
      ['EINVALID', config, `${what}: config ${config}: its data is 2 bytes, the descriptor says ${configSize}`],
      ['EINVALID', layer, `${what}: layers[0] ${layer}: its data has digest ${sha256(other)}, not ${layer}`],
    ]);

    const { dir: notBase64 } = await layoutWith('text', async (_c, l) => { l.data = 'not base64!'; });
    const t = runCli(['validate', `oci:${notBase64}:v1`]);
    assert.equal(t.status, 1, t.stderr);
    assert.match(t.stderr, /layers\[0\] sha256:[0-9a-f]{64}: its data is not standard base64\n/);
  });
});
