import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fromWriteError } from '../errors.js';
import { trackTemp } from './cleanup.js';
import { makeDirectory } from './atomic.js';
import { withLock, type LockOptions } from './lock.js';
import { currentOwner, keepAlive, ownerGone, parseOwner, tempWriterGone, type LivenessOptions, type Owner } from './liveness.js';
import { CACHE_DIR, EXTRACT_PREFIX, INDEX_LOCK, INGEST_DIR, LEGACY_TEMP_MAX_AGE_MS, PRIVATE_DIR, TEMP_NAME } from './layout-files.js';

/**
 * Where a process writing into a layout keeps what is not finished yet (blobs being written or
 * staged, temp files): `<layout>/.ocipush/ingest/<token>/`, with an `owner` file whose mtime is
 * the process's heartbeat (liveness.ts). Finished content moves out by rename (same file system).
 *
 * Opening a session clears the sessions whose owner is gone (a build killed with SIGKILL, a
 * container stopped): every later write into the layout cleans up after a dead one. A session is
 * registered under the index lock, so `gc`, which holds that lock, sees every writer that could
 * still add a blob, and no writer starts in the middle of a gc.
 */
export class IngestSession {
  private closed = false;

  private constructor(readonly root: string, readonly dir: string, readonly owner: Owner, private readonly stop: () => void, private readonly untrack: () => void) {}

  static async open(root: string, options: LockOptions = {}): Promise<IngestSession> {
    const ingest = join(root, INGEST_DIR);
    const owner = currentOwner();
    const dir = join(ingest, owner.token);
    const building = join(ingest, `.new-${owner.token}`);
    const untrack = trackTemp(dir);
    const untrackBuilding = trackTemp(building);
    try {
      await makeDirectory(root);
      await withLock(join(root, INDEX_LOCK), async () => {
        // Built whole under a private name, so a session directory always names its owner.
        for (let attempt = 0; ; attempt++) {
          try {
            await mkdir(building, { recursive: true });
            await writeFile(join(building, 'owner'), JSON.stringify(owner));
            await rename(building, dir);
            return;
          } catch (err) {
            // A session closing at the same moment removed the empty ingest directory: again.
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw fromWriteError(err, ingest, 'cannot write to');
          }
        }
      }, options);
    } catch (err) {
      untrack();
      await rm(building, { recursive: true, force: true }).catch(() => {});
      throw err;
    } finally {
      untrackBuilding();
    }
    const session = new IngestSession(root, dir, owner, keepAlive(join(dir, 'owner')), untrack);
    removeAtExit(dir);
    // Not blobs/: listing it costs every writer time in proportion to the blobs held (80 ms at
    // 50,000), for temp files only versions long gone left there; gc clears those.
    await sweepLayout(root, { ...options, blobs: false });
    return session;
  }

  /** Removes the session's directory and whatever is still in it; then the ingest area, if empty. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    openSessions.delete(this.dir);
    this.untrack();
    await removeIfEmpty(this.root);
  }
}

/**
 * A session whose owner cannot be looked up by PID (another container) is gone after this long
 * without a heartbeat: longer than a lock's 30 s, as removing a live build's session fails that
 * build, while keeping a dead one a little longer only keeps its disk space.
 */
export const SESSION_STALE_MS = 10 * 60_000;

export interface SessionInfo {
  path: string;
  owner?: Owner;
  /** The owner's last heartbeat (ms since the epoch). */
  mtimeMs: number;
  gone: boolean;
}

/** The sessions of a layout, each judged live or gone. */
export async function listSessions(root: string, options: LivenessOptions = {}): Promise<SessionInfo[]> {
  const ingest = join(root, INGEST_DIR);
  let names: string[];
  try {
    names = await readdir(ingest);
  } catch {
    return [];
  }
  const sessions: SessionInfo[] = [];
  for (const name of names) {
    const path = join(ingest, name);
    let owner: Owner | undefined;
    let mtimeMs: number;
    try {
      const file = join(path, 'owner');
      const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      owner = parseOwner(text);
      mtimeMs = st.mtimeMs;
    } catch {
      // No owner file (yet, or a stray entry): judged by its age.
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      mtimeMs = st.mtimeMs;
    }
    sessions.push({ path, ...(owner ? { owner } : {}), mtimeMs, gone: ownerGone(owner, mtimeMs, { ...options, staleMs: options.staleMs ?? SESSION_STALE_MS }) });
  }
  return sessions;
}

/**
 * Removes what writers that are gone left in the layout: their sessions, and the temp files left
 * beside blobs by older versions (unless `blobs` is false), at the root, in `.ocipush/` and in the
 * caches, each judged by the PID its name carries as `tempWriterGone` judges it.
 * Returns the paths removed (with `dryRun`, those it would remove, removing nothing).
 */
export async function sweepLayout(root: string, options: LivenessOptions & { dryRun?: boolean; blobs?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  const remove = (path: string) => (options.dryRun ? Promise.resolve() : rm(path, { recursive: true, force: true }).catch(() => {}));
  for (const s of await listSessions(root, options)) {
    if (!s.gone) continue;
    await remove(s.path);
    removed.push(s.path);
  }
  if (removed.length > 0 && !options.dryRun) await removeIfEmpty(root);
  const now = (options.now ?? Date.now)();
  // ocipush's own directory too: its notes are written through temp files beside them; and the
  // caches' (a killed build -f's base tree can be megabytes, trimmed only when another is written).
  const dirs = [root, join(root, PRIVATE_DIR)];
  if (options.blobs !== false) for (const alg of await readdir(join(root, 'blobs')).catch(() => [] as string[])) dirs.push(join(root, 'blobs', alg));
  for (const cache of await readdir(join(root, CACHE_DIR)).catch(() => [] as string[])) dirs.push(join(root, CACHE_DIR, cache));
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const writer = TEMP_NAME.exec(name)?.[1];
      if (writer === undefined && !(dir === root && name.startsWith(EXTRACT_PREFIX))) continue;
      const path = join(dir, name);
      const st = await lstat(path).catch(() => undefined);
      // A temp file names its writer's PID: once that process is gone (and the file untouched for
      // the stale period, against another container's PID) it goes at once, not an hour later.
      if (!st || (writer === undefined ? now - st.mtimeMs <= LEGACY_TEMP_MAX_AGE_MS : !tempWriterGone(Number(writer), st.mtimeMs, now))) continue;
      await remove(path);
      removed.push(path);
    }
  }
  return removed;
}

/** The ingest area and ocipush's directory, once nobody uses them (a session opening meanwhile makes them again). */
async function removeIfEmpty(root: string): Promise<void> {
  await rmdir(join(root, INGEST_DIR)).catch(() => {});
  await rmdir(join(root, PRIVATE_DIR)).catch(() => {});
}

const openSessions = new Set<string>();

/** A session left open when the process exits (a library user that never closed its layout) goes with it. */
function removeAtExit(dir: string): void {
  if (openSessions.size === 0 && !exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const d of openSessions) {
        try {
          rmSync(d, { recursive: true, force: true });
          // The ingest area and .ocipush, when this was the last session in them.
          rmdirSync(dirname(d));
          rmdirSync(dirname(dirname(d)));
        } catch { /* in use by another process, or exiting */ }
      }
    });
  }
  openSessions.add(dir);
}
let exitHook = false;
