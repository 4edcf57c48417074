import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { fromSystemError } from '../errors.js';
import { trackTemp } from './cleanup.js';

/** A hidden temp name beside `target`, so the final rename stays on one file system. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to a temp name, syncs it and renames it over `target`: readers never see half a file. */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempNameFor(target);
  const untrack = trackTemp(tmp);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
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
