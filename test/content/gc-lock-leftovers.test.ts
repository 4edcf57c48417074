import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { collectGarbage } from '../../src/content/gc.js';
import { withLock } from '../../src/content/lock.js';
import { killOnExit } from '../support/exit-cleanup.js';
import { REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk } from '../cli/registry-support.js';

const LOCK_JS = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'content', 'lock.js')).href;
/**
 * The clock the locks are broken by: in the future, so that the CLI's gc, on the real clock, sees
 * their graves as just made whenever it runs; the library's gc is told the time.
 */
const T0 = Date.parse('2100-01-01T00:00:00Z');
const STALE_MS = 30_000;

/** A process that takes the lock at argv's last path (waiting as long as it takes), says `held`, and holds it. */
function lockHolder(lockPath: string): { child: ChildProcess; held: Promise<void> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { withLock } from '${LOCK_JS}';
setInterval(() => {}, 1000);
await withLock(process.argv.at(-1), () => { process.stdout.write('held\\n'); return new Promise(() => {}); }, { timeoutMs: 1e9 });`, lockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  killOnExit(child);
  return { child, held: new Promise((resolve) => child.stdout!.once('data', () => resolve())) };
}

async function killed(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

/** The names beside the layout's locks: graves (`.dead-`) and candidates (`.new-`). */
function lockNames(dir: string): string[] {
  return [...readdirSync(dir).map((n) => n), ...(existsSync(join(dir, '.ocipush-cache')) ? readdirSync(join(dir, '.ocipush-cache')).map((n) => `.ocipush-cache/${n}`) : [])]
    .filter((n) => /\.lock($|\.)/.test(n)).sort();
}

/**
 * A lock broken because its owner was killed is left in a grave (`LOCK.dead-ID`) for the stale
 * period, so that a second process that judged it at the same moment finds the grave in its way
 * (lock.ts). gc says which graves it leaves, and once they are older than that, removes them with
 * the candidates (`LOCK.new-TOKEN`) killed waiters left, beside every lock of the layout, and
 * says so: taking its own lock no longer removes them unsaid, nor leaves those of the other locks.
 */
test('gc reports the graves of locks killed processes held, and removes them once 30 s old, with killed waiters\' candidates', async (t) => {
  requireTool('umoci');
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'f'), 'f\n');
  const dir = join(tmp.path, 'layout');
  assertOk(runCli(['build', rootfs, '--layout', dir, '--tag', 'app', '-q']));
  const indexLock = join(dir, '.index.json.lock');
  const pruneLock = join(dir, '.ocipush-cache', 'prune.lock');
  mkdirSync(join(dir, '.ocipush-cache'), { recursive: true });

  // A build killed while holding the index lock, another killed while waiting for it, and one
  // killed while pruning the layer cache.
  const holder = lockHolder(indexLock);
  await holder.held;
  const waiter = lockHolder(indexLock);
  while (!readdirSync(dir).some((n) => n.startsWith('.index.json.lock.new-'))) await new Promise((r) => setTimeout(r, 20));
  const pruner = lockHolder(pruneLock);
  await pruner.held;
  for (const p of [waiter, holder, pruner]) await killed(p.child);
  const [candidate] = readdirSync(dir).filter((n) => n.startsWith('.index.json.lock.new-'));
  // The next build's prune breaks the cache's lock.
  await withLock(pruneLock, async () => {}, { now: () => T0 });
  const [pruneGrave] = lockNames(dir).filter((n) => n.startsWith('.ocipush-cache/prune.lock.dead-'));
  assert.ok(pruneGrave, lockNames(dir).join(', '));

  const layout = await OciLayout.open(dir);
  // gc breaks the index lock: its grave is kept, and said so; the dead waiter's candidate goes.
  const first = await collectGarbage(layout, { now: () => T0 });
  const [indexGrave] = lockNames(dir).filter((n) => n.startsWith('.index.json.lock.dead-'));
  assert.ok(indexGrave, lockNames(dir).join(', '));
  assert.deepEqual(first.leftovers, [join(dir, candidate!)]);
  assert.deepEqual(first.brokenLocks, [join(dir, indexGrave), join(dir, pruneGrave)]);
  assert.deepEqual(lockNames(dir), [indexGrave, pruneGrave].sort());

  // The CLI says the same, on its own clock (the graves were made "in 2100": just now for it).
  const cli = runCli(['gc', '--layout', dir, '--json']);
  assertOk(cli);
  assert.deepEqual((JSON.parse(cli.stdout) as { brokenLocks: string[]; leftovers: string[] }).brokenLocks, [join(dir, indexGrave), join(dir, pruneGrave)]);
  assert.match(cli.stderr, new RegExp(`^left ${join(dir, indexGrave).replace(/[.]/g, '\\.')} \\(the lock of a killed process, broken less than 30 s ago: kept that long in case another process is breaking it too; a gc after that removes it\\)$`, 'm'));
  // Its summary: what is left, since when, and which gc removes them (not "the next" one, which within those 30 s would not).
  const plain = runCli(['gc', '--layout', dir]);
  assertOk(plain);
  assert.match(plain.stdout, /; left 2 locks of killed processes, broken less than 30 s ago \(a gc after that removes them\)$/m);

  // 30 s later: a dry run lists them and removes nothing; gc removes them and says so.
  const later = () => T0 + STALE_MS + 1;
  const dry = await collectGarbage(layout, { now: later, dryRun: true });
  assert.deepEqual([dry.leftovers, dry.brokenLocks], [[join(dir, indexGrave), join(dir, pruneGrave)], []]);
  assert.deepEqual(lockNames(dir), [indexGrave, pruneGrave].sort());
  const done = await collectGarbage(layout, { now: later });
  assert.deepEqual([done.leftovers, done.brokenLocks], [[join(dir, indexGrave), join(dir, pruneGrave)], []]);
  assert.ok(done.leftoverBytes > 0);
  assert.deepEqual(lockNames(dir), []);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.') && n !== '.ocipush-cache'), [], 'nothing hidden left at the root');
  assert.equal(run('umoci', ['ls', '--layout', dir]).trim(), 'app');
  run('umoci', ['stat', '--image', `${dir}:app`]);
});
