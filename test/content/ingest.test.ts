import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { validateLayout } from '../assemble/support.js';
import { assertOk } from '../cli/registry-support.js';

/**
 * Every process that writes into a layout opens an ingest session, which clears what dead writers
 * left. It listed blobs/ for that too, for temp files only old versions left there: a cost in
 * proportion to the blobs held, paid by every build and copy (80 ms at 50,000 blobs). gc clears those.
 */
test('a build into a layout does not list its blobs; the temp file an old version left beside them is gc\'s', async (t) => {
  requireTool('strace');
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'f'), 'one\n');
  const layout = join(tmp.path, 'layout');
  assertOk(runCli(['build', rootfs, '--layout', layout, '--tag', 'one', '-q']));
  const blobs = join(layout, 'blobs', 'sha256');
  const legacy = join(blobs, '.0123abcd.blob.tmp-99999-abcdef012345');
  writeFileSync(legacy, 'part of a layer');
  const hoursAgo = new Date(Date.now() - 2 * 3600_000);
  utimesSync(legacy, hoursAgo, hoursAgo);

  writeFileSync(join(rootfs, 'f'), 'two\n');
  const trace = join(tmp.path, 'trace');
  const r = spawnSync('strace', ['-f', '-e', 'trace=openat', '-o', trace, process.execPath, CLI, 'build', rootfs, '--layout', layout, '--tag', 'two', '-q'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const listed = readFileSync(trace, 'utf8').split('\n').filter((line) => line.includes(`"${blobs}"`) && line.includes('O_DIRECTORY'));
  assert.deepEqual(listed, [], 'the build opened blobs/sha256 to list it');
  assert.ok(existsSync(legacy));
  validateLayout(layout);

  const gc = runCli(['gc', '--layout', layout, '--json']);
  assertOk(gc);
  assert.deepEqual((JSON.parse(gc.stdout) as { leftovers: string[] }).leftovers, [legacy]);
  assert.equal(existsSync(legacy), false);
  assert.deepEqual(run('umoci', ['ls', '--layout', layout]).trim().split('\n').sort(), ['one', 'two']);
});
