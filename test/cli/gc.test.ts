import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildImage } from '../../src/index.js';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { sha256, type Digest } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { formatBytes } from '../../src/cli/output.js';
import { CLI, REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { snapshotDir, validateLayout } from '../assemble/support.js';
import { assertOneLineError } from './registry-support.js';
import { pseudoRandom } from '../assemble/support.js';

function blobs(layout: string): string[] {
  return readdirSync(join(layout, 'blobs', 'sha256')).map((h) => `sha256:${h}`).sort();
}

/**
 * Another process with an open writer session on the layout at `dir` (a build between storing its
 * blobs and tagging them), started through `launcher` (`unshare …`: another PID namespace), once
 * its session is open. Killed when the test ends.
 */
async function holdSession(t: TestContext, dir: string, launcher: string[] = []): Promise<ChildProcess> {
  const layoutJs = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'content', 'layout.js')).href;
  const script = `import { OciLayout } from '${layoutJs}';
const layout = await OciLayout.open(process.argv.at(-1));
await layout.session();
process.stdout.write('open\\n');
setInterval(() => {}, 1000);`;
  const [command, ...args] = [...launcher, process.execPath, '--input-type=module', '-e', script, dir];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const forget = killOnExit(child);
  t.after(() => { child.kill('SIGKILL'); forget(); });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

/** An image of one gzipped layer holding `text` (a valid image for oci-image-tool and umoci). */
async function image(layout: OciLayout, text: string, extraLayer?: Descriptor): Promise<{ manifest: Descriptor; blobs: Digest[] }> {
  const tar = Buffer.alloc(2048);
  tar.write(text, 0);
  const layer = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.alloc(1024)));
  const diffIds = [sha256(Buffer.alloc(1024))];
  const layers = [layer, ...(extraLayer ? [extraLayer] : [])];
  if (extraLayer) diffIds.push(sha256(Buffer.alloc(1024)));
  const config = await layout.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: { Labels: { text } } });
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers });
  return { manifest, blobs: [manifest.digest, config.digest, ...layers.map((l) => l.digest)] };
}

/**
 * A layout at `dir` with image `a` tagged, a layer nothing names, and the temp file a writer killed
 * two hours ago left at its root.
 */
async function layoutWithStrayAndLeftover(dir: string): Promise<{ a: { manifest: Descriptor; blobs: Digest[] }; stray: Descriptor; leftover: string }> {
  const layout = await OciLayout.open(dir, { create: true });
  const a = await image(layout, 'a');
  await layout.tag(a.manifest, 'a');
  const stray = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.from('nobody names me')));
  await layout.close();
  const leftover = join(dir, '.index.json.tmp-99999-abcdef');
  writeFileSync(leftover, '{');
  const hoursAgo = new Date(Date.now() - 2 * 3600_000);
  utimesSync(leftover, hoursAgo, hoursAgo);
  // Past gc's hour for blobs nothing names: not a copy in progress, garbage.
  utimesSync(layout.blobPath(stray.digest), hoursAgo, hoursAgo);
  return { a, stray, leftover };
}

/** Under `dir`: `rootfs`, 24 MiB of random files (a layer slow to compress at level 9), and `small`, one short file. */
function bigAndSmallTrees(dir: string): { rootfs: string; small: string } {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  for (let i = 0; i < 3; i++) writeFileSync(join(rootfs, `data-${i}`), randomBytes(8 << 20));
  const small = join(dir, 'small');
  mkdirSync(small);
  writeFileSync(join(small, 'hello'), 'hello\n');
  return { rootfs, small };
}

/**
 * `ocipush build ROOTFS` into `dir`, SIGKILLed once it has written more than 1 MiB of its layer
 * into its ingest session (a progress the test waits for, not a time). Returns the ingest directory.
 */
async function buildKilledMidLayer(rootfs: string, dir: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'build', rootfs, '--layout', dir, '--tag', 'big', '--level', '9', '--threads', '1'], { stdio: 'ignore' });
  const forget = killOnExit(child);
  const ingest = join(dir, '.ocipush', 'ingest');
  // The session's directory is made as .new-… and renamed: a listing that meets it mid-rename
  // (ENOENT) counts nothing this time round.
  const layerBytes = (): number => {
    try {
      return (existsSync(ingest) ? readdirSync(ingest, { recursive: true }) : [])
        .map((p) => join(ingest, String(p)))
        .filter((p) => /\.blob\.tmp-/.test(p))
        .reduce((n, p) => n + (existsSync(p) ? statSync(p).size : 0), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  };
  for (;;) {
    if (layerBytes() > 1 << 20) break;
    assert.equal(child.exitCode, null, 'the build is still running');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  forget();
  return ingest;
}

describe('ocipush gc', () => {
  it('removes exactly the blobs no index entry reaches (through an index, manifests, configs, layers); --dry-run removes nothing', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    const layout = await OciLayout.open(dir, { create: true });
    const shared = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.from('shared layer')));
    const a = await image(layout, 'a', shared);
    const b = await image(layout, 'b');
    const index = await layout.putJson(MediaType.OciIndex, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...b.manifest, platform: { os: 'linux', architecture: 'arm64' } }] });
    await layout.tag(a.manifest, 'a');
    await layout.tag(index, 'multi');
    // Unreachable: an image whose tag moved, a stray layer, a manifest nobody tags.
    const old = await image(layout, 'old version');
    await layout.tag(old.manifest, 'a-old');
    await layout.untag('a-old');
    const stray = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(pseudoRandom(100_000)));
    await layout.close();
    const reachable = new Set<string>([...a.blobs, ...b.blobs, index.digest]);
    const unreachable = [...new Set([...old.blobs, stray.digest])].filter((d) => !reachable.has(d)).sort();
    assert.ok(unreachable.length >= 3);
    const before = blobs(dir);

    // --prune=now: these were written a moment ago (gc-grace.test.ts has what younger than an hour means).
    const dry = runCli(['gc', '--layout', dir, '--dry-run', '--json', '--prune=now']);
    assert.equal(dry.status, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout) as { dryRun: boolean; removed: { digest: string; size: number }[]; kept: number; bytes: number };
    assert.equal(planned.dryRun, true);
    assert.deepEqual(planned.removed.map((b) => b.digest), unreachable);
    assert.equal(planned.kept, reachable.size);
    assert.deepEqual(blobs(dir), before, '--dry-run removes nothing');

    const r = runCli(['prune', '--layout', dir, '--prune=now']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^removed ${unreachable.length} blobs \\(.*\\) from ${dir.replace(/[/.]/g, '\\$&')}, kept ${reachable.size}\\n$`));
    assert.deepEqual(blobs(dir), [...reachable].sort());
    validateLayout(dir);
    requireTool('umoci');
    assert.deepEqual(run('umoci', ['ls', '--layout', dir]).trim().split('\n').sort(), ['a', 'multi']);
    const again = runCli(['gc', '--layout', dir, '--json', '--prune=now']);
    assert.deepEqual((JSON.parse(again.stdout) as { removed: unknown[] }).removed, [], 'nothing left to remove');
  });

  it('a manifest index.json names but the layout lacks stops gc, as umoci gc: its config and layers are not garbage', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    const layout = await OciLayout.open(dir, { create: true });
    const a = await image(layout, 'a');
    const b = await image(layout, 'b');
    await layout.tag(a.manifest, 'a');
    await layout.tag(b.manifest, 'b');
    await layout.close();
    rmSync(join(dir, 'blobs', 'sha256', b.manifest.digest.slice(7)));
    const before = blobs(dir);
    const r = runCli(['gc', '--layout', dir]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `ocipush: ${dir}: index.json names manifest ${b.manifest.digest}, which the layout does not hold; gc removes nothing from a layout it cannot read whole\n`);
    assert.deepEqual(blobs(dir), before);
    requireTool('umoci');
    assert.throws(() => run('umoci', ['gc', '--layout', dir]), new RegExp(`gc: getting reachables .*${b.manifest.digest.slice('sha256:'.length)}: no such file or directory`), 'umoci gc refuses the same layout, for the manifest missing');
    assert.deepEqual(blobs(dir), before);
  });

  it('a damaged record of remote blobs stops gc before anything goes: one line, exit 1, every blob and leftover still there', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    // What a killed writer left at the root two hours ago, and the record a crash cut short.
    const { stray, leftover } = await layoutWithStrayAndLeftover(dir);
    const record = join(dir, '.ocipush-remote-blobs.json');
    writeFileSync(record, '{"version": 1, "blo');
    const before = blobs(dir);
    assert.ok(before.includes(stray.digest));

    for (const args of [['gc', '--layout', dir], ['prune', '--layout', dir, '--no-cache']]) {
      const r = runCli(args);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ocipush: ${record}: corrupt record of remote blobs (not JSON); delete it to forget where base layers come from\n`);
      assert.deepEqual(blobs(dir), before, 'no blob removed');
      assert.ok(existsSync(leftover), 'no leftover cleared');
    }
    // Deleted, as the line says: gc does its work.
    rmSync(record);
    const r = runCli(['gc', '--layout', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { removed: { digest: string }[] }).removed.map((b) => b.digest), [stray.digest]);
    assert.equal(existsSync(leftover), false);
    validateLayout(dir);
    requireTool('umoci');
    assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'a');
  });

  it('--dry-run on a read-only layout (a read-only mount) lists what gc would remove; gc itself is one line naming the disk', async (t) => {
    const tmp = await tempDir();
    const dir = join(tmp.path, 'layout');
    const readOnly = join(tmp.path, 'ro');
    // The mount goes before the directory holding it.
    t.after(async () => {
      try { execFileSync('umount', [readOnly], { stdio: 'pipe' }); } catch { /* not mounted */ }
      await tmp.cleanup();
    });
    const { a, stray, leftover } = await layoutWithStrayAndLeftover(dir);
    mkdirSync(readOnly);
    try {
      execFileSync('mount', ['--bind', dir, readOnly], { stdio: 'pipe' });
    } catch {
      return t.skip('cannot bind-mount here (needs root)');
    }
    execFileSync('mount', ['-o', 'remount,bind,ro', readOnly], { stdio: 'pipe' });
    const before = snapshotDir(dir);

    const dry = runCli(['gc', '--layout', readOnly, '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout) as { dryRun: boolean; removed: { digest: string }[]; kept: number; leftovers: string[] };
    assert.deepEqual(planned.removed.map((b) => b.digest), [stray.digest]);
    assert.equal(planned.kept, a.blobs.length);
    assert.deepEqual(planned.leftovers, [join(readOnly, '.index.json.tmp-99999-abcdef')]);
    const r = runCli(['gc', '--layout', readOnly]);
    assertOneLineError(r, new RegExp(`^ocipush: cannot lock ${readOnly.replace(/[/.]/g, '\\$&')}/\\.index\\.json\\.lock: read-only file system$`));
    assert.deepEqual(snapshotDir(dir), before);
    // What the dry run listed is what gc removes once the layout may be written.
    const done = JSON.parse(runCli(['gc', '--layout', dir, '--json']).stdout) as { removed: { digest: string }[]; leftovers: string[] };
    assert.deepEqual(done.removed.map((b) => b.digest), [stray.digest]);
    assert.deepEqual(done.leftovers, [leftover]);
    validateLayout(dir);
    requireTool('umoci');
    assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'a');
  });

  it('clears the temp files killed writers left in the caches (a build -f base tree), an hour old, as those beside blobs', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const base = join(tmp.path, 'base');
    const baseLayout = await OciLayout.open(base, { create: true });
    await baseLayout.tag((await image(baseLayout, 'base')).manifest, 'base');
    await baseLayout.close();
    const context = join(tmp.path, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'x'), 'x\n');
    writeFileSync(join(context, 'Dockerfile'), `FROM oci:${base}:base\nCOPY x /tmp/x\n`);
    const dir = join(tmp.path, 'layout');
    const built = runCli(['build', '-f', join(context, 'Dockerfile'), context, '--layout', dir, '--tag', 'app', '-q']);
    assert.equal(built.status, 0, built.stderr);
    const trees = join(dir, '.ocipush-cache', 'base-trees');
    const [entry] = readdirSync(trees);
    assert.match(entry!, /^[0-9a-f]{64}\.json$/);
    // What a build -f killed while writing the base tree left, two hours ago; and one being written now.
    const stale = join(trees, `.${entry}.tmp-999999-abcdef012345`);
    const fresh = join(trees, `.${entry}.tmp-999998-abcdef012345`);
    writeFileSync(stale, 'x'.repeat(100_000));
    writeFileSync(fresh, '{');
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, hoursAgo, hoursAgo);

    const dry = JSON.parse(runCli(['gc', '--layout', dir, '--dry-run', '--json']).stdout) as { leftovers: string[]; leftoverBytes: number };
    assert.deepEqual([dry.leftovers, dry.leftoverBytes], [[stale], 100_000]);
    assert.ok(existsSync(stale), 'a dry run removes nothing');
    // (--prune=now: the summary then ends with the leftovers, not with the blobs written within the hour.)
    const r = runCli(['gc', '--layout', dir, '--prune=now']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /; cleared 1 leftover of killed processes \(97\.7 KiB\)$/m);
    assert.deepEqual(readdirSync(trees).sort(), [`.${entry}.tmp-999998-abcdef012345`, entry].sort(), 'the entry and the file being written stay');

    // --no-cache drops the layer cache: its dead writer's temp file is named by the dry run and by gc alike.
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'f'), 'f\n');
    await buildImage({ rootfs: [rootfs], layout: dir, tag: 'plain', cacheClock: () => Date.now() + 60_000 });
    const layers = join(dir, '.ocipush-cache', 'layers');
    const cacheTemp = join(layers, `.${readdirSync(layers)[0]}.tmp-999999-abcdef012345`);
    writeFileSync(cacheTemp, '{');
    utimesSync(cacheTemp, hoursAgo, hoursAgo);
    const planned = JSON.parse(runCli(['gc', '--layout', dir, '--no-cache', '--dry-run', '--json']).stdout) as { leftovers: string[] };
    assert.deepEqual(planned.leftovers, [cacheTemp]);
    const done = JSON.parse(runCli(['gc', '--layout', dir, '--no-cache', '--json']).stdout) as { leftovers: string[] };
    assert.deepEqual(done.leftovers, planned.leftovers);
    assert.equal(existsSync(layers), false);
    validateLayout(dir);
    requireTool('umoci');
    assert.deepEqual(run('umoci', ['ls', '--layout', dir]).trim().split('\n').sort(), ['app', 'plain']);
  });

  it('a blob gc may not remove (blobs/ on a read-only mount, the root writable) is one line naming it and the cause, not an internal error', async (t) => {
    const tmp = await tempDir();
    const dir = join(tmp.path, 'layout');
    const sha256Dir = join(dir, 'blobs', 'sha256');
    t.after(async () => {
      try { execFileSync('umount', [sha256Dir], { stdio: 'pipe' }); } catch { /* not mounted */ }
      await tmp.cleanup();
    });
    const layout = await OciLayout.open(dir, { create: true });
    await layout.tag((await image(layout, 'a')).manifest, 'a');
    const stray = await layout.putBytes(MediaType.OciLayerGzip, gzipSync(Buffer.from('nobody names me')));
    await layout.close();
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(layout.blobPath(stray.digest), hoursAgo, hoursAgo);
    try {
      execFileSync('mount', ['--bind', sha256Dir, sha256Dir], { stdio: 'pipe' });
    } catch {
      return t.skip('cannot bind-mount here (needs root)');
    }
    execFileSync('mount', ['-o', 'remount,bind,ro', sha256Dir], { stdio: 'pipe' });
    const before = blobs(dir);
    const path = join(sha256Dir, stray.digest.slice(7));
    assertOneLineError(runCli(['gc', '--layout', dir]), new RegExp(`^ocipush: ${dir.replace(/[/.]/g, '\\$&')}: gc stopped before removing a blob: cannot remove ${path.replace(/[/.]/g, '\\$&')}: read-only file system$`));
    assert.deepEqual(blobs(dir), before);
    execFileSync('umount', [sha256Dir], { stdio: 'pipe' });
    assert.deepEqual((JSON.parse(runCli(['gc', '--layout', dir, '--json']).stdout) as { removed: { digest: string }[] }).removed.map((b) => b.digest), [stray.digest]);
    validateLayout(dir);
  });

  it('keeps the layers the build cache names, unless --no-cache', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    const dir = join(tmp.path, 'layout');
    const aged = () => Date.now() + 60_000;
    writeFileSync(join(rootfs, 'f'), 'version 1\n');
    const first = await buildImage({ rootfs: [rootfs], layout: dir, tag: 't', cacheClock: aged });
    writeFileSync(join(rootfs, 'f'), 'version 2\n');
    const second = await buildImage({ rootfs: [rootfs], layout: dir, tag: 't', cacheClock: aged });
    const oldLayer = first.layers[0]!.digest;
    assert.notEqual(second.layers[0]!.digest, oldLayer);
    const kept = JSON.parse(runCli(['gc', '--layout', dir, '--json', '--prune=now']).stdout) as { removed: { digest: string }[] };
    assert.deepEqual(kept.removed.map((b) => b.digest).sort(), [first.digest, first.config.digest].sort(), 'the old layer stays: the cache names it');
    assert.ok(existsSync(join(dir, 'blobs', 'sha256', oldLayer.slice(7))));
    const dropped = JSON.parse(runCli(['gc', '--layout', dir, '--no-cache', '--json', '--prune=now']).stdout) as { removed: { digest: string }[] };
    assert.deepEqual(dropped.removed.map((b) => b.digest), [oldLayer]);
    validateLayout(dir);
  });

  it('waits for a process writing into the layout, and names it when it does not finish', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    await (await OciLayout.open(dir, { create: true })).close();
    const child = await holdSession(t, dir);
    const { collectGarbage } = await import('../../src/content/gc.js');
    const layout = await OciLayout.open(dir);
    await assert.rejects(collectGarbage(layout, { waitMs: 200 }), (err: Error & { code?: string }) =>
      err.code === 'ELOCKED' && err.message.includes(`pid ${child.pid} on `) && /is writing into the layout; run gc when it has finished$/.test(err.message));
    // Once it is gone (killed), its session is a leftover that gc clears; --dry-run names it and leaves it.
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    const ingest = join(dir, '.ocipush', 'ingest');
    const session = join(ingest, readdirSync(ingest)[0]!);
    const dry = runCli(['gc', '--layout', dir, '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.deepEqual((JSON.parse(dry.stdout) as { leftovers: string[] }).leftovers, [session]);
    assert.ok(existsSync(session), 'a dry run removes nothing');
    assert.match(runCli(['gc', '--layout', dir, '--dry-run']).stdout, /; would clear 1 leftover of killed processes \(\d+ B\)$/m);
    const result = await collectGarbage(layout, { waitMs: 200 });
    assert.equal(result.leftovers.length, 1);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no session, no lock left');
  });

  it('a writer in another PID namespace (another container) is named with its heartbeat, and cleared once silent for 10 minutes', async (t) => {
    if (spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0) return t.skip('unshare --pid needs root');
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const dir = join(tmp.path, 'layout');
    await (await OciLayout.open(dir, { create: true })).close();
    const child = await holdSession(t, dir, ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']);
    const { collectGarbage } = await import('../../src/content/gc.js');
    const layout = await OciLayout.open(dir);
    await assert.rejects(collectGarbage(layout, { waitMs: 0 }), (err: Error & { code?: string }) => err.code === 'ELOCKED'
      && /another ocipush process \(pid 1 on [^,]+, last heard from \d+ s ago; a writer silent for 10 minutes is judged gone, its files cleared\) is writing into the layout/.test(err.message));
    // Killed (SIGKILL: nothing of its own cleanup runs), its PID means nothing here: its session waits out the 10 minutes.
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    await assert.rejects(collectGarbage(layout, { waitMs: 0 }), (err: Error & { code?: string }) => err.code === 'ELOCKED');
    const ingest = join(dir, '.ocipush', 'ingest');
    const owner = join(ingest, readdirSync(ingest)[0]!, 'owner');
    const silent = new Date(Date.now() - 11 * 60_000);
    utimesSync(owner, silent, silent);
    assert.equal((await collectGarbage(layout, { waitMs: 0 })).leftovers.length, 1);
    assert.equal(existsSync(join(dir, '.ocipush')), false);
  });

  it('--dry-run names and sizes the partial layer of a build killed (SIGKILL) mid-layer, as find sees it, and gc clears that much', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const { rootfs, small } = bigAndSmallTrees(tmp.path);
    const dir = join(tmp.path, 'layout');
    assert.equal(runCli(['build', small, '--layout', dir, '--tag', 'small', '-q']).status, 0);
    const ingest = await buildKilledMidLayer(rootfs, dir);
    const session = join(ingest, readdirSync(ingest)[0]!);
    const bytes = run('find', [session, '-type', 'f', '-printf', '%s\\n']).trim().split('\n').reduce((n, line) => n + Number(line), 0);
    assert.ok(bytes > 1 << 20, `${bytes} bytes left`);

    const dry = runCli(['gc', '--layout', dir, '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`; would clear 1 leftover of killed processes \\(${formatBytes(bytes).replace('.', '\\.')}\\)\n$`));
    assert.equal(dry.stderr, `would clear ${session} (left by a killed process)\n`);
    const planned = JSON.parse(runCli(['gc', '--layout', dir, '--dry-run', '--json']).stdout) as { leftovers: string[]; leftoverBytes: number };
    assert.deepEqual(planned, { ...planned, leftovers: [session], leftoverBytes: bytes });
    const done = JSON.parse(runCli(['gc', '--layout', dir, '--json']).stdout) as { leftovers: string[]; leftoverBytes: number };
    assert.deepEqual([done.leftovers, done.leftoverBytes], [[session], bytes]);
    assert.equal(existsSync(join(dir, '.ocipush')), false);
  });

  it('a build killed (SIGKILL) in the middle of a large layer leaves nothing that the next write does not clear', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const { rootfs, small } = bigAndSmallTrees(tmp.path);
    for (const existing of [false, true]) {
      const dir = join(tmp.path, existing ? 'existing' : 'new');
      if (existing) assert.equal(runCli(['build', small, '--layout', dir, '--tag', 'small', '-q']).status, 0);
      // Killed once it has written a good part of its layer into its ingest session.
      const ingest = await buildKilledMidLayer(rootfs, dir);
      assert.equal(readdirSync(ingest).length, 1, 'the killed build left its session');
      if (existing) assert.deepEqual(readdirSync(join(dir, 'blobs', 'sha256')).filter((n) => n.startsWith('.')), [], 'nothing in-progress in blobs/');
      else assert.deepEqual(readdirSync(dir), ['.ocipush'], 'the new layout is not made before the image is complete');
      // The next write into the layout (another build) clears it.
      const r = runCli(['build', small, '--layout', dir, '--tag', 'next', '-q']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(join(dir, '.ocipush')), false, `${existing ? 'existing' : 'new'} layout: the dead session is gone`);
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')).filter((n) => n !== '.ocipush-cache'), [], 'no lock or temp file left');
      validateLayout(dir);
    }
  });
});
