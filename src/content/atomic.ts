import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { fromSystemError } from '../errors.js';
import { trackTemp } from './cleanup.js';

/** A hidden temp name beside `target`, so the final rename stays on one file system. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to a temp name, syncs it and renames it over `target`: readers never see half a
 * file. The temp file is beside the target, or in `tempDir` (a layout's ingest session, on the same
 * file system), so a process killed meanwhile leaves it where the next writer clears it.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string, tempDir?: string, mode = 0o644): Promise<void> {
  const tmp = tempDir === undefined ? tempNameFor(target) : join(tempDir, basename(tempNameFor(target)));
  const untrack = trackTemp(tmp);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw fromSystemError(err, target, 'cannot write');
  } finally {
    untrack();
  }
}

/**
 * `mkdir -p` whose error names the real cause: Node's recursive mkdir reports ENOENT when a
 * component cannot be made on a read-only file system (or without permission); this makes the
 * missing components one by one to find the EROFS or EACCES, and names the directory.
 */
export async function makeDirectory(path: string, what = 'cannot create'): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(err, path, what);
  }
  const missing: string[] = [];
  let dir = path;
  while (!(await stat(dir).then(() => true, () => false))) {
    missing.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, path, what);
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
