import { open, rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { OcipushError, fromWriteError } from '../errors.js';
import { tempNameFor } from '../content/atomic.js';
import { trackTemp } from '../content/cleanup.js';

/**
 * Where an archive goes. A file is written under a hidden temp name beside the target and renamed
 * only once complete, so a failed or interrupted export never leaves half an archive under the
 * name a user (or a `docker load` in a script) will read.
 */
export interface ArchiveSink {
  readonly stream: Writable;
  /** The final path, or undefined for stdout. */
  readonly path?: string;
  /** Called after the stream finished without error: makes the file visible under its name. */
  commit(): Promise<void>;
  /** Removes whatever was written. Safe to call twice. */
  abort(): Promise<void>;
}

export async function openFileSink(target: string): Promise<ArchiveSink> {
  const path = resolve(target);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new OcipushError('EUSAGE', `-o ${target}: is a directory, expected a file name`);
  // A device or fifo (/dev/null, a named pipe, /dev/stdout) is written in place: renaming a temp
  // file over it would replace the device node itself.
  if (existing && !existing.isFile()) return openSpecialFileSink(path);
  const tmp = tempNameFor(path);
  const untrack = trackTemp(tmp);
  // Opening here, before any byte of the archive exists, reports an unwritable directory at once.
  const fh = await open(tmp, 'wx', 0o644).catch((err) => {
    untrack();
    throw fromWriteError(err, path);
  });
  const stream = fh.createWriteStream({ highWaterMark: 1 << 20 });
  const closed = new Promise<void>((ok) => stream.once('close', ok));
  let done = false;
  const abort = async () => {
    done = true;
    if (!stream.destroyed) stream.destroy();
    await closed;
    await rm(tmp, { force: true }).catch(() => {});
    untrack();
  };
  const commit = async () => {
    if (done) throw new OcipushError('EIO', `archive ${path} was already closed`);
    done = true;
    try {
      await closed;
      const sync = await open(tmp, 'r+');
      try { await sync.sync(); } finally { await sync.close(); }
      await rename(tmp, path);
      untrack();
    } catch (err) {
      done = false;
      await abort();
      throw fromWriteError(err, path);
    }
  };
  return { stream, path, commit, abort };
}

async function openSpecialFileSink(path: string): Promise<ArchiveSink> {
  const fh = await open(path, 'w').catch((err) => { throw fromWriteError(err, path); });
  const stream = fh.createWriteStream({ highWaterMark: 1 << 20 });
  const closed = new Promise<void>((ok) => stream.once('close', ok));
  const close = async () => {
    if (!stream.destroyed) stream.destroy();
    await closed;
  };
  return { stream, path, commit: close, abort: close };
}

/** stdout: nothing to rename; a failed export leaves a truncated stream the reader will reject. */
export function stdoutSink(stdout: Writable = process.stdout): ArchiveSink {
  return { stream: stdout, commit: async () => {}, abort: async () => {} };
}
