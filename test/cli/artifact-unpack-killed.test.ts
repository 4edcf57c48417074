import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, requireTool, runCli, tempDir } from '../support/tools.js';

/**
 * `artifact get` unpacking a directory (oras push's tar+gzip) over one already there, killed with
 * SIGKILL between the rename that moves the old directory aside and the one that puts the new in
 * place: strace kills it as it enters the process's second rename, one libuv thread making the
 * count that of the process.
 */
let tmp: { path: string; cleanup: () => Promise<void> };

before(async () => { tmp = await tempDir(); });
after(async () => { await tmp?.cleanup(); });

function getSignalledAtSecondRename(layout: string, out: string, signal: 'KILL' | 'INT') {
  return spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename', '-e', `inject=rename:signal=${signal}:when=2`,
    process.execPath, CLI, 'artifact', 'get', `oci:${layout}:1`, '-o', out], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, encoding: 'utf8' });
}

function getKilledAtSecondRename(layout: string, out: string): void {
  const r = getSignalledAtSecondRename(layout, out, 'KILL');
  // strace ends as its tracee did: by SIGKILL.
  assert.ok(r.signal === 'SIGKILL' || r.status === 128 + 9, `killed at its second rename, not finished: ${r.status} ${r.stderr}`);
}

/** The killed writers' temp directories, silent (their heartbeat stopped) for two minutes: the time is the files', not the test's. */
function silenceLeftovers(out: string): void {
  const then = new Date(Date.now() - 120_000);
  for (const name of readdirSync(out)) if (/^\.site\.tmp-\d+-[0-9a-f]+$/.test(name)) utimesSync(join(out, name), then, then);
}

function pushSite(name: string): { layout: string; out: string } {
  const layout = join(tmp.path, name, 'layout');
  const site = join(tmp.path, name, 'site');
  mkdirSync(join(site, 'sub'), { recursive: true });
  writeFileSync(join(site, 'index.html'), '<p>new</p>\n');
  writeFileSync(join(site, 'sub', 'b.txt'), 'b\n');
  const pushed = runCli(['artifact', 'push', `oci:${layout}:1`, 'site'], { cwd: join(tmp.path, name) });
  assert.equal(pushed.status, 0, pushed.stderr);
  const out = join(tmp.path, name, 'out');
  mkdirSync(join(out, 'site'), { recursive: true });
  writeFileSync(join(out, 'site', 'mine.txt'), 'what was there\n');
  return { layout, out };
}

describe('artifact get -o DIR of a directory, killed with SIGKILL while it replaces the one there', () => {
  it('the next run puts the old directory back under its name before anything else, and a run that finishes leaves only the new one', () => {
    requireTool('strace');
    const { layout, out } = pushSite('killed');

    getKilledAtSecondRename(layout, out);
    assert.ok(!existsSync(join(out, 'site')), 'killed between its renames: the old directory moved aside, the new not yet in place');
    silenceLeftovers(out);
    // The next run's first rename gives the old directory its name back; it is killed at its own first.
    getKilledAtSecondRename(layout, out);
    assert.ok(existsSync(join(out, 'site', 'mine.txt')), 'the directory that was there is back under its name');

    silenceLeftovers(out);
    const r = runCli(['artifact', 'get', `oci:${layout}:1`, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out), ['site'], 'every killed run\'s temp and old directory cleared');
    assert.deepEqual(readdirSync(join(out, 'site')).sort(), ['index.html', 'sub']);
  });
});

describe('artifact get --keep-old-files after a run killed with SIGKILL while it replaced the directory', () => {
  it('keeps the directory that was there: back under its name, and refused as there, nothing beside it', () => {
    requireTool('strace');
    const { layout, out } = pushSite('keep-old');
    getKilledAtSecondRename(layout, out);
    assert.ok(!existsSync(join(out, 'site')), 'killed between its renames');
    silenceLeftovers(out);
    const r = runCli(['artifact', 'get', `oci:${layout}:1`, '-o', out, '--keep-old-files']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /out\/site" is there already and --keep-old-files keeps it; nothing written/);
    assert.deepEqual(readdirSync(out), ['site']);
    assert.deepEqual(readdirSync(join(out, 'site')), ['mine.txt'], 'the directory that was there, as it was');
  });
});

describe('artifact get -o DIR of a directory, interrupted (SIGINT) as the new directory takes the old one\'s name', () => {
  it('exits 130 and leaves one directory under the name, nothing beside it, whichever the signal came before', () => {
    requireTool('strace');
    const { layout, out } = pushSite('interrupted');
    const r = getSignalledAtSecondRename(layout, out, 'INT');
    assert.equal(r.status, 130, r.stderr);
    assert.deepEqual(readdirSync(out), ['site'], 'neither the temp directory nor the old one moved aside is left');
    const left = readdirSync(join(out, 'site')).sort();
    assert.ok(JSON.stringify(left) === '["index.html","sub"]' || JSON.stringify(left) === '["mine.txt"]', `the new directory or the old, whole: ${left.join(' ')}`);
  });
});
