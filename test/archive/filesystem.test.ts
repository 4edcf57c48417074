import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, lstatSync, mkdirSync, readlinkSync, statSync, openSync, closeSync, writeSync, ftruncateSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';

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

test('rootfs keeps sparse files of every GNU tar format whole: old GNU (S, with extension blocks), pax 0.0, 0.1 and 1.0', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const layers: string[] = [];
    const formats: [string, string[]][] = [
      ['gnu', ['--format=gnu']],
      ['pax00', ['--format=posix', '--sparse-version=0.0']],
      ['pax01', ['--format=posix', '--sparse-version=0.1']],
      ['pax10', ['--format=posix', '--sparse-version=1.0']],
    ];
    for (const [name, flags] of formats) {
      const tree = join(tmp.path, name);
      mkdirSync(tree);
      // 30 data regions: more than the 4 an old GNU header holds, so two extension blocks follow it.
      sparseFile(join(tree, `${name}-many`), 50 << 20, Array.from({ length: 30 }, (_, i) => (i + 1) * 1_500_000));
      sparseFile(join(tree, `${name}-two`), 10 << 20, [5_000_000, (10 << 20) - 20]);
      // A lower layer's file that the top layer replaces: hidden by its real name, not GNU tar's placeholder.
      sparseFile(join(tree, 'replaced'), 1 << 20, [1000]);
      const file = join(tmp.path, `${name}.tar`);
      run('tar', ['--sparse', ...flags, '-cf', file, '-C', tree, '.']);
      layers.push(file);
    }
    const top = join(tmp.path, 'top');
    mkdirSync(top);
    writeFileSync(join(top, 'replaced'), 'the top layer\'s\n');
    const layout = join(tmp.path, 'layout');
    const built = runCli(['build', ...layers, top, '--layout', layout, '--tag', 't', '-q']);
    assert.equal(built.status, 0, built.stderr);

    const fsTar = join(tmp.path, 'fs.tar');
    const r = runCli(['rootfs', `oci:${layout}:t`, '-o', fsTar, '-q']);
    assert.equal(r.status, 0, r.stderr);
    const unpacked = join(tmp.path, 'unpacked');
    mkdirSync(unpacked);
    run('tar', ['-xf', fsTar, '-C', unpacked]);
    for (const [name] of formats) {
      for (const file of [`${name}-many`, `${name}-two`]) {
        assert.ok(readFileSync(join(unpacked, file)).equals(readFileSync(join(tmp.path, name, file))), `tar -x: ${file} as it was`);
      }
    }
    assert.equal(readFileSync(join(unpacked, 'replaced'), 'utf8'), 'the top layer\'s\n');

    // As a layer of its own (what flatten makes): umoci unpacks it, the old GNU file included.
    const flat = join(tmp.path, 'flat');
    assert.equal(runCli(['build', fsTar, '--layout', flat, '--tag', 't', '-q']).status, 0);
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${flat}:t`, bundle]);
    for (const [name] of formats) {
      assert.ok(readFileSync(join(bundle, 'rootfs', `${name}-many`)).equals(readFileSync(join(tmp.path, name, `${name}-many`))), `umoci: ${name}-many`);
    }
    assert.equal(readFileSync(join(bundle, 'rootfs', 'replaced'), 'utf8'), 'the top layer\'s\n');
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs refuses a whiteout that names no entry (.wh., .wh.., .wh...), as containerd does, and writes nothing', async () => {
  requireTool('tar');
  const tmp = await tempDir();
  try {
    const lower = join(tmp.path, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    for (const name of ['.wh.', '.wh..', '.wh...']) {
      const upper = join(tmp.path, `upper${name}`);
      mkdirSync(join(upper, 'etc'), { recursive: true });
      writeFileSync(join(upper, 'etc', name), '');
      const layer = join(tmp.path, `upper${name}.tar`);
      run('tar', ['-cf', layer, '-C', upper, `etc/${name}`]);
      const layout = join(tmp.path, `layout${name}`);
      // build refuses such a tar as a layer: umoci adds it as it is, as a layer made elsewhere arrives.
      assert.equal(runCli(['build', lower, '--layout', layout, '--tag', 't', '-q']).status, 0);
      run('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, layer]);
      const out = join(tmp.path, `fs${name}.tar`);
      const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: oci:${layout.replace(/[.]/g, '\\.')}:t linux/amd64 layer sha256:[0-9a-f]{64}: not a readable layer \\(invalid whiteout "etc/${name.replace(/\./g, '\\.')}": it names no entry of its directory\\)\\n$`));
      assert.ok(!readdirSync(tmp.path).some((n) => n.startsWith(`fs${name}.tar`)), 'no tar, not even a temp file');
    }
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs keeps a time before 1970 that a GNU-format layer holds in base-256, as umoci unpacks it', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'old'), 'from 1960\n');
    utimesSync(join(tree, 'old'), new Date(-315619200_000), new Date(-315619200_000));
    const layer = join(tmp.path, 'gnu.tar');
    run('tar', ['--format=gnu', '-cf', layer, '-C', tree, 'old']);
    const layout = join(tmp.path, 'layout');
    assert.equal(runCli(['build', layer, '--layout', layout, '--tag', 't', '-q']).status, 0);
    run('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.path, 'bundle')]);
    assert.equal(lstatSync(join(tmp.path, 'bundle', 'rootfs', 'old')).mtimeMs, -315619200_000, 'umoci reads the base-256 time');

    const out = join(tmp.path, 'fs.tar');
    const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const unpacked = join(tmp.path, 'unpacked');
    mkdirSync(unpacked);
    run('tar', ['-xf', out, '-C', unpacked]);
    assert.equal(lstatSync(join(unpacked, 'old')).mtimeMs, -315619200_000);
  } finally {
    await tmp.cleanup();
  }
});

test('flatten of an index names the image and the platform whose layer cannot be read, and writes nothing', async () => {
  requireTool('tar');
  const tmp = await tempDir();
  try {
    const lower = join(tmp.path, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const good = join(tmp.path, 'good');
    mkdirSync(join(good, 'etc'), { recursive: true });
    writeFileSync(join(good, 'etc', 'motd'), 'hi\n');
    // A whiteout that names no entry: containerd refuses the layer, and so does ocipush.
    const bad = join(tmp.path, 'bad');
    mkdirSync(join(bad, 'etc'), { recursive: true });
    writeFileSync(join(bad, 'etc', '.wh.'), '');
    const badTar = join(tmp.path, 'bad.tar');
    run('tar', ['-cf', badTar, '-C', bad, 'etc/.wh.']);
    const layout = join(tmp.path, 'layout');
    assert.equal(runCli(['build', lower, good, '--platform', 'linux/amd64', '--layout', layout, '--tag', 'amd64', '-q']).status, 0);
    assert.equal(runCli(['build', lower, '--platform', 'linux/arm64', '--layout', layout, '--tag', 'arm64', '-q']).status, 0);
    run('umoci', ['raw', 'add-layer', '--image', `${layout}:arm64`, badTar]);
    assert.equal(runCli(['index', 'create', '--layout', layout, '--tag', 'app', 'amd64', 'arm64', '-q']).status, 0);
    const before = readFileSync(join(layout, 'index.json'), 'utf8');
    const r = runCli(['flatten', `oci:${layout}:app`, `oci:${layout}:flat`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^ocipush: oci:${layout.replace(/[.]/g, '\\.')}:app linux/arm64 layer sha256:[0-9a-f]{64}: not a readable layer \\(invalid whiteout "etc/\\.wh\\.": it names no entry of its directory\\)$`));
    assert.equal(readFileSync(join(layout, 'index.json'), 'utf8'), before, 'no name written');
  } finally {
    await tmp.cleanup();
  }
});

/** Every path under `root`, relative, sorted: what a tree holds, to compare one unpacker's with another's. */
function treePaths(root: string, under = ''): string[] {
  const paths: string[] = [];
  for (const name of readdirSync(join(root, under)).sort()) {
    const path = under === '' ? name : `${under}/${name}`;
    paths.push(path);
    if (lstatSync(join(root, path)).isDirectory()) paths.push(...treePaths(root, path));
  }
  return paths.sort();
}

/** DIR/NAME.tar: the file `first` ("shared") and `second`, a hard link to it, as GNU tar archives them. */
function linkedPairTar(dir: string, name: string, first: string, second: string): string {
  const tree = join(dir, name);
  mkdirSync(tree);
  writeFileSync(join(tree, first), 'shared\n');
  linkSync(join(tree, first), join(tree, second));
  const file = join(dir, `${name}.tar`);
  run('tar', ['--numeric-owner', '-cf', file, '-C', tree, first, second]);
  return file;
}

/**
 * Builds an image of `layers` (tar files, bottom first) in `dir` and unpacks it both ways: umoci
 * unpack's rootfs, and the tar `ocipush rootfs` writes extracted by GNU tar (which left nothing out).
 */
function unpackBothWays(dir: string, layers: string[]): { umoci: string; ocipush: string } {
  const layout = join(dir, 'layout');
  assert.equal(runCli(['build', ...layers, '--layout', layout, '--tag', 't', '-q']).status, 0);
  const bundle = join(dir, 'bundle');
  run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
  const out = join(dir, 'fs.tar');
  const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /left out/);
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  run('tar', ['-xf', out, '-C', tree]);
  return { umoci: join(bundle, 'rootfs'), ocipush: tree };
}

test('rootfs leaves out what a lower directory held when a middle layer made it a file or a link and a higher one a directory again, as umoci unpacks it', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tars: string[] = [];
    const layer = (name: string, make: (tree: string) => void) => {
      const tree = join(tmp.path, name);
      mkdirSync(tree);
      make(tree);
      const file = join(tmp.path, `${name}.tar`);
      run('tar', ['--numeric-owner', '-cf', file, '-C', tree, '.']);
      tars.push(file);
    };
    layer('lower', (t) => {
      mkdirSync(join(t, 'd'));
      writeFileSync(join(t, 'd', 'gone'), 'replaced with its directory\n');
      mkdirSync(join(t, 'e'));
      writeFileSync(join(t, 'e', 'gone'), 'replaced with its directory\n');
    });
    layer('middle', (t) => {
      writeFileSync(join(t, 'd'), 'a file where the directory was\n');
      symlinkSync('elsewhere', join(t, 'e'));
    });
    layer('upper', (t) => {
      mkdirSync(join(t, 'd'));
      writeFileSync(join(t, 'd', 'new'), 'new\n');
      mkdirSync(join(t, 'e'));
      writeFileSync(join(t, 'e', 'new'), 'new\n');
    });
    const layout = join(tmp.path, 'layout');
    assert.equal(runCli(['build', ...tars, '--layout', layout, '--tag', 't', '-q']).status, 0);
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    assert.deepEqual(treePaths(join(bundle, 'rootfs')), ['d', 'd/new', 'e', 'e/new']);

    const out = join(tmp.path, 'fs.tar');
    const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(run('tar', ['-tf', out]).split('\n').filter(Boolean).sort(), ['./', './d/', './d/new', './e/', './e/new']);
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs reads a layer up to its end-of-archive blocks, as umoci unpacks it: what follows (another tar, a partial block) is not read', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const tar = (name: string, file: string): Buffer => {
      const tree = join(tmp.path, name);
      mkdirSync(tree);
      writeFileSync(join(tree, file), `${file}\n`);
      run('tar', ['--numeric-owner', '-cf', join(tmp.path, `${name}.tar`), '-C', tree, file]);
      return readFileSync(join(tmp.path, `${name}.tar`));
    };
    const first = tar('first', 'kept');
    const second = tar('second', 'after-the-end');
    const layers = {
      concatenated: Buffer.concat([first, second]),
      'trailing-bytes': Buffer.concat([first, Buffer.from('not a tar block\n'.repeat(20))]),
    };
    for (const [name, bytes] of Object.entries(layers)) {
      const layer = join(tmp.path, `${name}.tar`);
      writeFileSync(layer, bytes);
      const layout = join(tmp.path, `layout-${name}`);
      assert.equal(runCli(['build', layer, '--layout', layout, '--tag', 't', '-q']).status, 0);
      const bundle = join(tmp.path, `bundle-${name}`);
      run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
      assert.deepEqual(readdirSync(join(bundle, 'rootfs')), ['kept'], `umoci unpacks the first archive of ${name}`);

      const out = join(tmp.path, `${name}-fs.tar`);
      const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.deepEqual(run('tar', ['-tf', out]).trim().split('\n'), ['kept'], name);
    }
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs resolves .. in a layer\'s names inside the image, as umoci unpacks them: x/../a/f replaces a/f, a/../b/.wh.g deletes b/g, ../../outside lands at the root', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const lower = join(tmp.path, 'lower');
    mkdirSync(join(lower, 'a'), { recursive: true });
    mkdirSync(join(lower, 'b'));
    writeFileSync(join(lower, 'a', 'f'), 'lower\n');
    writeFileSync(join(lower, 'b', 'g'), 'deleted above\n');
    run('tar', ['--numeric-owner', '-cf', join(tmp.path, 'lower.tar'), '-C', lower, 'a', 'b']);
    const upper = join(tmp.path, 'upper');
    mkdirSync(upper);
    writeFileSync(join(upper, 'f'), 'upper\n');
    writeFileSync(join(upper, 'wh'), '');
    writeFileSync(join(upper, 'e'), 'escaped\n');
    // GNU tar writes such names only when told to (-P keeps the leading ../).
    run('tar', ['-P', '--numeric-owner', '-cf', join(tmp.path, 'upper.tar'), '-C', upper, '--transform', 's,^f$,x/../a/f,;s,^wh$,a/../b/.wh.g,;s,^e$,../../outside,', 'f', 'wh', 'e']);
    const layout = join(tmp.path, 'layout');
    // build refuses ../../outside in a tar it is given: umoci adds the layer as it is, as one made elsewhere arrives.
    assert.equal(runCli(['build', join(tmp.path, 'lower.tar'), '--layout', layout, '--tag', 't', '-q']).status, 0);
    run('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, join(tmp.path, 'upper.tar')]);
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    assert.deepEqual(treePaths(join(bundle, 'rootfs')), ['a', 'a/f', 'b', 'outside']);
    assert.equal(readFileSync(join(bundle, 'rootfs', 'a', 'f'), 'utf8'), 'upper\n');

    const out = join(tmp.path, 'fs.tar');
    const r = runCli(['rootfs', `oci:${layout}:t`, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const names = run('tar', ['-tf', out]).split('\n').filter(Boolean);
    assert.deepEqual(names.filter((name) => name.split('/').includes('..')), [], 'no name leaves the directory the tar is unpacked in');
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    run('tar', ['-xf', out, '-C', tree]);
    assert.deepEqual(treePaths(tree), ['a', 'a/f', 'b', 'outside']);
    assert.equal(readFileSync(join(tree, 'a', 'f'), 'utf8'), 'upper\n');
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs keeps a hard link to a hard link whose name a layer above deleted: it links to the same file, as umoci unpacks it', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    // A layer whose c links to b, itself a link to a (GNU tar links every name to the first): two
    // archives, a + b→a and b + c→b, the second without its b, made one.
    const lower = linkedPairTar(tmp.path, 'ab', 'a', 'b');
    const bc = linkedPairTar(tmp.path, 'bc', 'b', 'c');
    run('tar', ['--delete', '-f', bc, 'b']);
    run('tar', ['-A', '-f', lower, bc]);
    assert.deepEqual(run('tar', ['-tvf', lower]).split('\n').filter(Boolean).map((line) => line.split(/\s+/).slice(5).join(' ')), ['a', 'b link to a', 'c link to b']);
    const upper = join(tmp.path, 'upper');
    mkdirSync(upper);
    writeFileSync(join(upper, '.wh.b'), '');
    run('tar', ['--numeric-owner', '-cf', join(tmp.path, 'upper.tar'), '-C', upper, '.wh.b']);
    const { umoci, ocipush } = unpackBothWays(tmp.path, [lower, join(tmp.path, 'upper.tar')]);
    for (const root of [umoci, ocipush]) {
      assert.deepEqual(treePaths(root), ['a', 'c'], root);
      assert.equal(statSync(join(root, 'c')).ino, statSync(join(root, 'a')).ino, root);
    }
    assert.equal(readFileSync(join(ocipush, 'c'), 'utf8'), 'shared\n');
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs keeps a hard link to a symlink (GNU tar links one as it links a file) whose name a layer above deleted, as umoci unpacks it', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const lower = join(tmp.path, 'lower');
    mkdirSync(lower);
    symlinkSync('target', join(lower, 's'));
    linkSync(join(lower, 's'), join(lower, 'h'));
    writeFileSync(join(lower, 'kept'), 'kept\n');
    run('tar', ['--numeric-owner', '-cf', join(tmp.path, 'lower.tar'), '-C', lower, 's', 'h', 'kept']);
    assert.deepEqual(run('tar', ['-tvf', join(tmp.path, 'lower.tar')]).split('\n').filter(Boolean).map((line) => line[0]), ['l', 'h', '-']);
    const upper = join(tmp.path, 'upper');
    mkdirSync(upper);
    writeFileSync(join(upper, '.wh.s'), '');
    run('tar', ['--numeric-owner', '-cf', join(tmp.path, 'upper.tar'), '-C', upper, '.wh.s']);
    const { umoci, ocipush } = unpackBothWays(tmp.path, [join(tmp.path, 'lower.tar'), join(tmp.path, 'upper.tar')]);
    const kinds = (root: string) => treePaths(root).map((path) => {
      const stat = lstatSync(join(root, path));
      return `${path} ${stat.isSymbolicLink() ? `-> ${readlinkSync(join(root, path))}` : stat.isFile() ? 'file' : 'other'}`;
    });
    for (const root of [umoci, ocipush]) assert.deepEqual(kinds(root), ['h -> target', 'kept file'], root);
  } finally {
    await tmp.cleanup();
  }
});

test('rootfs keeps a hard link to a hard link of a lower layer (c→b in one layer, b→a in the one below), as umoci unpacks it', async () => {
  requireTool('tar');
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    // A layer of only the link `second` → `first`, whose target a lower layer holds: GNU tar writes both, then the target is deleted.
    const linkLayer = (name: string, first: string, second: string): string => {
      const file = linkedPairTar(tmp.path, name, first, second);
      run('tar', ['--delete', '-f', file, first]);
      return file;
    };
    const bottom = join(tmp.path, 'bottom');
    mkdirSync(bottom);
    writeFileSync(join(bottom, 'a'), 'shared\n');
    run('tar', ['--numeric-owner', '-cf', join(tmp.path, 'bottom.tar'), '-C', bottom, 'a']);
    const layers = [join(tmp.path, 'bottom.tar'), linkLayer('ab', 'a', 'b'), linkLayer('bc', 'b', 'c')];
    assert.deepEqual(run('tar', ['-tvf', layers[2]!]).split('\n').filter(Boolean).map((line) => line.split(/\s+/).slice(5).join(' ')), ['c link to b']);
    const { umoci, ocipush } = unpackBothWays(tmp.path, layers);
    const inodes = (root: string) => treePaths(root).map((path) => statSync(join(root, path)).ino);
    for (const root of [umoci, ocipush]) {
      assert.deepEqual(treePaths(root), ['a', 'b', 'c'], root);
      assert.equal(new Set(inodes(root)).size, 1, `${root}: one file under three names`);
    }
  } finally {
    await tmp.cleanup();
  }
});
