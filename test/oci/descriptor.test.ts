import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { runCli, tempDir } from '../support/tools.js';
import { blobPath, umociImage, type UmociImage } from '../registry/support.js';

type Json = Record<string, unknown>;

/**
 * A descriptor the image spec refuses (a digest in upper-case hex or of an algorithm nobody
 * registered, a size that is negative, fractional or a string) is named with its fault, as Go's
 * decoder and go-digest name it to skopeo's and containerd's users: "not a valid descriptor
 * (mediaType, digest, size)" left the user to find which of the three, and why.
 */
describe('a manifest with a descriptor the image spec refuses', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [512]);
  });
  after(async () => tmp?.cleanup());

  /** A copy of the umoci layout whose image's first layer descriptor is changed by `edit`, its manifest stored again. */
  const layoutWith = async (name: string, edit: (layer: Json, manifest: Json) => void): Promise<string> => {
    const dir = join(tmp.path, name);
    await cp(image.layout, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(blobPath(dir, image.manifest.digest), 'utf8')) as { layers: Json[] };
    edit(manifest.layers[0]!, manifest);
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = sha256(bytes);
    await writeFile(blobPath(dir, digest), bytes);
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.manifest, digest, size: bytes.length }] }));
    return dir;
  };

  const cases: [string, (layer: Json, manifest: Json) => void, string, string?][] = [
    ['upper-case hex', (l) => { l.digest = `sha256:${(l.digest as string).slice(7).toUpperCase()}`; }, 'digest "sha256:[0-9A-F]{64}" has upper-case hex digits \\(the image spec allows only a-f0-9\\)'],
    ['an algorithm nobody registered', (l) => { l.digest = `md5:${'a'.repeat(32)}`; }, 'digest "md5:a{32}": md5 is not an algorithm ocipush reads \\(sha256, sha512\\)'],
    ['a digest cut short', (l) => { l.digest = (l.digest as string).slice(0, 40); }, 'digest "sha256:[0-9a-f]{33}": a sha256 digest has 64 hex digits, not 33'],
    ['a negative size', (l) => { l.size = -1; }, 'size -1 is negative'],
    ['a fractional size', (l) => { l.size = 512.5; }, 'size 512.5 is not a whole number of bytes'],
    ['a size in a string', (l) => { l.size = '512'; }, 'size is a string \\("512"\\), not a number'],
    ['no mediaType', (l) => { delete l.mediaType; }, 'no mediaType'],
    ['no config at all', (_l, m) => { delete m.config; }, 'there is none', 'config'],
  ];
  for (const [what, edit, cause, field = 'layers\\[0\\]'] of cases) {
    it(`${what}: validate and copy say so in one line, exit 1, nothing written`, async () => {
      const dir = await layoutWith(what.replace(/\W+/g, '-'), edit);
      const line = new RegExp(`^ocipush: oci:${dir}:v1: manifest sha256:[0-9a-f]{64}: ${field}: not a valid descriptor: ${cause}$`);
      for (const args of [['validate', `oci:${dir}:v1`], ['copy', `oci:${dir}:v1`, `oci:${join(tmp.path, 'out')}:v1`]]) {
        const r = runCli(args);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.deepEqual(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.match(r.stderr.trimEnd(), line);
      }
      await assert.rejects(readFile(join(tmp.path, 'out', 'index.json')), { code: 'ENOENT' });
    });
  }
});
