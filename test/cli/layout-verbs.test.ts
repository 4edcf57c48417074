import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { validate } from './json-schema.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
let digest: string;

const umociNames = () => run('umoci', ['ls', '--layout', layout]).split('\n').filter(Boolean).sort();
const skopeoDigest = (name: string) => (JSON.parse(run('skopeo', ['inspect', `oci:${layout}:${name}`])) as { Digest: string }).Digest;
const referrerEntries = () => (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { artifactType?: string }[] }).manifests.filter((m) => m.artifactType !== undefined).length;

before(async () => {
  tmp = await tempDir();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  layout = join(tmp.path, 'out');
  const r = await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '--json']);
  assertOk(r);
  digest = (JSON.parse(r.stdout) as { digest: string }).digest;
});
after(async () => {
  await tmp?.cleanup();
});

describe('tag and delete in an OCI layout (as umoci tag and umoci rm)', () => {
  it('tag names the image again in index.json: umoci lists the names, skopeo reads the same digest under each', async () => {
    const r = await runCliAsync(['tag', `oci:${layout}:app`, '1.0', 'latest', '--json']);
    assertOk(r);
    assert.deepEqual(validate('tag.schema.json', JSON.parse(r.stdout)), [], r.stdout);
    assert.deepEqual(umociNames(), ['1.0', 'app', 'latest']);
    for (const name of ['app', '1.0', 'latest']) assert.equal(skopeoDigest(name), digest);
    // A layout name may be a whole reference (as skopeo and podman write them): --json says it as given, within its schema.
    const full = await runCliAsync(['tag', `oci:${layout}:app`, 'registry.example/team/app:1.0', '--json']);
    assertOk(full);
    assert.deepEqual(validate('tag.schema.json', JSON.parse(full.stdout)), [], full.stdout);
    assert.equal(skopeoDigest('registry.example/team/app:1.0'), digest);
    assertOk(await runCliAsync(['delete', `oci:${layout}:registry.example/team/app:1.0`]));
    // As docker tag takes its TARGET, the new name may be given as the full oci:DIR:NAME of the same layout: the name is NAME.
    assertOk(await runCliAsync(['tag', `oci:${layout}:app`, `oci:${layout}:2.0`]));
    assert.deepEqual(umociNames(), ['1.0', '2.0', 'app', 'latest']);
    assertOk(await runCliAsync(['delete', `oci:${layout}:2.0`]));
  });

  it('delete removes one name; the image and its SBOM stay while another name is left, and go with the last one', async () => {
    const r = await runCliAsync(['delete', `oci:${layout}:app`, '--json']);
    assertOk(r);
    assert.deepEqual(validate('delete.schema.json', JSON.parse(r.stdout)), [], r.stdout);
    assert.deepEqual(umociNames(), ['1.0', 'latest']);
    assert.equal(referrerEntries(), 1, 'the SBOM of the image still named');
    assertOk(await runCliAsync(['delete', `oci:${layout}:1.0`]));
    assertOk(await runCliAsync(['delete', `oci:${layout}:latest`]));
    assert.deepEqual(umociNames(), []);
    assert.equal(referrerEntries(), 0, 'the SBOM of an image no name keeps');
    // No names print no lines, as umoci ls: not one empty line a script's `while read` takes for a name.
    const ls = await runCliAsync(['ls', `oci:${layout}`]);
    assertOk(ls);
    assert.equal(ls.stdout, run('umoci', ['ls', '--layout', layout]));
    const mirror = await runCliAsync(['copy', '--all-tags', `oci:${layout}`, `oci:${join(tmp.path, 'mirror')}`]);
    assertOk(mirror);
    assert.equal(mirror.stdout, '', 'no tag copied, no line');
    // gc then removes the blobs: none is left that nothing names (--prune=now: they were written a
    // moment ago, which gc's grace period for other tools' writes would keep).
    assertOk(await runCliAsync(['gc', '--layout', layout, '--prune=now']));
    // Read off the disk as the image-layout spec lays it out: skopeo 1.9 cannot name a manifest of a
    // layout by digest (oci:DIR@DIGEST is to it a directory named DIR@sha256), so it fails either way.
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')), [], 'no blob is left');
  });

  it('a name not in the layout, a name that is no name, and delete without a name: one line, the layout as it was', async () => {
    const before = readFileSync(join(layout, 'index.json'));
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:nope`, 'x']), /no image tagged "nope"/);
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:nope`, 'a b']), /"a b": not a name for an image in a layout/, 2);
    assertOneLineError(await runCliAsync(['delete', `oci:${layout}`]), /name the image to delete \(oci:DIR:NAME\)/, 2);
    // Another layout's oci:DIR:NAME is a copy, never a name "oci:…" in this one.
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:app`, `oci:${join(tmp.path, 'other')}:1.0`]), /tag names more images in .*; to put the image in another layout: ocipush copy/, 2);
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:app`, `oci:${layout}`]), /names no new name; the new names come after the image/, 2);
    // A digest is no name, sha512 as sha256: not written as one, not looked up as one.
    const sha512 = `sha512:${createHash('sha512').update('x').digest('hex')}`;
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:app`, sha512]), new RegExp(`"${sha512}": a digest, not a name for an image in a layout$`), 2);
    assertOneLineError(await runCliAsync(['tag', `oci:${layout}:app`, `oci:${layout}:${sha512}`]), /names no new name; the new names come after the image/, 2);
    assertOneLineError(await runCliAsync(['untag', `oci:${layout}:${sha512}`]), new RegExp(`name the image's name to take away \\(oci:DIR:NAME\\); delete oci:.*:${sha512} removes an image by digest$`), 2);
    // Names umoci and skopeo refuse (the image-layout spec's ref.name grammar), as build --tag refuses them.
    for (const name of ['é', 'a..b', 'x-']) {
      assertOneLineError(await runCliAsync(['tag', `oci:${layout}:nope`, name]), new RegExp(`"${name}": not a name for an image in a layout`), 2);
      const target = join(tmp.path, `named-${name}`);
      for (const verb of [['copy'], ['mutate', '--label', 'a=b']]) {
        assertOneLineError(await runCliAsync([verb[0]!, `oci:${layout}:nope`, `oci:${target}:${name}`, ...verb.slice(1)]), new RegExp(`"${name}" is not a name for an image in a layout`), 2);
      }
      assert.equal(existsSync(target), false);
      assert.throws(() => run('skopeo', ['copy', `oci:${layout}:nope`, `oci:${target}:${name}`]), /Invalid image/);
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), before);
  });

  it('an index.json whose annotation is no string (skopeo refuses it too): one line naming the entry, for every verb', async () => {
    const broken = join(tmp.path, 'broken');
    assertOk(await runCliAsync(['build', join(tmp.path, 'rootfs'), '--layout', broken, '--tag', 'v1']));
    const index = JSON.parse(readFileSync(join(broken, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, unknown> }[] };
    index.manifests[0]!.annotations['org.example.build'] = 5;
    writeFileSync(join(broken, 'index.json'), JSON.stringify(index));
    assert.throws(() => run('skopeo', ['inspect', `oci:${broken}:v1`]), /cannot unmarshal number/);
    for (const args of [['ls', `oci:${broken}`], ['inspect', `oci:${broken}:v1`], ['tag', `oci:${broken}:v1`, 'v2'], ['copy', `oci:${broken}:v1`, `oci:${join(tmp.path, 'elsewhere')}`]]) {
      assertOneLineError(await runCliAsync(args), /index\.json: corrupt layout \(manifests\[0\]: annotation "org\.example\.build" is a number, not a string\)/);
    }
  });
});
