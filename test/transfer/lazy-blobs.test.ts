import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { recordRemoteBlobs } from '../../src/content/remote-blobs.js';
import { sha256 } from '../../src/oci/digest.js';
import { LazyBlobs } from '../../src/transfer/lazy-blobs.js';
import { startRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

test('a declined mount source is forgotten for a blob the layout holds, and kept for one it can only fetch from there', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const layout = await OciLayout.open(join(dir.path, 'l'), { create: true });
  const held = await layout.putBytes('application/octet-stream', Buffer.from('held'));
  const bytes = Buffer.from('only recorded');
  const recorded = { mediaType: 'application/octet-stream', digest: sha256(bytes), size: bytes.length };
  for (const repository of ['r.example/b', 'r.example/a']) {
    await recordRemoteBlobs(layout.root, [held, recorded].map((d) => ({ digest: d.digest, repository })));
  }
  const blobs = new LazyBlobs(layout);
  assert.deepEqual(await blobs.sourcesOf(held), ['r.example/a', 'r.example/b']);
  await blobs.forgetMountSources([held, recorded].map((descriptor) => ({ descriptor, repository: 'r.example/a' })));
  assert.deepEqual(await blobs.sourcesOf(held), ['r.example/b']);
  assert.deepEqual(await blobs.sourcesOf(recorded), ['r.example/a', 'r.example/b'], 'the only places its bytes are');
  await blobs.forgetMountSources([{ descriptor: held, repository: 'r.example/b' }]);
  assert.deepEqual(await new LazyBlobs(layout).sourcesOf(held), [], 'read again from the layout: no source left');
  assert.deepEqual(await new LazyBlobs(layout).mountRepositories(recorded, 'r.example'), ['a', 'b']);
});

test('a lazily built layout on a read-only mount: a push elsewhere (which keeps the base layer it downloads) fails with one line naming the disk, and ends; export, which keeps nothing, works', async (t) => {
  const dir = await tempDir();
  const readOnly = join(dir.path, 'ro');
  const registry = await startRegistry();
  // In this order: the mount goes before the directory holding it.
  t.after(async () => {
    try { execFileSync('umount', [readOnly], { stdio: 'pipe' }); } catch { /* not mounted */ }
    await registry.stop();
    await dir.cleanup();
  });
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'base'), randomBytes(300_000));
  const base = join(dir.path, 'base');
  assertOk(await runCliAsync(['build', rootfs, '--layout', base, '--tag', 'base', '-q']));
  assertOk(await runCliAsync(['push', `oci:${base}:base`, `${registry.host}/lazy/base:1`, '-q']));
  writeFileSync(join(rootfs, 'app'), 'app\n');
  const built = join(dir.path, 'built');
  // The base's layer is only recorded (localhost:PORT/lazy/base), never downloaded.
  assertOk(await runCliAsync(['build', rootfs, '--base', `localhost:${registry.port}/lazy/base:1`, '--layout', built, '--tag', 'app', '-q']));
  mkdirSync(readOnly);
  try {
    execFileSync('mount', ['--bind', built, readOnly], { stdio: 'pipe' });
  } catch {
    return t.skip('cannot bind-mount here (needs root)');
  }
  execFileSync('mount', ['-o', 'remount,bind,ro', readOnly], { stdio: 'pipe' });
  const before = snapshotDir(built);
  // Another name for the registry: its client is not the base's, whose download the layout refuses.
  const line = new RegExp(`^ocipush: cannot lock ${readOnly.replace(/[/.]/g, '\\$&')}/\\.index\\.json\\.lock: read-only file system$`);
  assertOneLineError(await runCliAsync(['push', `oci:${readOnly}:app`, `${registry.host}/lazy/app:1`, '-q']), line);
  assertOk(await runCliAsync(['export', `oci:${readOnly}:app`, '-o', join(dir.path, 'app.tar'), '-q']));
  assert.deepEqual(snapshotDir(built), before);
});
