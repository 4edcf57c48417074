import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { build, buildahBuild, unpackedTree } from '../dockerfile-exec/support.js';

/**
 * `build -f` ADD of local archives GNU tar writes with --sparse: the image's files as umoci
 * unpacks them, against the files the archive was made of and against buildah (Go's
 * archive/tar, as BuildKit's unpack); ADD sources that look like URLs but are context paths.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-build-file-add-');
});
after(async () => {
  await tmp?.cleanup();
});

/** A sparse file of `size` bytes whose data is a short line at each of `offsets`. */
function sparseFile(path: string, size: number, offsets: number[]): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (const at of offsets) writeSync(fd, `data at ${at}\n`, at);
  } finally {
    closeSync(fd);
  }
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('ADD of a tar with sparse files', () => {
  let context: string;
  const files: Record<string, string> = {};
  before(() => {
    requireTool('tar');
    context = join(tmp.path, 'ctx');
    const src = join(tmp.path, 'src');
    mkdirSync(src, { recursive: true });
    mkdirSync(context, { recursive: true });
    // 30 data regions (a 1.0 map longer than one block), data at the start, a file all hole.
    sparseFile(join(src, 'many'), 50 << 20, Array.from({ length: 30 }, (_, i) => (i + 1) * 1_500_000));
    sparseFile(join(src, 'two'), 10 << 20, [0, (10 << 20) - 20]);
    sparseFile(join(src, 'hole'), 1 << 20, []);
    writeFileSync(join(src, 'plain'), 'plain\n');
    for (const name of ['many', 'two', 'hole', 'plain']) files[name] = sha256(join(src, name));
    for (const version of ['0.0', '0.1', '1.0']) {
      run('tar', ['--sparse', '--format=posix', `--sparse-version=${version}`, '-cf', join(context, `pax${version}.tar`), '-C', src, 'many', 'two', 'hole', 'plain']);
    }
    run('tar', ['--sparse', '--format=gnu', '-cf', join(context, 'gnu.tar'), '-C', src, 'many', 'plain']);
  });

  it('pax sparse files (0.0, 0.1, 1.0) are unpacked whole under their real names, as buildah and BuildKit do', () => {
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nADD pax0.0.tar /v00/\nADD pax0.1.tar /v01/\nADD pax1.0.tar /v10/\n');
    const layout = join(tmp.path, 'ours');
    build(context, layout, ['--tag', 't']);
    const bundle = join(tmp.path, 'ours-bundle');
    const tree = unpackedTree(layout, 't', bundle);
    for (const dir of ['v00', 'v01', 'v10']) {
      for (const [name, digest] of Object.entries(files)) {
        assert.equal(sha256(join(bundle, 'rootfs', dir, name)), digest, `${dir}/${name}`);
      }
      // Not GNU tar's placeholder directory (GNUSparseFile.<pid>/…) with the stored bytes in it.
      assert.deepEqual(Object.keys(tree).filter((p) => p.startsWith(`/${dir}/`) && p !== `/${dir}/`).sort(), ['hole', 'many', 'plain', 'two'].map((n) => `/${dir}/${n}`));
    }
    const theirs = join(tmp.path, 'theirs');
    buildahBuild(tmp.path, context, theirs, 'pax');
    assert.deepEqual(tree, unpackedTree(theirs, 'pax', join(tmp.path, 'theirs-bundle')));
  });

  it('an old GNU sparse entry (type S) fails the build in one line naming it, as buildah and BuildKit refuse it; nothing is written', () => {
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nADD gnu.tar /g/\n');
    const layout = join(tmp.path, 'gnu');
    const r = runCli(['build', '-f', join(context, 'Dockerfile'), context, '--layout', layout, '--tag', 't']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ocipush: archive gnu\.tar: "many": unhandled tar header type 83 \('S', an old GNU sparse file\), which docker build refuses too: make the archive with tar --format=posix \(it stays sparse\) or without -S\n$/);
    assert.equal(existsSync(join(layout, 'index.json')) && readFileSync(join(layout, 'index.json'), 'utf8').includes('"t"'), false);
    assert.throws(() => buildahBuild(tmp.path, context, join(tmp.path, 'theirs-gnu'), 'gnu'));
  });
});

describe('ADD of a source with an upper-case scheme', () => {
  it('HTTPS://host/f is the context path HTTPS:/host/f, as buildah and BuildKit (isHTTPSource: a lower-case prefix) read it', () => {
    const context = join(tmp.path, 'scheme-ctx');
    mkdirSync(join(context, 'HTTPS:', 'example.com'), { recursive: true });
    mkdirSync(join(context, 'Http:', 'example.org'), { recursive: true });
    writeFileSync(join(context, 'HTTPS:', 'example.com', 'app.conf'), 'from the context\n');
    writeFileSync(join(context, 'Http:', 'example.org', 'notes.txt'), 'notes\n');
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nADD HTTPS://example.com/app.conf /etc/app.conf\nADD Http://example.org/notes.txt /srv/\n');
    const layout = join(tmp.path, 'scheme-ours');
    build(context, layout, ['--tag', 't']);
    const tree = unpackedTree(layout, 't', join(tmp.path, 'scheme-ours-bundle'));
    assert.equal(tree['/etc/app.conf'], 'file 0644 0:0 from the context\n');
    assert.equal(tree['/srv/notes.txt'], 'file 0644 0:0 notes\n');
    const theirs = join(tmp.path, 'scheme-theirs');
    buildahBuild(tmp.path, context, theirs, 'scheme');
    assert.deepEqual(tree, unpackedTree(theirs, 'scheme', join(tmp.path, 'scheme-theirs-bundle')));
  });
});
