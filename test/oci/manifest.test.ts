import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, umociImage, type UmociImage } from '../registry/support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;

// One umoci image for the whole file: each test edits a copy of it.
before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [256]);
});
after(async () => tmp?.cleanup());

/**
 * A manifest whose config descriptor carries a manifest's or an index's media type: its config
 * is a blob all the same, which oci-image-tool refuses as an invalid config descriptor. copy
 * took it for a child manifest and failed on "manifest sha256:…: unsupported schemaVersion
 * undefined", naming neither the config nor the manifest; validate called the image a valid
 * artifact. Each now refuses it in one line naming both and the cause.
 */
describe('a manifest whose config has the media type of a manifest or an index', () => {


  for (const [kind, mediaType] of [['an index', MediaType.OciIndex], ['a manifest', MediaType.OciManifest]] as const) {
    it(`${kind}'s: validate, inspect and copy refuse it in one line, exit 1, nothing written`, async () => {
      const dir = join(tmp.path, kind.replace(' ', '-'));
      await cp(image.layout, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(blobPath(dir, image.manifest.digest), 'utf8')) as { config: { mediaType: string; digest: string } };
      manifest.config.mediaType = mediaType;
      const bytes = Buffer.from(JSON.stringify(manifest));
      await writeFile(blobPath(dir, sha256(bytes)), bytes);
      await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.manifest, digest: sha256(bytes), size: bytes.length }] }));
      requireTool('oci-image-tool');
      assert.throws(() => run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v1', dir]), new RegExp(`config validation failed: invalid descriptor MediaType \\\\"${mediaType.replace(/[.+]/g, '\\$&')}\\\\"`), 'oci-image-tool refuses it too');

      const line = new RegExp(`^ocipush: oci:${dir}:v1: manifest ${sha256(bytes)}: config ${manifest.config.digest} has the media type of ${kind} \\(${mediaType.replace(/[.+]/g, '\\$&')}\\); a config is a blob, never a manifest$`);
      const out = join(tmp.path, `out-${kind.replace(' ', '-')}`);
      for (const args of [['validate', `oci:${dir}:v1`], ['inspect', `oci:${dir}:v1`], ['copy', `oci:${dir}:v1`, `oci:${out}:v1`]]) {
        const r = runCli(args);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr.trimEnd(), line);
      }
      await assert.rejects(stat(out), { code: 'ENOENT' });
    });
  }
});

/**
 * JSON that starts with a UTF-8 byte order mark (an editor's save of index.json or a manifest),
 * which RFC 8259 forbids and skopeo and umoci refuse too: the line said "Unexpected token '﻿'"
 * with the invisible character itself, or only "is not valid JSON"; it now names the mark.
 */
describe('a layout file or a manifest that starts with a byte order mark', () => {
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  const note = 'it starts with a byte order mark \\(EF BB BF\\), which JSON may not';


  const copyOf = async (name: string) => {
    const dir = join(tmp.path, name);
    await cp(image.layout, dir, { recursive: true });
    return dir;
  };

  it('a manifest: validate and copy name the mark, as skopeo refuses it', async () => {
    const dir = await copyOf('manifest');
    const bytes = Buffer.concat([BOM, await readFile(blobPath(dir, image.manifest.digest))]);
    await writeFile(blobPath(dir, sha256(bytes)), bytes);
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.manifest, digest: sha256(bytes), size: bytes.length }] }));
    requireTool('skopeo');
    assert.throws(() => run('skopeo', ['inspect', `oci:${dir}:v1`]), /Error parsing manifest for image: invalid character 'ï' looking for beginning of value/, 'skopeo refuses it too');
    for (const args of [['validate', `oci:${dir}:v1`], ['copy', `oci:${dir}:v1`, `oci:${join(tmp.path, 'out')}:v1`]]) {
      const r = runCli(args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), new RegExp(`^ocipush: oci:${dir}:v1: manifest ${sha256(bytes)}: not valid JSON: ${note}$`));
    }
  });

  it('index.json and oci-layout: the corrupt layout line names the mark', async () => {
    const index = await copyOf('index');
    await writeFile(join(index, 'index.json'), Buffer.concat([BOM, await readFile(join(index, 'index.json'))]));
    const r = runCli(['inspect', `oci:${index}:v1`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), new RegExp(`^ocipush: ${index}/index\\.json: corrupt layout \\(index\\.json is not valid JSON: ${note}\\)$`));

    const marker = await copyOf('marker');
    await writeFile(join(marker, 'oci-layout'), Buffer.concat([BOM, await readFile(join(marker, 'oci-layout'))]));
    const m = runCli(['inspect', `oci:${marker}:v1`]);
    assert.equal(m.status, 1, m.stderr);
    assert.match(m.stderr.trimEnd(), new RegExp(`^ocipush: ${marker}/oci-layout: corrupt layout marker \\(not JSON: ${note}\\)$`));
  });
});

/**
 * A document with both kinds' fields (CVE-2021-41190): an index's `manifests` in a manifest, or a
 * manifest without a mediaType of its own that an index lists as an index. One digest then reads
 * as two images; skopeo and containerd refuse it ("rejecting ambiguous manifest"). ocipush read
 * the one by its media type, or said "config: not a valid descriptor", "index has no manifests array".
 */
describe('a manifest that reads as an index too', () => {


  const cases: [string, (m: Record<string, unknown>) => void, string, string][] = [
    ['a manifest that also has manifests', (m) => { m.mediaType = MediaType.OciManifest; m.manifests = []; }, MediaType.OciManifest, 'it says it is a manifest \\(application/vnd\\.oci\\.image\\.manifest\\.v1\\+json\\) but has manifests, which an index has'],
    ['a manifest without its mediaType, listed as an index', (m) => { delete m.mediaType; }, MediaType.OciIndex, 'it is listed as an index \\(application/vnd\\.oci\\.image\\.index\\.v1\\+json\\) but has config and layers, which a manifest has'],
  ];
  for (const [what, edit, listedAs, cause] of cases) {
    it(`${what}: refused in one line, as skopeo refuses it`, async () => {
      const dir = join(tmp.path, what.replace(/\W+/g, '-'));
      await cp(image.layout, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(blobPath(dir, image.manifest.digest), 'utf8')) as Record<string, unknown>;
      edit(manifest);
      const bytes = Buffer.from(JSON.stringify(manifest));
      await writeFile(blobPath(dir, sha256(bytes)), bytes);
      await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.manifest, mediaType: listedAs, digest: sha256(bytes), size: bytes.length }] }));
      requireTool('skopeo');
      assert.match(spawnSync('skopeo', ['inspect', `oci:${dir}:v1`], { encoding: 'utf8' }).stderr, /rejecting ambiguous manifest/);
      for (const args of [['validate', `oci:${dir}:v1`], ['copy', `oci:${dir}:v1`, `oci:${join(tmp.path, 'out')}:v1`]]) {
        const r = runCli(args);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr.trimEnd(), new RegExp(`^ocipush: oci:${dir}:v1: manifest ${sha256(bytes)}: ${cause}: ambiguous, refused as containerd and skopeo refuse it$`));
      }
      await assert.rejects(stat(join(tmp.path, 'out')), { code: 'ENOENT' });
    });
  }
});
