import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type BuildOptions, type BuildResult } from '../../src/index.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { pseudoRandom, validateLayout } from './support.js';

/**
 * The layer cache may only skip reading a tree whose metadata proves it unchanged. Trees made
 * by a test are "racy" (changed within 2 s of the build) and never cached, so every fixture is
 * made first, then one wait lets them all age.
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

/** Runs `change` on `path`, then puts its mtime back to the nanosecond (`touch -r`): only ctime can tell. */
function keepingMtime(path: string, scratch: string, change: () => void): void {
  const ref = join(scratch, 'mtime-ref');
  run('touch', ['-r', path, ref]);
  const before = statSync(path, { bigint: true });
  change();
  run('touch', ['-h', '-r', ref, path]);
  const after = statSync(path, { bigint: true });
  assert.equal(after.mtimeNs, before.mtimeNs);
  assert.equal(after.size, before.size);
  assert.notEqual(after.ctimeNs, before.ctimeNs);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cacheEntries(layout: string): string[] {
  const dir = join(layout, '.ocipush-cache', 'layers');
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function build(rootfs: string, layout: string, extra: Partial<BuildOptions> = {}): Promise<{ result: BuildResult; progress: number }> {
  let progress = 0;
  const result = await buildImage({ rootfs: [rootfs], layout, sourceDateEpoch: '', tag: 't', onProgress: () => { progress++; }, ...extra });
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
    await sleep(2500);

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
    assert.deepEqual(warm.result.layers.map(({ cached: _, ...l }) => l), cold.result.layers);
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
      const after = await build(changing, chLayout);
      assert.equal(after.result.layers[0]!.cached, undefined, `${what}: rebuilt`);
      assert.equal(after.result.layers[0]!.digest, await fresh(changing, tmp.path), `${what}: the tree as it is now`);
      // Changed just now: too recent to prove anything, so not recorded (git's racy rule).
      assert.equal((await build(changing, chLayout)).result.layers[0]!.cached, undefined, `${what}: not cached while racy`);
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
    const racy = await build(changing, chLayout);
    const big = join(changing, 'usr', 'lib', 'big.bin');
    keepingMtime(big, tmp.path, () => writeFileSync(big, pseudoRandom(3 * 1024 * 1024 + 17, 'other')));
    const afterRacy = await build(changing, chLayout);
    assert.notEqual(afterRacy.result.layers[0]!.digest, racy.result.layers[0]!.digest);
    assert.equal(afterRacy.result.layers[0]!.digest, await fresh(changing, tmp.path));

    // Once the tree has aged, it is cached again.
    await sleep(2500);
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
    await sleep(2500);
    const layout = join(tmp.path, 'layout');
    const digests: string[] = [];
    for (const extra of [[], [], ['--no-cache']]) {
      const r = runCli(['build', rootfs, '--layout', layout, '--tag', 't', '--quiet', ...extra], { env: { SOURCE_DATE_EPOCH: '' } });
      assert.equal(r.status, 0, r.stderr);
      digests.push(r.stdout.trim());
    }
    assert.equal(new Set(digests).size, 1, digests.join(' '));
    assert.equal(cacheEntries(layout).length, 1);
  } finally {
    await tmp.cleanup();
  }
});
