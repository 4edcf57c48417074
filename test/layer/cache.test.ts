import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, closeSync, existsSync, openSync, readSync, writeSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, linkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildImage, type BuildOptions, type BuildResult } from '../../src/index.js';
import { OciLayout } from '../../src/content/layout.js';
import { LayerCache } from '../../src/layer/cache-store.js';
import { DEFAULT_GZIP_LEVEL } from '../../src/layer/compress/index.js';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, run, runCli, tempDir } from '../support/tools.js';
import { assertSameTree, keepingMtime, pseudoRandom, umociUnpack, validateLayout } from '../assemble/support.js';

/**
 * The layer cache may only skip reading a tree whose metadata proves it unchanged. A tree changed
 * within 2 s of the build is "racy" and not recorded. No test waits for trees to age, nor relies
 * on a build finishing within those 2 s: each build is given the cache's wall clock
 * (`cacheClock`), a minute ahead by default (every fixture has aged), or stopped at the moment of a
 * change to see that change as racy, however long the builds take.
 */

function makeTree(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr', 'lib'), { recursive: true });
  writeFileSync(join(root, 'etc', 'config'), 'value=1\n');
  writeFileSync(join(root, 'etc', 'other'), 'other\n');
  writeFileSync(join(root, 'usr', 'lib', 'big.bin'), pseudoRandom(3 * 1024 * 1024 + 17));
  linkSync(join(root, 'etc', 'other'), join(root, 'usr', 'lib', 'other-link'));
  symlinkSync('usr/lib', join(root, 'lib'));
}

/** A minute ahead: every tree made by the test has aged. */
const AGED = () => Date.now() + 60_000;
/** Stopped now, just after a change: the change stays within the racy window for every build given it. */
function justChanged(): () => number {
  const at = Date.now();
  return () => at;
}

function cacheEntries(layout: string): string[] {
  const dir = join(layout, '.ocipush-cache', 'layers');
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function build(rootfs: string, layout: string, extra: Partial<BuildOptions> = {}): Promise<{ result: BuildResult; progress: number }> {
  let progress = 0;
  const result = await buildImage({ rootfs: [rootfs], layout, sourceDateEpoch: '', tag: 't', cacheClock: AGED, onProgress: () => { progress++; }, ...extra });
  return { result, progress };
}

/** The layer the tree gives now, built from nothing: what any cached build must equal. */
async function fresh(rootfs: string, dir: string, extra: Partial<BuildOptions> = {}): Promise<string> {
  const layout = join(dir, `fresh-${Math.random().toString(16).slice(2)}`);
  const { result } = await build(rootfs, layout, { ...extra, cache: false });
  rmSync(layout, { recursive: true, force: true });
  return result.layers[0]!.digest;
}

test('layer cache: reuses an unchanged tree, and rebuilds on every change it must see', async () => {
  const tmp = await tempDir();
  try {
    const stable = join(tmp.path, 'stable');
    const changing = join(tmp.path, 'changing');
    makeTree(stable);
    makeTree(changing);
    const tarFile = join(tmp.path, 'rootfs.tar');
    run('tar', ['-cf', tarFile, '-C', stable, '.']);

    // Cold into a new layout, then a rebuild that reads no file.
    const layout = join(tmp.path, 'layout');
    const cold = await build(stable, layout);
    assert.equal(cold.result.layers[0]!.cached, undefined);
    assert.ok(cold.progress > 0);
    assert.equal(cacheEntries(layout).length, 1, 'the cold build recorded its layer');
    const warm = await build(stable, layout);
    assert.equal(warm.result.layers[0]!.cached, true);
    assert.equal(warm.progress, 0, 'a cached layer reads nothing');
    assert.equal(warm.result.digest, cold.result.digest);
    assert.deepEqual(warm.result.layers.map(({ cached: _, source: __, ...l }) => l), cold.result.layers.map(({ source: _, ...l }) => l));
    validateLayout(layout);

    // cache: false (--no-cache) reads the tree again, to the same bytes.
    const forced = await build(stable, layout, { cache: false });
    assert.equal(forced.result.layers[0]!.cached, undefined);
    assert.ok(forced.progress > 0);
    assert.equal(forced.result.digest, cold.result.digest);

    // Options that change the layer's bytes are in the key.
    const level9 = await build(stable, layout, { level: 9 });
    assert.equal(level9.result.layers[0]!.cached, undefined);
    assert.equal(level9.result.layers[0]!.digest, await fresh(stable, tmp.path, { level: 9 }));
    const owned = await build(stable, layout, { owner: '0:0' });
    assert.equal(owned.result.layers[0]!.cached, undefined);
    const uncompressed = await build(stable, layout, { compression: 'none' });
    assert.equal(uncompressed.result.layers[0]!.cached, undefined);
    assert.equal((await build(stable, layout, { level: 9 })).result.layers[0]!.cached, true);
    assert.equal((await build(stable, layout)).result.layers[0]!.cached, true);
    // The default level is keyed as its number (a layer made at an older default is never served
    // for a newer one): naming it gives the same bytes, so the same entry.
    assert.equal((await build(stable, layout, { level: DEFAULT_GZIP_LEVEL })).result.layers[0]!.cached, true);

    // A cache entry whose blob is gone from the layout is a full build, which puts it back.
    rmSync(join(layout, 'blobs', 'sha256', cold.result.layers[0]!.digest.slice('sha256:'.length)));
    const restored = await build(stable, layout);
    assert.equal(restored.result.layers[0]!.cached, undefined);
    assert.equal(restored.result.layers[0]!.digest, cold.result.layers[0]!.digest);
    assert.equal((await build(stable, layout)).result.layers[0]!.cached, true);
    validateLayout(layout);

    // A tar file source: cached on its own metadata, rebuilt once it is rewritten.
    const tarLayout = join(tmp.path, 'tar-layout');
    const tarCold = await build(tarFile, tarLayout);
    assert.equal((await build(tarFile, tarLayout)).result.layers[0]!.cached, true);
    keepingMtime(tarFile, tmp.path, () => run('tar', ['-cf', tarFile, '--mtime=@12345', '-C', stable, '.']));
    const tarAfter = await build(tarFile, tarLayout);
    assert.equal(tarAfter.result.layers[0]!.cached, undefined);
    assert.equal(tarAfter.result.layers[0]!.digest, await fresh(tarFile, tmp.path));
    assert.notEqual(tarAfter.result.layers[0]!.digest, tarCold.result.layers[0]!.digest, 'the tar was rewritten with other file times');

    // The changing tree: each change below keeps size and mtime, or is otherwise subtle.
    const chLayout = join(tmp.path, 'changing-layout');
    const base = await build(changing, chLayout);
    assert.equal((await build(changing, chLayout)).result.layers[0]!.cached, true);
    const checkRebuilt = async (what: string) => {
      const clock = justChanged();
      const after = await build(changing, chLayout, { cacheClock: clock });
      assert.equal(after.result.layers[0]!.cached, undefined, `${what}: rebuilt`);
      assert.equal(after.result.layers[0]!.digest, await fresh(changing, tmp.path), `${what}: the tree as it is now`);
      // Changed just now: too recent to prove anything, so not recorded (git's racy rule).
      assert.equal((await build(changing, chLayout, { cacheClock: clock })).result.layers[0]!.cached, undefined, `${what}: not cached while racy`);
      return after.result.layers[0]!.digest;
    };

    // Same size, mtime put back: only ctime tells.
    const config = join(changing, 'etc', 'config');
    keepingMtime(config, tmp.path, () => writeFileSync(config, 'value=2\n'));
    const contentChanged = await checkRebuilt('content rewritten');
    assert.notEqual(contentChanged, base.result.layers[0]!.digest);

    chmodSync(config, 0o600);
    await checkRebuilt('chmod');
    writeFileSync(join(changing, 'etc', 'added'), 'new\n');
    await checkRebuilt('file added');
    rmSync(join(changing, 'etc', 'added'));
    await checkRebuilt('file removed');

    // A same-size write with the same mtime right after a build: never a stale layer.
    const racy = await build(changing, chLayout, { cacheClock: justChanged() });
    const big = join(changing, 'usr', 'lib', 'big.bin');
    keepingMtime(big, tmp.path, () => writeFileSync(big, pseudoRandom(3 * 1024 * 1024 + 17, 'other')));
    const afterRacy = await build(changing, chLayout, { cacheClock: justChanged() });
    assert.notEqual(afterRacy.result.layers[0]!.digest, racy.result.layers[0]!.digest);
    assert.equal(afterRacy.result.layers[0]!.digest, await fresh(changing, tmp.path));

    // Once the tree has aged, it is cached again.
    const aged = await build(changing, chLayout);
    assert.equal(aged.result.layers[0]!.cached, undefined);
    assert.equal(aged.result.layers[0]!.digest, afterRacy.result.layers[0]!.digest);
    assert.equal((await build(changing, chLayout)).result.layers[0]!.cached, true);
    appendFileSync(join(changing, 'etc', 'other'), 'more\n'); // through a hard link's other name
    assert.equal((await build(changing, chLayout)).result.layers[0]!.cached, undefined);
  } finally {
    await tmp.cleanup();
  }
});

test('ocipush build --no-cache builds the same image again', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    makeTree(rootfs);
    const layout = join(tmp.path, 'layout');
    // The library records the layer (its clock set past the racy window); the CLI then hits it.
    const digests: string[] = [(await build(rootfs, layout)).result.digest];
    for (const extra of [[], ['--no-cache']]) {
      const r = runCli(['build', rootfs, '--layout', layout, '--tag', 't', '--quiet', '--json', ...extra], { env: { SOURCE_DATE_EPOCH: '' } });
      assert.equal(r.status, 0, r.stderr);
      digests.push((JSON.parse(r.stdout) as { digest: string }).digest);
    }
    assert.equal(new Set(digests).size, 1, digests.join(' '));
    assert.equal(cacheEntries(layout).length, 1);
  } finally {
    await tmp.cleanup();
  }
});

const BIG = 3 * 1024 * 1024 + 17;

/** The cache entries of one source (path + options) in a layout: the names share its prefix. */
function entriesOf(layout: string, like: string): string[] {
  const prefix = like.split('-')[0]!;
  return cacheEntries(layout).filter((n) => n.startsWith(`${prefix}-`));
}

test('layer cache: a file rewritten while the build reads it is never served from the cache', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    makeTree(rootfs);
    const layout = join(tmp.path, 'layout');
    const big = join(rootfs, 'usr', 'lib', 'big.bin');
    // The first progress report comes after the first MiB of tar, in the middle of big.bin,
    // whose metadata the walk has taken already: the rest of it is read as rewritten here.
    // The build's clock is the real one: the rewrite comes after the build began, racy however
    // long anything takes. `rewrittenAt` then stops the clock of the next builds at the rewrite.
    let rewrittenAt = 0;
    const rewriteDuringBuild = (seed: string): Partial<BuildOptions> => {
      let done = false;
      return {
        cacheClock: Date.now,
        onProgress: () => {
          if (done) return;
          done = true;
          keepingMtime(big, tmp.path, () => writeFileSync(big, pseudoRandom(BIG, seed)));
          rewrittenAt = Date.now();
        },
      };
    };
    const atRewrite = () => rewrittenAt;
    const served = new Set<string>();
    const check = async (what: string, expectCached: boolean | undefined, cacheClock = AGED) => {
      const r = await build(rootfs, layout, { cacheClock });
      assert.equal(r.result.layers[0]!.cached, expectCached, what);
      assert.equal(r.result.layers[0]!.digest, await fresh(rootfs, tmp.path), `${what}: the tree as it is now`);
      return r.result.layers[0]!.digest;
    };

    // Cold: the source has no entry, so its key comes from the build's own walk.
    const cold = await build(rootfs, layout, rewriteDuringBuild('during-1'));
    served.add(cold.result.layers[0]!.digest);
    assert.notEqual(cold.result.layers[0]!.digest, await fresh(rootfs, tmp.path), 'the layer mixes both versions of big.bin');
    assert.ok(!served.has(await check('right after a change during the cold build', undefined, atRewrite)));
    await check('once aged', undefined);
    const settled = await check('unchanged since', true);

    // Warm: the source has entries, the walk ahead of the build misses, and the build's walk
    // sees big.bin before it is rewritten.
    const config = join(rootfs, 'etc', 'config');
    keepingMtime(config, tmp.path, () => writeFileSync(config, 'value=9\n'));
    const warm = await build(rootfs, layout, rewriteDuringBuild('during-2'));
    assert.equal(warm.result.layers[0]!.cached, undefined);
    served.add(warm.result.layers[0]!.digest);
    assert.ok(!served.has(await check('right after a change during the warm build', undefined, atRewrite)));
    await check('once aged', undefined);
    assert.notEqual(await check('unchanged since', true), settled);
    validateLayout(layout);
    assertSameTree(rootfs, umociUnpack(layout, 't', join(tmp.path, 'bundle')), { clampMtime: 0 });
  } finally {
    await tmp.cleanup();
  }
});

test('layer cache: pruning keeps it bounded, drops entries whose blob is gone, never the ones in use', async () => {
  const tmp = await tempDir();
  try {
    // Six trees taking turns at one path: one source with six keys. Renaming a tree moves only
    // its root's ctime, which is not an entry, so each stays cacheable (and aged) at the new path.
    const trees = [0, 1, 2, 3, 4, 5].map((i) => {
      const dir = join(tmp.path, `tree-${i}`);
      makeTree(dir);
      writeFileSync(join(dir, 'etc', 'id'), `${i}\n`);
      return dir;
    });
    const other = join(tmp.path, 'other');
    makeTree(other);
    writeFileSync(join(other, 'etc', 'id'), 'other\n');
    const current = join(tmp.path, 'current');
    const layout = join(tmp.path, 'layout');
    const buildTree = async (i: number) => {
      renameSync(trees[i]!, current);
      try {
        return await build(current, layout);
      } finally {
        renameSync(current, trees[i]!);
      }
    };

    let first = '';
    for (let i = 0; i < trees.length; i++) {
      const r = await buildTree(i);
      assert.equal(r.result.layers[0]!.cached, undefined, `tree ${i}: first build`);
      if (i === 0) first = cacheEntries(layout)[0]!;
      assert.equal(entriesOf(layout, first).length, Math.min(i + 1, 4), `after tree ${i}: at most 4 entries per source`);
    }
    // The four most recently used are there; the two oldest were dropped.
    for (const i of [5, 4, 3, 2]) assert.equal((await buildTree(i)).result.layers[0]!.cached, true, `tree ${i}: kept`);
    assert.equal((await buildTree(0)).result.layers[0]!.cached, undefined, 'tree 0: pruned');
    assert.equal(entriesOf(layout, first).length, 4);
    // Tree 0 came back as the most recent, tree 5 (used longest ago) made room for it.
    assert.equal((await buildTree(0)).result.layers[0]!.cached, true);
    assert.equal((await buildTree(5)).result.layers[0]!.cached, undefined, 'tree 5: pruned');

    // Another source has entries of its own; then leftovers of crashed writers and of the old format.
    const otherBuild = await build(other, layout);
    validateLayout(layout);
    const cacheDir = join(layout, '.ocipush-cache', 'layers');
    const staleTemp = join(cacheDir, `.${first}.tmp-999999-abcdef012345`);
    const freshTemp = join(cacheDir, `.${first}.tmp-999998-abcdef012345`);
    const oldFormat = join(cacheDir, `${'a'.repeat(64)}.json`);
    const foreign = join(cacheDir, 'notes.txt');
    for (const f of [staleTemp, freshTemp, oldFormat, foreign]) writeFileSync(f, '{}');
    utimesSync(staleTemp, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    const before = cacheEntries(layout).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    assert.equal(before.length, 4 + 1 + 1);

    // A layer blob removed from the layout (say by a garbage collector): its entry goes.
    rmSync(join(layout, 'blobs', 'sha256', otherBuild.result.layers[0]!.digest.slice('sha256:'.length)));
    const cache = new LayerCache(layout);
    const oci = await OciLayout.open(layout);
    await cache.prune(oci, []);
    assert.equal(existsSync(staleTemp), false, 'a temp file of a dead writer is removed');
    assert.equal(existsSync(freshTemp), true, 'a temp file that may be being written stays');
    assert.equal(existsSync(oldFormat), false, 'format 1 entries can never match: removed');
    assert.equal(existsSync(foreign), true, 'files the cache does not know are left alone');
    const after = cacheEntries(layout).filter((n) => /^[0-9a-f]{32}-/.test(n));
    assert.equal(after.length, 4, 'the entry without its blob is gone, the others stay');
    assert.equal(entriesOf(layout, first).length, 4);

    // An entry in use is kept even when the bounds would drop it first (it is the oldest here).
    const ages = after.map((n) => ({ n, t: statSync(join(cacheDir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    const inUse = ages[0]!.n;
    await cache.prune(oci, [inUse], { perSource: 4, total: 1 });
    assert.deepEqual(cacheEntries(layout).filter((n) => /^[0-9a-f]{32}-/.test(n)), [inUse]);
    // Used last: 3, 2 (the hits), 0, 5 (rebuilt, each dropping the least recent, 5 then 4).
    // So the oldest is tree 3's entry, which still hits; tree 2's is gone.
    assert.equal((await buildTree(3)).result.layers[0]!.cached, true);
    assert.equal((await buildTree(2)).result.layers[0]!.cached, undefined);
    // The layer of `other` is rebuilt and put back.
    assert.equal((await build(other, layout)).result.layers[0]!.cached, undefined);
    assert.equal((await build(other, layout)).result.layers[0]!.cached, true);
    validateLayout(layout);
  } finally {
    await tmp.cleanup();
  }
});

/** A build in a process of its own (as `ocipush build`, with the cache's clock a minute ahead). */
function buildInChild(rootfs: string, layout: string, tag: string): Promise<{ status: number | null; stderr: string }> {
  const index = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'index.js')).href;
  const script = `import { buildImage } from '${index}';
const [rootfs, layout, tag] = process.argv.slice(-3);
await buildImage({ rootfs: [rootfs], layout, tag, sourceDateEpoch: '', cacheClock: () => Date.now() + 60000 });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, rootfs, layout, tag], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

test('layer cache: builds running at once into one layout each record their layer, and prune safely', async () => {
  const tmp = await tempDir();
  try {
    const trees = [0, 1, 2, 3].map((i) => {
      const dir = join(tmp.path, `tree-${i}`);
      makeTree(dir);
      writeFileSync(join(dir, 'etc', 'id'), `${i}\n`);
      return dir;
    });
    const layout = join(tmp.path, 'layout');
    // The layout exists first, so that every build looks its source up in the cache.
    assert.equal((await build(trees[0]!, layout)).result.layers[0]!.cached, undefined);
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(trees.map((t, i) => buildInChild(t, layout, `t${i}`)));
      for (const r of results) assert.equal(r.status, 0, r.stderr);
    }
    validateLayout(layout);
    const names = cacheEntries(layout);
    assert.equal(names.filter((n) => /^[0-9a-f]{32}-[0-9a-f]{64}\.json$/.test(n)).length, 4, names.join(' '));
    assert.deepEqual(names.filter((n) => n.startsWith('.')), [], 'no temp file left behind');
    assert.equal(existsSync(join(layout, '.ocipush-cache', 'prune.lock')), false, 'the prune lock is released');
    for (const t of trees) assert.equal((await build(t, layout)).result.layers[0]!.cached, true, t);
  } finally {
    await tmp.cleanup();
  }
});

test('layer cache: a blob damaged in place (same size) is served by a hit, and --no-cache writes it again', async () => {
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    makeTree(tree);
    const layout = join(tmp.path, 'layout');
    const cold = (await build(tree, layout)).result;
    const blob = join(layout, 'blobs', 'sha256', cold.layers[0]!.digest.slice('sha256:'.length));
    // Bit rot: one byte in the middle flipped, the size unchanged.
    const fd = openSync(blob, 'r+');
    const byte = Buffer.alloc(1);
    const at = Math.floor(statSync(blob).size / 2);
    readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    assert.throws(() => validateLayout(layout), /digest|validation/, 'oci-image-tool sees the damage');
    const repaired = (await build(tree, layout, { cache: false })).result;
    assert.equal(repaired.layers[0]!.cached, undefined);
    assert.equal(repaired.digest, cold.digest);
    validateLayout(layout);
    const warm = (await build(tree, layout)).result;
    assert.equal(warm.layers[0]!.cached, true);
    assert.equal(warm.digest, cold.digest);
    validateLayout(layout);
  } finally {
    await tmp.cleanup();
  }
});
