import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OcipushError, fromWriteError } from '../errors.js';
import { interruptedBy, onSignalExit, trackTemp } from './cleanup.js';
import { currentOwner, describeOwner, keepAlive, ownerGone, parseOwner, type LivenessOptions, type Owner } from './liveness.js';
import { isLockName } from './lock-names.js';

/**
 * An exclusive lock between processes, which may live in different containers sharing the
 * directory through a volume.
 *
 * The lock is a directory holding an `owner` file ({@link Owner}, its mtime a heartbeat). It is
 * built whole under a private name (`LOCK.new-TOKEN`) and renamed into place: rename of a
 * directory fails when the place holds a non-empty directory or a file, so exactly one process
 * gets it, and nobody ever sees an empty or half-written lock.
 *
 * A lock whose owner is gone (see liveness.ts) is broken by renaming it to `LOCK.dead-ID`, ID
 * being the token read from it (or its inode, when it has none: an empty or half-written file of
 * an older ocipush, judged by its age). When several processes judge the same lock stale at once,
 * the first rename moves it; the others then try to move whatever is in place now (a fresh lock)
 * onto the same `LOCK.dead-ID`, which exists and is not empty, so their rename fails and the fresh
 * lock stays. Graves are kept for a stale period for that reason (then the next taker of the
 * lock, or gc, which reports them, removes them); should one be gone early, the
 * breaker checks what it moved and puts a lock that is not the one it judged back at once. If a
 * third process took the place meanwhile, the moved lock stays in the grave; its owner loses it
 * (assertHeld fails) and removes it from there when it releases.
 */

export interface LockOptions extends LivenessOptions {
  /** How long to wait for a live owner before failing with ELOCKED (default 60 s). */
  timeoutMs?: number;
  /** Leave the graves and dead candidates beside the lock when taking it: gc lists, reports and removes them itself (lockLeftovers). */
  keepLeftovers?: boolean;
}

export interface HeldLock {
  /** Fails (ELOCKED) if the lock was taken away meanwhile (its owner judged gone): call before committing. */
  assertHeld(): Promise<void>;
}

const OWNER = 'owner';
/**
 * The owner in the name of an empty file (`owner-<base64url JSON>`), when the disk has no room for
 * the owner's bytes: a tmpfs full to its last page still takes a directory and an empty file, and
 * gc, which is there to empty it, must be able to lock. (An older ocipush judges such a lock by its
 * directory's age.)
 */
const NAMED_OWNER = 'owner-';

export async function withLock<T>(lockPath: string, fn: (lock: HeldLock) => Promise<T>, options: LockOptions | number = {}): Promise<T> {
  const opts: LockOptions = typeof options === 'number' ? { timeoutMs: options } : options;
  const release = await acquire(lockPath, opts);
  try {
    return await fn({ assertHeld: () => release.assertHeld() });
  } finally {
    await release.release();
  }
}

export interface Judged {
  /** The owner's token, or `ino-N` for a lock without a readable owner. */
  id: string;
  owner?: Owner;
  mtimeMs: number;
}

async function acquire(lockPath: string, options: LockOptions): Promise<{ release(): Promise<void>; assertHeld(): Promise<void> }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const owner = currentOwner();
  const candidate = `${lockPath}.new-${owner.token}`;
  let ownerFile: string;
  // Ctrl-C while waiting for another's lock takes the candidate with it, as it does a temp file.
  const untrack = trackTemp(candidate);
  try {
    await mkdir(candidate);
    ownerFile = await writeOwner(candidate, owner);
  } catch (err) {
    await rm(candidate, { recursive: true, force: true }).catch(() => {});
    untrack();
    throw fromWriteError(err, lockPath, 'cannot lock');
  }
  const stopBeating = keepAlive(join(candidate, ownerFile));
  let delay = 5;
  let last: Judged | undefined;
  try {
    for (;;) {
      // The process is ending on a signal (waiting for its uploads' cancels): no layout change
      // starts now, so the layout stays as the interrupted line says.
      const signal = interruptedBy();
      if (signal) throw new OcipushError('EABORTED', `${lockPath}: interrupted by ${signal}`, { path: lockPath });
      try {
        await rename(candidate, lockPath);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR' && code !== 'EISDIR') throw fromWriteError(err, lockPath, 'cannot lock');
      }
      const judged = await judge(lockPath);
      if (!judged) continue; // released meanwhile
      last = judged;
      if (ownerGone(judged.owner, judged.mtimeMs, options)) {
        await breakLock(lockPath, judged, options);
        continue;
      }
      if (Date.now() > deadline) {
        throw new OcipushError('ELOCKED', `${lockPath}: locked by another ocipush process (${describeOwner(last.owner)}) for over ${Math.round(timeoutMs / 1000)} s`, { path: lockPath });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 200);
    }
  } catch (err) {
    stopBeating();
    await rm(candidate, { recursive: true, force: true }).catch(() => {});
    untrack();
    throw err;
  }
  untrack();
  stopBeating();
  const stopHeld = keepAlive(join(lockPath, ownerFile));
  // Ctrl-C or SIGTERM ends the process without the release below: the lock goes with it, so that a
  // process in another container (which cannot see this PID die) does not wait out the heartbeat.
  const forgetAtSignal = onSignalExit(() => releaseAtExit(lockPath, owner.token));
  if (!options.keepLeftovers) await sweepGraves(lockPath, options);
  const held = async () => (await judge(lockPath))?.id === owner.token;
  return {
    async assertHeld() {
      if (!(await held())) throw new OcipushError('ELOCKED', `${lockPath}: the lock was taken over by another process while held (this process was judged gone)`, { path: lockPath });
    },
    async release() {
      stopHeld();
      forgetAtSignal();
      if (await held()) {
        const grave = `${lockPath}.dead-${owner.token}`;
        const moved = await rename(lockPath, grave).then(() => true, () => false);
        if (moved && (await judge(grave))?.id === owner.token) {
          await rm(grave, { recursive: true, force: true }).catch(() => {});
          return;
        }
        if (moved) await rename(grave, lockPath).catch(() => {});
      }
      // The lock in place is another's (not ours to remove), but ours may lie in a grave: moved
      // aside by a breaker that judged an earlier lock stale and found the place taken when it
      // came to put ours back. Nobody else removes it before the stale period.
      await removeOwnGraves(lockPath, owner.token);
    },
  };
}

/** The release of a process a signal is ending (synchronous, best effort): the lock, if still this owner's, moved to its grave and removed. */
function releaseAtExit(lockPath: string, token: string): void {
  try {
    const named = namedOwner(readdirSync(lockPath));
    const text = named ? ownerInName(named) : readFileSync(join(lockPath, OWNER), 'utf8');
    if (parseOwner(text)?.token !== token) return;
    const grave = `${lockPath}.dead-${token}`;
    renameSync(lockPath, grave);
    rmSync(grave, { recursive: true, force: true });
  } catch { /* gone, or another's by now */ }
}

/** The empty file in a lock's directory whose name holds its owner (writeOwner's on a full disk), if any. */
function namedOwner(names: readonly string[]): string | undefined {
  return names.find((name) => name.startsWith(NAMED_OWNER));
}

/** The owner's JSON that a NAMED_OWNER file's name holds. */
function ownerInName(name: string): string {
  return Buffer.from(name.slice(NAMED_OWNER.length), 'base64url').toString();
}

/** Writes the owner file into a lock's directory; resolves to its name (NAMED_OWNER's when the disk is full). */
async function writeOwner(dir: string, owner: Owner): Promise<string> {
  const text = JSON.stringify(owner);
  try {
    await writeFile(join(dir, OWNER), text);
    return OWNER;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
    // The open may have made an empty `owner`, which would be read first.
    await rm(join(dir, OWNER), { force: true });
    const named = `${NAMED_OWNER}${Buffer.from(text).toString('base64url')}`; // read back by ownerInName
    await writeFile(join(dir, named), '').catch(() => { throw err; });
    return named;
  }
}

/** Who holds the lock and since when it was last seen alive; undefined when there is none. */
export async function judge(path: string): Promise<Judged | undefined> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return undefined;
  }
  if (st.isDirectory()) {
    try {
      const named = namedOwner(await readdir(path));
      const file = join(path, named ?? OWNER);
      const [text, ownerStat] = await Promise.all([named ? ownerInName(named) : readFile(file, 'utf8'), stat(file)]);
      const owner = parseOwner(text);
      if (owner) return { id: owner.token, owner, mtimeMs: ownerStat.mtimeMs };
    } catch { /* no owner file: judged by the directory's age */ }
  }
  // An empty or half-written lock (a file of an older ocipush, killed between creating and writing it).
  return { id: `ino-${st.ino}`, mtimeMs: st.mtimeMs };
}

/** Breaks the lock `judged` stale, and nothing else: a lock that took its place meanwhile stays. Exported for tests. */
export async function breakLock(lockPath: string, judged: Judged, options: LivenessOptions = {}): Promise<void> {
  const grave = `${lockPath}.dead-${judged.id}`;
  try {
    await rename(lockPath, grave);
  } catch {
    return; // gone, or already broken by another process (its grave is in the way)
  }
  const moved = await judge(grave);
  if (moved?.id !== judged.id) {
    // The lock in place was no longer the one judged (its grave had been swept): give it back.
    await rename(grave, lockPath).catch(() => {});
    return;
  }
  // The grave's mtime says when it was broken, for sweepGraves.
  const now = new Date((options.now ?? Date.now)());
  await utimes(grave, now, now).catch(() => {});
}

/** Removes the graves that hold this owner's own lock. */
async function removeOwnGraves(lockPath: string, token: string): Promise<void> {
  for (const { path, isGrave } of await besideLock(lockPath)) {
    if (isGrave && (await judge(path))?.id === token) await rm(path, { recursive: true, force: true }).catch(() => {});
  }
}

/** Removes graves older than the stale period, and candidates whose owner is gone. */
async function sweepGraves(lockPath: string, options: LivenessOptions): Promise<void> {
  for (const path of (await lockLeftovers(lockPath, options)).gone) await rm(path, { recursive: true, force: true }).catch(() => {});
}

export interface LockLeftovers {
  /** Graves older than the stale period, and candidates whose owner is gone: nobody needs them any more. */
  gone: string[];
  /** Graves of locks broken within the stale period: kept, as another process may have judged the same lock stale at the same moment. */
  young: string[];
}

/** What killed owners left beside a lock, for whoever removes it (any process may: graves are judged by their age alone). */
export async function lockLeftovers(lockPath: string, options: LivenessOptions = {}): Promise<LockLeftovers> {
  const found: LockLeftovers = { gone: [], young: [] };
  for (const { path, isGrave } of await besideLock(lockPath)) {
    // A grave's mtime says when it was broken (breakLock): judged by that alone.
    const judged = isGrave ? await lstat(path).then((s) => ({ mtimeMs: s.mtimeMs, owner: undefined }), () => undefined) : await judge(path);
    if (!judged) continue;
    if (ownerGone(judged.owner, judged.mtimeMs, options)) found.gone.push(path);
    else if (isGrave) found.young.push(path);
  }
  return found;
}

/** The graves (`LOCK.dead-…`) and candidates (`LOCK.new-…`) beside a lock; none if its directory cannot be read. */
async function besideLock(lockPath: string): Promise<{ path: string; isGrave: boolean }[]> {
  const dir = dirname(lockPath);
  const base = basename(lockPath);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((name) => name !== base && isLockName(name, base))
    .map((name) => ({ path: join(dir, name), isGrave: name.startsWith(`${base}.dead-`) }));
}

export { isLockName };
