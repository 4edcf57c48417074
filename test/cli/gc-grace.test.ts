import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { collectGarbage } from '../../src/content/gc.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { pseudoRandom, readImage, umociUnpack, validateLayout } from '../assemble/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';

interface GcJson { removed: { digest: string }[]; recent: { digest: string; size: number }[] }

/**
 * Other tools take no lock on a layout: skopeo, umoci and oras store an image's blobs one by one
 * and name the image in index.json last. A blob nothing reaches yet may be one of those, so gc
 * leaves it while it is younger than `--prune` (an hour unless told), as zot's gcDelay and git's
 * gc.pruneExpire do; `--prune=now` removes it.
 */
describe('gc and the blobs another tool has stored but not named yet', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  /** A two-layer image in the registry, and the layout it was built in. */
  let source: ReturnType<typeof readImage>;

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    const trees = ['one', 'two'].map((name) => {
      const dir = join(tmp.path, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'data'), pseudoRandom(64 * 1024, name));
      return dir;
    });
    const built = join(tmp.path, 'built');
    assertOk(runCli(['build', ...trees, '--layout', built, '--tag', 'app', '-q']));
    assertOk(runCli(['push', `${registry.host}/grace/app:1`, '--layout', built, '--tag', 'app', '-q']));
    source = readImage(built, 'app');
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** A layout holding one image of its own (`base`), which the copied image shares nothing with. */
  function layoutWithBase(name: string): string {
    const rootfs = join(tmp.path, `${name}-rootfs`);
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'base'), 'base\n');
    const dir = join(tmp.path, name);
    assertOk(runCli(['build', rootfs, '--layout', dir, '--tag', 'base', '-q']));
    return dir;
  }

  it('keeps the layer a skopeo copy has stored while it fetches the next one; the image it then names is whole', async (t) => {
    const dir = layoutWithBase('copying');
    const [first, second] = source.manifest.layers.map((l) => l.digest);
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.addFault({ method: 'GET', path: new RegExp(`/blobs/${second}$`), fault: { kind: 'hold-response', until: /release-held/, timeoutMs: 600_000 } });
    const skopeo = spawn('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${proxy.host}/grace/app:1`, `oci:${dir}:app`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const forget = killOnExit(skopeo);
    t.after(async () => {
      skopeo.kill('SIGKILL');
      forget();
      await fetch(`${proxy.url}/release-held`).then((res) => res.arrayBuffer()).catch(() => {});
    });
    let stderr = '';
    skopeo.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const done = new Promise<number | null>((resolve) => skopeo.on('close', resolve));
    // skopeo has stored the first layer under its digest and waits for the second: index.json does not name it yet.
    const stored = join(dir, 'blobs', 'sha256', first!.slice(7));
    while (!existsSync(stored) || !proxy.requests().some((r) => r.path.endsWith(second!))) {
      assert.equal(skopeo.exitCode, null, stderr);
      await new Promise((r) => setTimeout(r, 20));
    }

    const r = runCli(['gc', '--layout', dir]);
    assertOk(r);
    assert.ok(existsSync(stored), 'the layer skopeo stored is still there');
    assert.match(r.stdout, /^removed 0 blobs \(0 B\) from .*, kept 3; left 1 blob no image reaches \(64\.\d KiB\), written within 1h: another tool \(skopeo, umoci, oras\) may be about to name it \(--prune=now removes it\)$/m);
    const dry = JSON.parse(runCli(['gc', '--layout', dir, '--dry-run', '--json']).stdout) as GcJson;
    assert.deepEqual([dry.removed, dry.recent.map((b) => b.digest)], [[], [first]]);

    await fetch(`${proxy.url}/release-held`).then((res) => res.arrayBuffer()).catch(() => {});
    assert.equal(await done, 0, stderr);
    validateLayout(dir);
    umociUnpack(dir, 'app', join(tmp.path, 'bundle'));
    assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${dir}:app`])).Digest, source.digest);
  });

  it('removes such a blob once older than --prune (1h unless given), or at once with --prune=now; a clock given to the library judges the same', async () => {
    const dir = layoutWithBase('strays');
    const blobsDir = join(dir, 'blobs', 'sha256');
    // A blob as a tool copying in an image stores it (the layer of another image, under its digest), not named.
    const [first, second] = source.manifest.layers.map((l) => l.digest);
    const place = (digest: string, ageMs: number): string => {
      const path = join(blobsDir, digest.slice(7));
      copyFileSync(source.blob(digest), path);
      const at = new Date(Date.now() - ageMs);
      utimesSync(path, at, at);
      return path;
    };
    const gc = (...args: string[]): GcJson => {
      const r = runCli(['gc', '--layout', dir, '--json', ...args]);
      assertOk(r);
      return JSON.parse(r.stdout) as GcJson;
    };

    const fresh = place(first!, 0);
    const kept = gc();
    assert.ok(existsSync(fresh), 'written a moment ago: kept');
    assert.deepEqual([kept.removed, kept.recent.map((b) => b.digest)], [[], [first]]);
    assert.deepEqual(gc('--prune=now').removed.map((b) => b.digest), [first]);
    assert.equal(existsSync(fresh), false);

    const older = place(second!, 45 * 60_000);
    assert.deepEqual(gc().recent.map((b) => b.digest), [second], '45 minutes: within the hour');
    assert.deepEqual(gc('--prune', '2h').recent.map((b) => b.digest), [second]);
    assertOneLineError(runCli(['gc', '--layout', dir, '--prune', 'soon']), /^ocipush: --prune soon: expected now, or an age such as 30m, 2h or 7d/, 2);
    assert.ok(existsSync(older));
    assert.deepEqual(gc('--prune=30m').removed.map((b) => b.digest), [second]);

    const old = place(first!, 2 * 3600_000);
    assert.deepEqual(gc().removed.map((b) => b.digest), [first], 'two hours old: garbage');
    assert.equal(existsSync(old), false);

    // The library's clock: a blob written now is two hours old to a gc whose clock says so.
    place(second!, 0);
    const layout = await OciLayout.open(dir);
    const now = Date.now();
    assert.deepEqual((await collectGarbage(layout, { now: () => now })).recent.map((b) => b.digest), [second]);
    assert.deepEqual((await collectGarbage(layout, { now: () => now + 2 * 3600_000 })).removed.map((b) => b.digest), [second]);
    await layout.close();
    validateLayout(dir);
    assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'base');
  });
});
