import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { OciLayout } from '../../src/content/layout.js';
import { collectGarbage } from '../../src/content/gc.js';
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

/**
 * A writer killed with SIGKILL while writing one of the layout's notes through its temp name
 * (`.NAME.tmp-PID-HEX`, outside any ingest session) left it for an hour: gc judged such files by
 * age alone. The PID in the name is judged now, as a lock's owner is: gone, the file goes at once.
 */
test('the temp file of a writer killed mid-write is cleared by gc at once (its PID gone, 30 s untouched); a live writer\'s stays', async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const dir = join(tmp.path, 'layout');
  await (await OciLayout.open(dir, { create: true })).close();
  const record = join(dir, '.ocipush-remote-blobs.json');
  // A real writer: writeFileAtomic, its first chunk written, blocked before the next, then killed.
  const atomic = join(REPO_ROOT, 'dist', 'src', 'content', 'atomic.js');
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { writeFileAtomic } = await import(${JSON.stringify(atomic)});
    function* body() { yield Buffer.from('{"version":1,'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }
    await writeFileAtomic(${JSON.stringify(record)}, body());
  `], { stdio: 'ignore' });
  const forget = killOnExit(child);
  const prefix = '..ocipush-remote-blobs.json.tmp-'; // writeFileAtomic's: a dot before the name
  while (!readdirSync(dir).some((n) => n.startsWith(prefix))) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  forget();
  const [killed] = readdirSync(dir).filter((n) => n.startsWith(prefix));
  assert.equal(killed, `${prefix}${child.pid}-${killed!.slice(`${prefix}${child.pid}-`.length)}`, 'named with the killed writer\'s PID');
  // One of this process's, alive, as old.
  const live = join(dir, `${prefix}${process.pid}-abcdef012345`);
  writeFileSync(live, '{');

  const layout = await OciLayout.open(dir);
  // The clock set from the file's own time, not this machine's pace since the kill.
  const written = statSync(join(dir, killed!)).mtimeMs;
  // Within the stale period nothing goes: the file may be another container's, its PID meaningless here.
  assert.deepEqual((await collectGarbage(layout, { now: () => written + 10_000 })).leftovers, []);
  const later = await collectGarbage(layout, { now: () => written + 60_000 });
  assert.deepEqual(later.leftovers, [join(dir, killed!)]);
  assert.equal(existsSync(join(dir, killed!)), false);
  assert.ok(existsSync(live), 'a live writer\'s temp file stays');
  rmSync(live);
  validateLayout(dir);
});
