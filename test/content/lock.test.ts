import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { breakLock, judge, withLock } from '../../src/content/lock.js';
import { currentOwner } from '../../src/content/liveness.js';
import { Annotation } from '../../src/oci/descriptor.js';
import { MediaType } from '../../src/oci/media-types.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { CLI, REPO_ROOT, tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';

const LAYOUT_JS = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'content', 'layout.js')).href;
/** Far beyond any run of these tests: a fresh lock is never judged stale by its age, an old one (year 2000) always is. */
const STALE_MS = 365 * 24 * 3600_000;
const LONG_AGO = new Date('2000-01-01T00:00:00Z');

/** Runs `node -e SCRIPT` (an ES module) and resolves to its exit status and stderr. */
function node(script: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const forget = killOnExit(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve) => child.on('close', (status) => { forget(); resolve({ status, stderr }); }));
}

/** A child process that tags the layout's one manifest as argv[2]. */
const TAGGER = `
import { OciLayout } from '${LAYOUT_JS}';
const [dir, name] = process.argv.slice(-2);
const layout = await OciLayout.open(dir, { liveness: { staleMs: ${STALE_MS} } });
const index = await layout.readIndex();
const desc = index.manifests.find((d) => d.annotations?.['${Annotation.RefName}'] === 'seed');
await layout.tag(desc, name);
await layout.close();
`;

/** A process id that no process has now (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

type StaleKind = 'old-pid-file' | 'empty-file' | 'foreign-owner' | 'dead-owner-here';

/** Leaves a lock at `lockPath` whose owner is gone, of the kinds a crash leaves. */
function plantStaleLock(lockPath: string, kind: StaleKind): void {
  if (kind === 'old-pid-file' || kind === 'empty-file') {
    // What an older ocipush left: its PID (or nothing, killed between creating and writing it).
    writeFileSync(lockPath, kind === 'empty-file' ? '' : String(deadPid()));
    utimesSync(lockPath, LONG_AGO, LONG_AGO);
    return;
  }
  mkdirSync(lockPath);
  const owner = kind === 'foreign-owner'
    // Another container: a PID namespace these processes cannot look into; judged by its heartbeat.
    ? { token: 'foreign-1', pid: 1, host: 'other-container', scope: 'another-boot/pid:[1]' }
    // This namespace: a dead PID is seen at once, whatever the heartbeat says.
    : { ...currentOwner('dead-here-1'), pid: deadPid() };
  writeFileSync(join(lockPath, 'owner'), JSON.stringify(owner));
  if (kind === 'foreign-owner') utimesSync(join(lockPath, 'owner'), LONG_AGO, LONG_AGO);
}

async function seededLayout(dir: string) {
  const layout = await OciLayout.open(dir, { create: true });
  const manifest = await layout.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: `sha256:${'0'.repeat(64)}`, size: 0 }, layers: [] });
  await layout.tag(manifest, 'seed');
  await layout.close();
  return layout;
}

describe('the layout lock', () => {
  it('a holder ended by SIGTERM or SIGINT (the CLI\'s handlers) removes its lock: another container need not wait out the heartbeat', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const lockJs = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'content', 'lock.js')).href;
    const cleanupJs = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'content', 'cleanup.js')).href;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const lockPath = join(tmp.path, `index.json.lock-${signal}`);
      const child = spawn(process.execPath, ['--input-type=module', '-e', `import { withLock } from '${lockJs}';
import { installSignalCleanup } from '${cleanupJs}';
installSignalCleanup();
setInterval(() => {}, 1000);
await withLock(process.argv.at(-1), () => { process.stdout.write('held\\n'); return new Promise(() => {}); });`, lockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
      const forget = killOnExit(child);
      t.after(() => { child.kill('SIGKILL'); forget(); });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      assert.ok(existsSync(lockPath), 'held');
      child.kill(signal);
      const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      assert.equal(status, signal === 'SIGTERM' ? 143 : 130);
      assert.deepEqual(readdirSync(tmp.path).filter((n) => n.startsWith(`index.json.lock-${signal}`)), [], 'no lock, no grave left');
    }
  });

  it('8 processes taking over a stale lock at once never lose a tag (24 rounds, 4 kinds of stale lock)', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const kinds: StaleKind[] = ['old-pid-file', 'empty-file', 'foreign-owner', 'dead-owner-here'];
    for (let round = 0; round < 24; round++) {
      const dir = join(tmp.path, `round-${round}`);
      const layout = await seededLayout(dir);
      plantStaleLock(join(dir, '.index.json.lock'), kinds[round % kinds.length]!);
      const names = Array.from({ length: 8 }, (_, i) => `tag-${i}`);
      const results = await Promise.all(names.map((name) => node(TAGGER, [dir, name])));
      for (const r of results) assert.equal(r.status, 0, `round ${round} (${kinds[round % kinds.length]}): ${r.stderr}`);
      const tags = (await layout.readIndex()).manifests.map((d) => d.annotations?.[Annotation.RefName]).sort();
      assert.deepEqual(tags, ['seed', ...names].sort(), `round ${round} (${kinds[round % kinds.length]})`);
      assert.equal(existsSync(join(dir, '.index.json.lock')), false, 'released');
    }
  });

  it('an empty lock file, an empty lock directory or a half-written owner never wedge a write', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const later = () => Date.now() + 60_000; // a minute on: a heartbeat this old is stale (30 s)
    for (const plant of ['empty-file', 'empty-dir', 'half-owner'] as const) {
      const dir = join(tmp.path, plant);
      await seededLayout(dir);
      const lockPath = join(dir, '.index.json.lock');
      if (plant === 'empty-file') writeFileSync(lockPath, '');
      else mkdirSync(lockPath);
      if (plant === 'half-owner') writeFileSync(join(lockPath, 'owner'), '{"token":"x","pi');
      // Just written, not old: only the (injected) clock says it has been there a minute. No
      // time to wait for a live owner either: a wait would be ELOCKED, not a slow pass.
      const layout = await OciLayout.open(dir, { liveness: { now: later, timeoutMs: 0 } });
      const seed = await layout.resolve('seed');
      await layout.tag(seed, 'after');
      await layout.close();
      assert.equal((await layout.resolve('after')).digest, seed.digest);
      assert.equal(existsSync(lockPath), false);
    }
  });

  it('a fresh lock of a live owner is waited for, and ELOCKED names its owner after the timeout', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const lockPath = join(tmp.path, 'x.lock');
    let release!: () => void;
    let taken!: () => void;
    const acquired = new Promise<void>((r) => { taken = r; });
    const held = withLock(lockPath, () => new Promise<void>((r) => { release = r; taken(); }));
    await acquired;
    await assert.rejects(withLock(lockPath, async () => {}, { timeoutMs: 100 }), (err: Error & { code?: string }) => err.code === 'ELOCKED' && /locked by another ocipush process \(pid \d+ on /.test(err.message));
    release();
    await held;
    await withLock(lockPath, async () => {});
  });

  it('a lock moved aside by a breaker that found the place taken when it came to put it back is removed by its owner on release', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const lockPath = join(tmp.path, 'x.lock');
    await withLock(lockPath, async () => {
      // A breaker that judged an earlier lock stale moves this one to that lock's grave, and
      // another process takes the place before the breaker can put this one back.
      renameSync(lockPath, `${lockPath}.dead-earlier-owner`);
      mkdirSync(lockPath);
      writeFileSync(join(lockPath, 'owner'), JSON.stringify(currentOwner('next-owner')));
    });
    assert.deepEqual(readdirSync(tmp.path).filter((name) => name.includes('.dead-')), [], 'no grave of this lock left');
    assert.equal((await judge(lockPath))?.id, 'next-owner', 'the other lock stays');
  });

  it('a breaker that judged an old lock stale never removes the fresh lock that replaced it', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const lockPath = join(tmp.path, 'x.lock');
    plantStaleLock(lockPath, 'foreign-owner');
    const stale = (await judge(lockPath))!;
    // Process A breaks it and takes the lock; B, which judged the same stale lock, comes second.
    await breakLock(lockPath, stale);
    await withLock(lockPath, async () => {
      const fresh = (await judge(lockPath))!;
      assert.notEqual(fresh.id, stale.id);
      await breakLock(lockPath, stale); // B: its rename meets A's grave and fails
      assert.equal((await judge(lockPath))?.id, fresh.id, 'the fresh lock is still in place');
      // Even with A's grave swept early, B puts back what it moved.
      for (const name of readdirSync(tmp.path)) if (name.includes('.dead-')) spawnSync('rm', ['-rf', join(tmp.path, name)]);
      await breakLock(lockPath, stale);
      assert.equal((await judge(lockPath))?.id, fresh.id, 'put back');
    });
  });

  it('Ctrl-C or SIGTERM while waiting for another\'s lock leaves no candidate beside it, and the layout as it was', async (t) => {
    const tmp = await tempDir();
    t.after(tmp.cleanup);
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const [source, layout] = [join(tmp.path, 'source'), join(tmp.path, 'layout')];
    for (const dir of [source, layout]) assert.equal(spawnSync(process.execPath, [CLI, 'build', rootfs, '--layout', dir, '--tag', 'app', '-q']).status, 0);
    const before = snapshotDir(layout);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => { stop = resolve; });
      // This process holds the index lock; the copy waits for it with its candidate in place.
      let held!: () => void;
      const taken = new Promise<void>((resolve) => { held = resolve; });
      const holding = withLock(join(layout, '.index.json.lock'), () => { held(); return stopped; });
      await taken;
      const child = spawn(process.execPath, [CLI, 'copy', `oci:${source}:app`, `oci:${layout}:copied`, '-q'], { stdio: 'ignore' });
      const forget = killOnExit(child);
      const closed = new Promise<number | null>((resolve) => child.once('close', (code) => { forget(); resolve(code); }));
      const candidates = () => readdirSync(layout).filter((n) => n.startsWith(`.index.json.lock.new-${child.pid}-`));
      // Until the copy waits with its candidate (polled for the state, not timed); a copy that ends first fails below.
      while (candidates().length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
      child.kill(signal);
      assert.equal(await closed, signal === 'SIGINT' ? 130 : 143);
      assert.deepEqual(candidates(), [], `${signal}: no candidate left`);
      stop();
      await holding;
      assert.deepEqual(snapshotDir(layout), before, `${signal}: the layout as it was`);
    }
  });
});
