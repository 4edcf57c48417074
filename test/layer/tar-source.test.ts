import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildImage, OcipushError } from '../../src/index.js';
import { zstdAvailable } from '../../src/layer/codec.js';
import { CLI, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertSameTree, layoutWithLayerBytes, readImage, umociUnpack, validateLayout } from '../assemble/support.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A small "minirootfs" tarball made by GNU tar, as a distribution ships one. */
function makeTarball(dir: string): { tar: string; tgz: string; tree: string } {
  requireTool('tar');
  const tree = join(dir, 'mini');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  mkdirSync(join(tree, 'bin'), { recursive: true });
  writeFileSync(join(tree, 'etc', 'os-release'), 'ID=mini\n');
  writeFileSync(join(tree, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  const tar = join(dir, 'mini.tar');
  run('tar', ['--numeric-owner', '-C', tree, '-cf', tar, '.']);
  const tgz = join(dir, 'mini-rootfs.tar.gz');
  writeFileSync(tgz, gzipSync(readFileSync(tar)));
  return { tar, tgz, tree };
}

test('a tar.gz is stored byte for byte; its diff_id is the hash of the tar inside', async () => {
  const tmp = await tempDir();
  try {
    const { tgz, tree } = makeTarball(tmp.path);
    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [tgz], layout });
    const bytes = readFileSync(tgz);
    assert.equal(result.layers[0]!.digest, sha(bytes));
    assert.equal(result.layers[0]!.size, bytes.length);
    assert.equal(result.layers[0]!.diffId, sha(gunzipSync(bytes)));
    assert.equal(result.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    validateLayout(layout);
    assertSameTree(tree, umociUnpack(layout, 'latest', join(tmp.path, 'bundle')));
  } finally {
    await tmp.cleanup();
  }
});

test('a tar file and a directory make a two-layer image, bottom first', async () => {
  const tmp = await tempDir();
  try {
    const { tar, tree } = makeTarball(tmp.path);
    const app = join(tmp.path, 'app');
    mkdirSync(join(app, 'etc'), { recursive: true });
    writeFileSync(join(app, 'etc', 'os-release'), 'ID=app-overrides\n');
    writeFileSync(join(app, 'app.txt'), 'the app\n');
    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [tar, app], layout });
    assert.equal(result.layers.length, 2);
    // A plain tar is compressed like a directory's layer; its diff_id is the file's hash.
    assert.equal(result.layers[0]!.diffId, sha(readFileSync(tar)));
    assert.equal(result.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const image = readImage(layout);
    assert.deepEqual(image.config.rootfs.diff_ids, result.layers.map((l) => l.diffId));
    assert.deepEqual(image.config.history.map((h: { created_by: string }) => h.created_by), ['ocipush build (tar file)', 'ocipush build (directory)']);
    validateLayout(layout);
    const rootfs = umociUnpack(layout, 'latest', join(tmp.path, 'bundle'));
    assert.equal(readFileSync(join(rootfs, 'etc', 'os-release'), 'utf8'), 'ID=app-overrides\n');
    assert.equal(readFileSync(join(rootfs, 'bin', 'tool'), 'utf8'), readFileSync(join(tree, 'bin', 'tool'), 'utf8'));
    assert.equal(readFileSync(join(rootfs, 'app.txt'), 'utf8'), 'the app\n');
  } finally {
    await tmp.cleanup();
  }
});

test('--compression none writes plain tar layers (a tar.gz is decompressed)', async () => {
  const tmp = await tempDir();
  try {
    const { tgz, tree } = makeTarball(tmp.path);
    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [tgz, tree], layout, compression: 'none' });
    for (const layer of result.layers) {
      assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar');
      assert.equal(layer.digest, layer.diffId);
      assert.equal(layer.size, layer.uncompressedSize);
    }
    assert.equal(result.layers[0]!.digest, sha(gunzipSync(readFileSync(tgz))));
    validateLayout(layout);
    assertSameTree(tree, umociUnpack(layout, 'latest', join(tmp.path, 'bundle')));
  } finally {
    await tmp.cleanup();
  }
});

test('files that are not tars, or not readable, are refused with the path and the cause', async () => {
  const tmp = await tempDir();
  try {
    const layout = join(tmp.path, 'layout');
    const notTar = join(tmp.path, 'notes.tar');
    writeFileSync(notTar, 'just some text, named like a tar\n'.repeat(40));
    const gzNotTar = join(tmp.path, 'notes.tar.gz');
    writeFileSync(gzNotTar, gzipSync(Buffer.from('text, gzipped\n'.repeat(100))));
    const truncated = join(tmp.path, 'truncated.tar.gz');
    const { tgz } = makeTarball(tmp.path);
    const whole = readFileSync(tgz);
    writeFileSync(truncated, whole.subarray(0, whole.length - 20));
    const cases: [string, RegExp][] = [
      [join(tmp.path, 'missing'), /rootfs .*missing: no such file or directory/],
      [notTar, /rootfs .*notes\.tar: neither a directory nor a tar file/],
      [gzNotTar, /rootfs .*notes\.tar\.gz: a gzip file that does not hold a tar archive/],
      [truncated, /rootfs .*truncated\.tar\.gz: corrupt compressed data/],
      ['/dev/null', /rootfs \/dev\/null: neither a directory nor a tar file/],
    ];
    for (const [path, message] of cases) {
      await assert.rejects(buildImage({ rootfs: [path], layout }), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.match(err.message, message);
        assert.equal(err.message.includes('\n'), false, 'one line');
        return true;
      });
    }
    assert.throws(() => readFileSync(join(layout, 'index.json')), /ENOENT/, 'no layout was created by failed builds');
  } finally {
    await tmp.cleanup();
  }
});

test('zstd: used where Node has it, refused with the reason where it does not', async () => {
  requireTool('zstd');
  const tmp = await tempDir();
  try {
    const { tar, tree } = makeTarball(tmp.path);
    const zst = join(tmp.path, 'mini.tar.zst');
    run('zstd', ['-q', '-o', zst, tar]);
    const layout = join(tmp.path, 'layout');
    if (zstdAvailable()) {
      const result = await buildImage({ rootfs: [zst, tree], layout, compression: 'zstd' });
      assert.equal(result.layers[0]!.digest, sha(readFileSync(zst)), 'a tar.zst is stored as it is');
      assert.equal(result.layers[0]!.diffId, sha(readFileSync(tar)));
      assert.equal(result.layers[1]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    } else {
      await assert.rejects(buildImage({ rootfs: [zst], layout }), /rootfs .*mini\.tar\.zst: a zstd-compressed tar needs Node\.js >= 22\.15/);
      await assert.rejects(buildImage({ rootfs: [tree], layout, compression: 'zstd' }), /--compression zstd needs Node\.js >= 22\.15/);
    }
  } finally {
    await tmp.cleanup();
  }
});

test('a tar cut short (a download that stopped) is refused, plain or gzipped, in one line naming it; the layout stays as it was', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'data.bin'), Buffer.alloc(200_000, 0x61));
    const whole = join(tmp.path, 'whole.tar');
    run('tar', ['--numeric-owner', '-C', tree, '-cf', whole, '.']);
    const cut = join(tmp.path, 'cut.tar');
    writeFileSync(cut, readFileSync(whole).subarray(0, 100_000));
    // Whole as gzip, cut as tar: only the tar says so.
    const cutGz = join(tmp.path, 'cut.tar.gz');
    writeFileSync(cutGz, gzipSync(readFileSync(cut)));

    // The premise: such a layer makes an image umoci cannot unpack.
    const broken = join(tmp.path, 'broken');
    run('umoci', ['init', '--layout', broken]);
    run('umoci', ['new', '--image', `${broken}:t`]);
    run('umoci', ['raw', 'add-layer', '--image', `${broken}:t`, cut]);
    assert.throws(() => run('umoci', ['unpack', '--image', `${broken}:t`, join(tmp.path, 'bundle')]), /unexpected EOF/);

    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [tree], layout, tag: 'before' });
    const before = readFileSync(join(layout, 'index.json'));
    for (const [path, compression] of [[cut, 'gzip'], [cutGz, 'gzip'], [cutGz, 'none'], [cut, 'none']] as const) {
      await assert.rejects(buildImage({ rootfs: [tree, path], layout, tag: 'after', compression }), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.equal(err.code, 'EROOTFS');
        assert.match(err.message, /^rootfs \S*cut\.tar(\.gz)?: not a whole tar archive \(unexpected end of data: the tar stops inside an entry\)$/);
        return true;
      }, `${path} --compression ${compression}`);
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), before, 'the layout as it was');
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')).length, 3);
  } finally {
    await tmp.cleanup();
  }
});

test('--owner with a tar file: one warning names it, whose entries keep their owners (as umoci unpacks them); directories get the owner', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'from-tar'), 'tar\n');
    chownSync(join(tree, 'from-tar'), 1234, 5678);
    const tar = join(tmp.path, 'owned.tar');
    run('tar', ['--numeric-owner', '-C', tree, '-cf', tar, 'from-tar']);
    const dir = join(tmp.path, 'dir');
    mkdirSync(dir);
    writeFileSync(join(dir, 'from-dir'), 'dir\n');
    chownSync(join(dir, 'from-dir'), 1234, 5678);
    const layout = join(tmp.path, 'layout');
    const warnings: string[] = [];
    await buildImage({ rootfs: [tar, dir], layout, owner: '0:0', onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings.map((w) => w.replace(tmp.path, 'TMP')), ['--owner 0:0 does not apply to rootfs TMP/owned.tar: a tar file is used as it is, its entries keep their owners']);
    const rootfs = umociUnpack(layout, 'latest', join(tmp.path, 'bundle'));
    const owner = (name: string) => { const st = lstatSync(join(rootfs, name)); return `${st.uid}:${st.gid}`; };
    assert.equal(owner('from-tar'), '1234:5678');
    assert.equal(owner('from-dir'), '0:0');
  } finally {
    await tmp.cleanup();
  }
});

test('a tar.gz padded with zeros after its gzip stream (which gzip passes over) is compressed again, as Go\'s gzip reader refuses it: umoci unpacks the layer', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const { tar, tree } = makeTarball(tmp.path);
    const padded = join(tmp.path, 'padded.tar.gz');
    writeFileSync(padded, Buffer.concat([gzipSync(readFileSync(tar)), Buffer.alloc(10_240)]));
    run('gzip', ['-t', padded]);

    // The premise: the file as a layer is one umoci cannot unpack.
    const asItIs = join(tmp.path, 'as-it-is');
    layoutWithLayerBytes(asItIs, 't', readFileSync(padded), sha(readFileSync(tar)));
    assert.throws(() => run('umoci', ['unpack', '--image', `${asItIs}:t`, join(tmp.path, 'refused')]), /gzip: invalid header/);

    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [padded], layout, sbom: 'spdx' });
    assert.notEqual(result.layers[0]!.digest, sha(readFileSync(padded)));
    assert.equal(result.layers[0]!.diffId, sha(readFileSync(tar)));
    assert.ok(result.sbom, 'the SBOM is made from the layer stored');
    run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=latest', layout]);
    assertSameTree(tree, umociUnpack(layout, 'latest', join(tmp.path, 'bundle')));
  } finally {
    await tmp.cleanup();
  }
});

test('a tar whose header checksums are sums of signed bytes (old Sun and BSD tars) is a tar, as GNU tar and umoci read it', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    const name = Buffer.from('caf\xe9', 'latin1');
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/`), name]), 'x\n');
    const unsignedTar = join(tmp.path, 'unsigned.tar');
    run('tar', ['--format=ustar', '--numeric-owner', '-cf', unsignedTar, '-C', tree, '.']);
    // The same bytes, each header's checksum summed as signed bytes: the name's 0xe9 counts -23.
    const bytes = readFileSync(unsignedTar);
    for (let at = 0; at + 512 <= bytes.length && bytes[at] !== 0; ) {
      const header = bytes.subarray(at, at + 512);
      header.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of header) sum += b >= 0x80 ? b - 256 : b;
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      const size = Number.parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/, ''), 8) || 0;
      at += 512 + Math.ceil(size / 512) * 512;
    }
    const signedTar = join(tmp.path, 'signed.tar');
    writeFileSync(signedTar, bytes);
    assert.match(run('tar', ['-tf', signedTar]), /caf/, 'GNU tar reads it');

    const layout = join(tmp.path, 'layout');
    const result = await buildImage({ rootfs: [signedTar], layout });
    assert.equal(result.layers[0]!.diffId, sha(bytes));
    const rootfs = umociUnpack(layout, 'latest', join(tmp.path, 'bundle'));
    assert.equal(readFileSync(Buffer.concat([Buffer.from(`${rootfs}/`), name]), 'utf8'), 'x\n');
  } finally {
    await tmp.cleanup();
  }
});

test('a tar whose entry or hard link climbs out of the root with .. is refused in one line naming it, plain or gzipped; the layout stays as it was; a .. that stays inside is built', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const sub = join(tmp.path, 'tree', 'sub');
    mkdirSync(join(sub, 'd'), { recursive: true });
    writeFileSync(join(tmp.path, 'tree', 'outside'), 'out\n');
    writeFileSync(join(sub, 'a'), 'a\n');
    linkSync(join(sub, 'a'), join(sub, 'b'));
    // GNU tar keeps a name's .. with -P, and its --transform turns b's link target only.
    const up = join(tmp.path, 'up.tar');
    run('tar', ['-P', '--numeric-owner', '-C', sub, '-cf', up, '../outside']);
    const link = join(tmp.path, 'link.tar');
    run('tar', ['-P', '--numeric-owner', '-C', sub, '--transform', 's,^a$,../../etc/hostname,RS', '-cf', link, 'a', 'b']);
    const inside = join(tmp.path, 'inside.tar');
    run('tar', ['-P', '--numeric-owner', '-C', sub, '-cf', inside, 'd/../a']);
    // The premise: GNU tar refuses to unpack both.
    for (const tar of [up, link]) {
      const into = join(tmp.path, `x-${basename(tar)}`, 'deep');
      mkdirSync(into, { recursive: true });
      const r = spawnSync('tar', ['-C', into, '-xf', tar], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
    }
    const upGz = join(tmp.path, 'up.tar.gz');
    writeFileSync(upGz, gzipSync(readFileSync(up)));

    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [inside], layout, tag: 'before' });
    assert.equal(readFileSync(join(umociUnpack(layout, 'before', join(tmp.path, 'bundle')), 'a'), 'utf8'), 'a\n');
    const before = readFileSync(join(layout, 'index.json'));
    const cases = [
      [up, 'gzip', /^rootfs \S*\/up\.tar: entry "\.\.\/outside" climbs out of the image's root with \.\.: unpacked, the tar would write outside its directory; not a layer$/],
      [upGz, 'gzip', /^rootfs \S*\/up\.tar\.gz: entry "\.\.\/outside" climbs out/],
      [upGz, 'none', /^rootfs \S*\/up\.tar\.gz: entry "\.\.\/outside" climbs out/],
      [link, 'none', /^rootfs \S*\/link\.tar: hard link "b" to "\.\.\/\.\.\/etc\/hostname" climbs out of the image's root with \.\.: /],
    ] as const;
    for (const [path, compression, message] of cases) {
      await assert.rejects(buildImage({ rootfs: [path], layout, tag: 'after', compression }), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.equal(err.code, 'EROOTFS');
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      }, `${path} --compression ${compression}`);
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), before, 'the layout as it was');
    assert.equal(readdirSync(join(layout, 'blobs', 'sha256')).length, 3);
  } finally {
    await tmp.cleanup();
  }
});

/** GNU tar's archive of `dir`'s `name`, with a pax global header (`g`) in front carrying `comment`, as `git archive` writes one. */
function withGlobalHeader(dir: string, name: string, comment: string, tar: string): void {
  run('tar', ['--format=posix', `--pax-option=comment=${comment}`, '--numeric-owner', '-C', dir, '-cf', tar, name]);
}

test('a tar holding pax global headers (git archive writes one) is written again without them, plain or gzipped, as umoci refuses them: umoci unpacks the layer', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(join(tree, 'a'), { recursive: true });
    mkdirSync(join(tree, 'b'));
    writeFileSync(join(tree, 'a', 'one'), '1\n');
    writeFileSync(join(tree, 'b', 'big'), Buffer.alloc(3_000_000, 0x62));
    // Two archives joined by GNU tar: a global header in front and one in the middle.
    const tar = join(tmp.path, 'joined.tar');
    withGlobalHeader(tree, 'a', 'first', tar);
    withGlobalHeader(tree, 'b', 'second', join(tmp.path, 'b.tar'));
    run('tar', ['-A', '-f', tar, join(tmp.path, 'b.tar')]);
    const bytes = readFileSync(tar);
    const globals = [0, 4608];
    for (const at of globals) assert.equal(bytes[at + 156], 0x67, `a global header at ${at}`);
    const tgz = join(tmp.path, 'joined.tar.gz');
    writeFileSync(tgz, gzipSync(bytes));

    // The premise: stored as it is, the tar is a layer umoci refuses.
    const asItIs = join(tmp.path, 'as-it-is');
    layoutWithLayerBytes(asItIs, 't', readFileSync(tgz), sha(bytes));
    assert.throws(() => run('umoci', ['unpack', '--image', `${asItIs}:t`, join(tmp.path, 'refused')]), /unknown typeflag '\\x67'/);

    const without = Buffer.concat([bytes.subarray(1024, 4608), bytes.subarray(5632)]);
    const layout = join(tmp.path, 'layout');
    for (const [path, compression] of [[tar, 'gzip'], [tgz, 'gzip'], [tar, 'none'], [tgz, 'none']] as const) {
      const tag = `${compression}-${path.endsWith('.gz') ? 'tgz' : 'tar'}`;
      const result = await buildImage({ rootfs: [path], layout, tag, compression, sbom: 'spdx' });
      assert.equal(result.layers[0]!.diffId, sha(without), tag);
      assert.ok(result.sbom, 'the SBOM is made from the layer stored');
      assertSameTree(tree, umociUnpack(layout, tag, join(tmp.path, `bundle-${tag}`)));
    }
  } finally {
    await tmp.cleanup();
  }
});

test('an image archive given as a rootfs (docker save\'s, an oci-archive) is a layer of its files with one warning naming the way to build onto it, which works; a web app\'s manifest.json is no archive', async () => {
  requireTool('skopeo');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'hello'), 'hi\n');
    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [tree], layout, tag: 'app' });
    const docker = join(tmp.path, 'app-docker.tar');
    run('skopeo', ['copy', '-q', `oci:${layout}:app`, `docker-archive:${docker}:app:1`]);
    const oci = join(tmp.path, 'app-oci.tar');
    run('skopeo', ['copy', '-q', `oci:${layout}:app`, `oci-archive:${oci}:app`]);
    const web = join(tmp.path, 'web');
    mkdirSync(join(web, 'blobs'), { recursive: true });
    writeFileSync(join(web, 'manifest.json'), '{"name":"my app","start_url":"/"}\n');
    writeFileSync(join(web, 'index.json'), '{}\n');
    writeFileSync(join(web, 'blobs', 'logo.png'), 'png');
    const webTar = join(tmp.path, 'web.tar');
    run('tar', ['--numeric-owner', '-C', web, '-cf', webTar, '.']);

    const out = join(tmp.path, 'out');
    for (const [tar, kind, what] of [[docker, 'docker-archive', "docker save's: manifest.json and its blobs"], [oci, 'oci-archive', 'an oci-archive: oci-layout and index.json']] as const) {
      const r = runCli(['build', tar, '--layout', out, '-t', kind]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => l.includes('warning')).join('\n'), `ocipush: warning: rootfs ${tar} is an image archive (${what}), stored as one layer of its files; to build onto the image it holds: ocipush copy ${kind}:${tar} oci:base:app, then --base oci:base:app`);
      // What it says works (in a directory of its own: the base's layout is oci:base).
      const cwd = join(tmp.path, kind);
      mkdirSync(cwd);
      const copied = runCli(['copy', `${kind}:${tar}`, 'oci:base:app'], { cwd });
      assert.equal(copied.status, 0, copied.stderr);
      const onto = await buildImage({ rootfs: [tree], layout: out, tag: `onto-${kind}`, base: `oci:${join(cwd, 'base')}:app` });
      assert.equal(onto.base?.layers, 1, 'onto the image the archive holds');
    }
    const warnings: string[] = [];
    await buildImage({ rootfs: [webTar], layout: out, tag: 'web', onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
  } finally {
    await tmp.cleanup();
  }
});

test('a tar piped in (bash\'s <(…), /dev/stdin, a fifo, -) is refused in one line saying it is a pipe, not "no such file", without waiting for a writer; nothing written', async () => {
  requireTool('bash');
  const tmp = await tempDir();
  try {
    const { tar } = makeTarball(tmp.path);
    const fifo = join(tmp.path, 'fifo');
    run('mkfifo', [fifo]);
    const layout = join(tmp.path, 'layout');
    const pipe = ': a pipe, not a file: a tar rootfs is read from a file (write the stream to one first, … > layer.tar, and build layer.tar)\n';
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`;
    const cases = [
      [`${cli} build <(cat ${tar}) --layout ${layout}`, /^ocipush: rootfs \/dev\/fd\/\d+$/],
      [`cat ${tar} | ${cli} build /dev/stdin --layout ${layout}`, /^ocipush: rootfs \/dev\/stdin$/],
      // No writer: opening it would wait for good.
      [`${cli} build ${fifo} --layout ${layout}`, /^ocipush: rootfs \S+\/fifo$/],
    ] as const;
    for (const [line, rootfs] of cases) {
      const r = spawnSync('bash', ['-c', line], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, `${line}: ${r.stderr}`);
      assert.ok(r.stderr.endsWith(pipe), r.stderr);
      assert.match(r.stderr.slice(0, -pipe.length), rootfs);
    }
    const dash = spawnSync('bash', ['-c', `cat ${tar} | ${cli} build - --layout ${layout}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(dash.status, 1, dash.stderr);
    assert.equal(dash.stderr, 'ocipush: rootfs -: no such file or directory; standard input is not read as a rootfs: write the tar to a file first (… > layer.tar) and build layer.tar\n');
    assert.equal(existsSync(layout), false, 'nothing written');
  } finally {
    await tmp.cleanup();
  }
});
