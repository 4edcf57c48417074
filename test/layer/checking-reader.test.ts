import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildImage, OcipushError } from '../../src/index.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { layoutWithLayerBytes } from '../assemble/support.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('a tar holding entries of a type no unpacker takes (GNU tar --label, --listed-incremental) is refused in one line naming the entry, its type and the option; the layout stays as it was', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc', 'motd'), 'hi\n');
    const label = join(tmp.path, 'label.tar');
    run('tar', ['--label=BACKUP1', '--numeric-owner', '-C', tree, '-cf', label, 'etc']);
    const incremental = join(tmp.path, 'incremental.tar');
    run('tar', [`--listed-incremental=${join(tmp.path, 'snapshot')}`, '--numeric-owner', '-C', tree, '-cf', incremental, 'etc']);
    // The premise: umoci refuses both as layers.
    for (const [tar, why] of [[label, /unknown typeflag '\\x56'/], [incremental, /unknown typeflag '\\x44'/]] as const) {
      const layout = join(tmp.path, `as-it-is-${readdirSync(tmp.path).length}`);
      layoutWithLayerBytes(layout, 't', gzipSync(readFileSync(tar)), sha(readFileSync(tar)));
      assert.throws(() => run('umoci', ['unpack', '--image', `${layout}:t`, join(layout, 'bundle')]), why);
    }

    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [tree], layout, tag: 'before' });
    const before = readFileSync(join(layout, 'index.json'));
    const cases = [
      [label, `entry "BACKUP1" is of tar type 'V' (a volume label, GNU tar --label), which umoci, containerd and Docker do not unpack: not a layer; write the tar again without that option`],
      [incremental, `entry "etc/" is of tar type 'D' (a directory listing, GNU tar --listed-incremental), which umoci, containerd and Docker do not unpack: not a layer; write the tar again without that option`],
    ] as const;
    for (const [tar, message] of cases) {
      for (const compression of ['gzip', 'none'] as const) {
        await assert.rejects(buildImage({ rootfs: [tar], layout, tag: 'after', compression }), (err: unknown) => {
          assert.ok(err instanceof OcipushError, String(err));
          assert.equal(err.code, 'EROOTFS');
          assert.equal(err.message, `rootfs ${tar}: ${message}`);
          return true;
        });
      }
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), before, 'the layout as it was');
  } finally {
    await tmp.cleanup();
  }
});

test('a tar or directory holding a whiteout that names no entry (.wh., .wh.., .wh...) is refused in one line naming it, as containerd refuses it and umoci empties the directory for it', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const lower = join(tmp.path, 'lower');
    mkdirSync(join(lower, 'd'), { recursive: true });
    writeFileSync(join(lower, 'd', 'kept'), 'kept\n');
    const layout = join(tmp.path, 'layout');
    await buildImage({ rootfs: [lower], layout, tag: 'before' });
    const before = readFileSync(join(layout, 'index.json'));
    for (const name of ['.wh.', '.wh..', '.wh...']) {
      const upper = join(tmp.path, `upper${name.length}`);
      mkdirSync(join(upper, 'd'), { recursive: true });
      writeFileSync(join(upper, 'd', name), '');
      const tar = join(tmp.path, `upper${name.length}.tar`);
      run('tar', ['--numeric-owner', '-C', upper, '-cf', tar, 'd']);
      if (name === '.wh..') {
        // The premise: umoci takes it to empty d/ of the layer below.
        const raw = join(tmp.path, 'raw');
        run('umoci', ['init', '--layout', raw]);
        run('umoci', ['new', '--image', `${raw}:t`]);
        const lowerTar = join(tmp.path, 'lower.tar');
        run('tar', ['--numeric-owner', '-C', lower, '-cf', lowerTar, 'd']);
        run('umoci', ['raw', 'add-layer', '--image', `${raw}:t`, lowerTar]);
        run('umoci', ['raw', 'add-layer', '--image', `${raw}:t`, tar]);
        run('umoci', ['unpack', '--image', `${raw}:t`, join(raw, 'bundle')]);
        assert.deepEqual(readdirSync(join(raw, 'bundle', 'rootfs', 'd')), []);
      }
      await assert.rejects(buildImage({ rootfs: [lower, tar], layout, tag: 'after' }), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.equal(err.code, 'EROOTFS');
        assert.equal(err.message, `rootfs ${tar}: entry "d/${name}" is a whiteout that names no entry (.wh. is followed by ${JSON.stringify(name.slice(4))}), which containerd refuses to unpack and umoci takes to empty its directory: not a layer`);
        return true;
      });
      // The same tree as a directory layer.
      await assert.rejects(buildImage({ rootfs: [lower, upper], layout, tag: 'after' }), (err: unknown) => {
        assert.ok(err instanceof OcipushError, String(err));
        assert.equal(err.code, 'EROOTFS');
        assert.equal(err.message, `${upper}/d/${name} is a whiteout that names no entry (.wh. is followed by ${JSON.stringify(name.slice(4))}), which containerd refuses to unpack and umoci takes to empty its directory: rename or remove it`);
        return true;
      });
    }
    assert.deepEqual(readFileSync(join(layout, 'index.json')), before, 'the layout as it was');
  } finally {
    await tmp.cleanup();
  }
});

test('a tar holding a contiguous file (type \'7\', which Python\'s tarfile writes on request) is refused in one line, as umoci refuses it', async () => {
  requireTool('python3');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tar = join(tmp.path, 'contiguous.tar');
    run('python3', ['-c', `import io, tarfile
with tarfile.open(${JSON.stringify(tar)}, 'w', format=tarfile.USTAR_FORMAT) as t:
    i = tarfile.TarInfo('data'); i.type = tarfile.CONTTYPE; i.size = 3; t.addfile(i, io.BytesIO(b'abc'))`]);
    const raw = join(tmp.path, 'raw');
    layoutWithLayerBytes(raw, 't', gzipSync(readFileSync(tar)), sha(readFileSync(tar)));
    assert.throws(() => run('umoci', ['unpack', '--image', `${raw}:t`, join(raw, 'bundle')]), /unknown typeflag '\\x37'/);
    await assert.rejects(buildImage({ rootfs: [tar], layout: join(tmp.path, 'layout') }), (err: unknown) => {
      assert.ok(err instanceof OcipushError, String(err));
      assert.equal(err.message, `rootfs ${tar}: entry "data" is of tar type '7' (a contiguous file, which no Linux file system has), which umoci, containerd and Docker do not unpack: not a layer`);
      return true;
    });
    assert.equal(existsSync(join(tmp.path, 'layout')), false);
  } finally {
    await tmp.cleanup();
  }
});
