import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { fromSystemError, fromWriteError } from '../errors.js';
import { trackTemp } from './cleanup.js';
import { tempWriterGone } from './liveness.js';

/** A hidden temp name beside `target`, so the final rename stays on one file system. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to a temp name, syncs it and renames it over `target`: readers never see half a
 * file. The temp file is beside the target, or in `tempDir` (a layout's ingest session, on the same
 * file system), so a process killed meanwhile leaves it where the next writer clears it.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string | Iterable<Uint8Array>, tempDir?: string, mode = 0o644, owner?: { uid: number; gid: number }): Promise<void> {
  // A device or fifo is written in place: renaming a temp file over it would replace the node
  // itself (as root) or fail (as anyone else), as archives' sinks know. So is a symbolic link
  // (--digest-file /dev/stdout, a link to /proc/self/fd/1; a link to a shared file): renamed over,
  // the link would become a file of its own, and the file behind it keep its old content (Go's
  // os.WriteFile, which skopeo's and crane's digest files use, writes through it so).
  const existing = await lstat(target).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory()) {
    await writeFile(target, data).catch((err: unknown) => { throw fromWriteError(err, target, 'cannot write'); });
    return;
  }
  // Beside the file, a killed writer's temp would stay for good (a config.json's, with the logins in it).
  if (tempDir === undefined) await removeKilledTemps(target);
  const tmp = tempDir === undefined ? tempNameFor(target) : join(tempDir, basename(tempNameFor(target)));
  const untrack = trackTemp(tmp);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    // Chunk by chunk (an SBOM), each from where the last ended.
    for (const chunk of typeof data === 'string' || data instanceof Uint8Array ? [data] : data) await fh.writeFile(chunk);
    // Given to its owner before it takes the place of the file: never a moment where they cannot read it.
    if (owner) await fh.chown(owner.uid, owner.gid);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw fromWriteError(err, target, 'cannot write');
  } finally {
    untrack();
  }
}

/**
 * Removes the temp files of `path` (`.NAME.tmp-PID-HEX`) that writers killed with SIGKILL left
 * (an OOM kill, a CI job's timeout): untouched for the lock stale period (an archive's writer
 * touches its own every 3 s; a small file's is written in a moment), and their PID gone (or, a
 * PID that means nothing here, another container's, untouched for an hour). A Ctrl-C'd writer
 * removes its own.
 */
export async function removeKilledTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length))?.[1] : undefined;
    if (pid === undefined) continue;
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (tempWriterGone(Number(pid), st.mtimeMs, now)) await rm(join(dir, name), { force: true }).catch(() => {});
  }
}

/**
 * `mkdir -p` whose error names the real cause and the directory. Not Node's recursive mkdir: it
 * reports ENOENT when a component cannot be made on a read-only file system (or without
 * permission), and never returns (a C++ loop at 100 % CPU, Node 20 to 24) where a parent exists
 * but answers ENOENT for any child, as /proc does. So the missing components are made one by one
 * from the deepest that exists, each with a plain mkdir, and the first failure is the answer.
 */
export async function makeDirectory(path: string, what = 'cannot create', mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    const found = await stat(dir).then((s) => s, (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw fromSystemError(err, path, what);
    });
    if (found) {
      if (!found.isDirectory()) throw fromSystemError(Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), dir, what);
      break;
    }
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const d of missing) {
    try {
      await mkdir(d, mode);
    } catch (err) {
      // EEXIST: made meanwhile by another process, as mkdir -p allows.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromWriteError(err, path, what);
    }
  }
}

/** A small file's text, or undefined when it does not exist (any other failure names the path and `what`). */
export async function readTextIfPresent(path: string, what = 'cannot read'): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromSystemError(err, path, what);
  }
}
