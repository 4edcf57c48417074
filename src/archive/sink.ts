import { fstatSync } from 'node:fs';
import { lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { OcipushError, fromWriteError } from '../errors.js';
import { removeKilledTemps, tempNameFor } from '../content/atomic.js';
import { trackTemp } from '../content/cleanup.js';
import { keepAlive } from '../content/liveness.js';

/**
 * Where an archive goes. A file is written under a hidden temp name beside the target and renamed
 * only once complete, so a failed or interrupted export never leaves half an archive under the
 * name a user (or a `docker load` in a script) will read. While it is written its mtime is kept
 * fresh (a heartbeat), so the next write of the same file can tell one a killed process left.
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

/** `what` names the file as the user gave it (`-o FILE`, `docker-archive:FILE`). */
export async function openFileSink(target: string, what = `-o ${target}`): Promise<ArchiveSink> {
  const named = resolve(target);
  // stdout by another name (/dev/stdout, /dev/fd/1) is written as stdout is: a socket there (a
  // Node parent's stdio) cannot be opened again by name (ENXIO), and nothing is renamed over it.
  if (await isStdout(named)) return stdoutSink();
  // A symbolic link (/dev/stdout, /dev/fd/1, a link to where archives are kept) is written
  // through, as a shell's > writes it: renaming over it would replace the link itself (as root,
  // /dev/stdout became a regular file). One that leads to no file (a pipe's /proc/self/fd/1, a
  // link to a file yet to be) is written in place.
  const link = (await lstat(named).catch(() => undefined))?.isSymbolicLink();
  const path = link ? await realpath(named).catch(() => undefined) : named;
  if (path === undefined) return openSpecialFileSink(named);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new OcipushError('EUSAGE', `${what}: is a directory, expected a file name`);
  // A device or fifo (/dev/null, a named pipe) is written in place: renaming a temp file over it
  // would replace the device node itself.
  if (existing && !existing.isFile()) return openSpecialFileSink(path);
  await removeKilledTemps(path);
  const tmp = tempNameFor(path);
  const untrack = trackTemp(tmp);
  // Opening here, before any byte of the archive exists, reports an unwritable directory at once.
  const fh = await open(tmp, 'wx', 0o644).catch((err) => {
    untrack();
    throw fromWriteError(err, path);
  });
  const stopBeating = keepAlive(tmp);
  const stream = fh.createWriteStream({ highWaterMark: 1 << 20 });
  const closed = new Promise<void>((ok) => stream.once('close', ok));
  let done = false;
  const abort = async () => {
    done = true;
    stopBeating();
    if (!stream.destroyed) stream.destroy();
    await closed;
    await rm(tmp, { force: true }).catch(() => {});
    untrack();
  };
  const commit = async () => {
    if (done) throw new OcipushError('EIO', `archive ${path} was already closed`);
    done = true;
    stopBeating();
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

/**
 * Whether `path` is where this process's stdout goes (/dev/stdout, /dev/fd/1, or the pipe or file
 * stdout is open on): the same device and inode. An archive written there is followed by nothing,
 * so a command's result goes to stderr instead (`| podman load`, `| gzip` would read it as bytes
 * after the archive's end).
 */
export async function isStdout(path: string): Promise<boolean> {
  let out: { dev: number; ino: number };
  try {
    out = fstatSync(1);
  } catch {
    return false;
  }
  const named = await stat(path).catch(() => undefined);
  return named !== undefined && named.dev === out.dev && named.ino === out.ino;
}

/** stdout: nothing to rename; a failed export leaves a truncated stream the reader will reject. */
export function stdoutSink(stdout: Writable = process.stdout): ArchiveSink {
  return { stream: stdout, commit: async () => {}, abort: async () => {} };
}
