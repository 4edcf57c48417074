import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { compressionOf } from '../layer/layer-source.js';
import { SNIFF_BYTES } from '../layer/compress/decompressor.js';
import { decompressed } from '../layer/decompress-stream.js';

/** Bytes of an archive's start that tell a compressed one from a tar (a zstd skippable frame's header is the longest). */
export const HEAD_BYTES = SNIFF_BYTES;

/** Whether `head` starts as a compressed stream does: gzip, or what docker load also takes (xz, bzip2, zstd). */
export function isCompressed(head: Buffer): boolean {
  return compressionOf(head) !== 'none';
}

/**
 * An archive that cannot be read by offset where it is — a pipe (`docker-archive:/dev/stdin`,
 * `<(…)`, a fifo) or a compressed tar (`docker save | gzip`, `| xz`, `| zstd`, `| bzip2`) —
 * copied once into a temp file, decompressed on the way, as podman load and skopeo's
 * oci-archive do (xz, bzip2, and zstd on Node 20, by their commands when installed). The temp file is unlinked
 * as soon as it is open: its bytes stay readable through the returned handle and vanish with it,
 * so nothing is left behind however the process ends.
 */
export async function spoolArchive(source: FileHandle, file: string): Promise<FileHandle> {
  const path = join(tmpdir(), `ocipush-archive-${process.pid}-${randomBytes(6).toString('hex')}.tar`);
  let spooled: FileHandle | undefined;
  try {
    spooled = await open(path, 'wx+', 0o600).catch((err: unknown) => { throw fromSystemError(err, tmpdir(), `cannot copy ${file} into`); });
    await rm(path, { force: true });
    // Streams over the bare descriptors: a FileHandle's own streams keep it from closing.
    const chunks = createReadStream('', { fd: source.fd, autoClose: false })[Symbol.asyncIterator]();
    // The first bytes tell a compressed stream from a tar (a pipe may hand them over one at a time).
    let head = Buffer.alloc(0);
    let ended = false;
    while (head.length < HEAD_BYTES && !ended) {
      const next = await chunks.next();
      if (next.done) ended = true;
      else head = Buffer.concat([head, next.value as Buffer]);
    }
    const compression = compressionOf(head);
    const all = Readable.from((async function* () {
      if (head.length > 0) yield head;
      if (ended) return;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value as Buffer;
      }
    })());
    const out = createWriteStream('', { fd: spooled.fd, autoClose: false });
    try {
      await pipeline(decompressed(all, compression, file), out);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code?.startsWith('Z_')) throw new OcipushError('EINVALID', `${file}: not a readable ${compression}-compressed archive (${e.message})`);
      // The in-process zstd reader names no file ("truncated zstd data …").
      if (err instanceof OcipushError && !err.message.includes(file)) throw new OcipushError(err.code, `${file}: ${err.message}`, { ...err.details, cause: err });
      throw fromSystemError(err, e?.syscall === 'write' ? tmpdir() : file, e?.syscall === 'write' ? `cannot copy ${file} into` : 'cannot read the archive');
    }
    return spooled;
  } catch (err) {
    await spooled?.close().catch(() => {});
    await rm(path, { force: true }).catch(() => {});
    throw err instanceof OcipushError ? err : fromSystemError(err, file, 'cannot read the archive');
  }
}
