import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { OcipushError, fromSystemError } from '../errors.js';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Bytes of an archive's start that tell a compressed one from a tar. */
export const HEAD_BYTES = 6;

/** Whether `head` starts as gzip does (`docker save | gzip`, `podman save | gzip`). */
export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** What `docker load` also takes, which ocipush does not decompress: the tool that does. */
const OTHER_COMPRESSIONS: { magic: number[]; what: string; tool: string }[] = [
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'an xz', tool: 'xz' },
  { magic: [0x42, 0x5a, 0x68], what: 'a bzip2', tool: 'bzip2' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], what: 'a zstd', tool: 'zstd' },
];

/**
 * An archive compressed another way than gzip is named as such, with the command that makes it
 * a tar, rather than reported as a tar with a bad header checksum.
 */
export function refuseOtherCompression(head: Buffer, file: string, piped: boolean): void {
  const found = OTHER_COMPRESSIONS.find(({ magic }) => head.length >= magic.length && magic.every((b, i) => head[i] === b));
  if (found) {
    const how = piped ? `pipe it through ${found.tool} -dc` : `${found.tool} -dk ${file}`;
    throw new OcipushError('EUNSUPPORTED', `${file}: ${found.what}-compressed archive; ocipush reads a tar or a gzip-compressed tar: decompress it first (${how})`);
  }
}

/**
 * An archive that cannot be read by offset where it is — a pipe (`docker-archive:/dev/stdin`,
 * `<(…)`, a fifo) or a gzip-compressed tar (`docker save | gzip`) — copied once into a temp file,
 * decompressed on the way, as podman load and skopeo's oci-archive do. The temp file is unlinked
 * as soon as it is open: its bytes stay readable through the returned handle and vanish with it,
 * so nothing is left behind however the process ends.
 */
export async function spoolArchive(source: FileHandle, file: string, piped: boolean): Promise<FileHandle> {
  const path = join(tmpdir(), `ocipush-archive-${process.pid}-${randomBytes(6).toString('hex')}.tar`);
  let spooled: FileHandle | undefined;
  try {
    spooled = await open(path, 'wx+', 0o600).catch((err: unknown) => { throw fromSystemError(err, tmpdir(), `cannot copy ${file} into`); });
    await rm(path, { force: true });
    // Streams over the bare descriptors: a FileHandle's own streams keep it from closing.
    const chunks = createReadStream('', { fd: source.fd, autoClose: false })[Symbol.asyncIterator]();
    // The first bytes tell gzip from a tar (a pipe may hand them over one at a time).
    let head = Buffer.alloc(0);
    let ended = false;
    while (head.length < HEAD_BYTES && !ended) {
      const next = await chunks.next();
      if (next.done) ended = true;
      else head = Buffer.concat([head, next.value as Buffer]);
    }
    refuseOtherCompression(head, file, piped);
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
      if (isGzip(head)) await pipeline(all, createGunzip(), out);
      else await pipeline(all, out);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code?.startsWith('Z_')) throw new OcipushError('EINVALID', `${file}: not a readable gzip-compressed archive (${e.message})`);
      throw fromSystemError(err, e?.syscall === 'write' ? tmpdir() : file, e?.syscall === 'write' ? `cannot copy ${file} into` : 'cannot read the archive');
    }
    return spooled;
  } catch (err) {
    await spooled?.close().catch(() => {});
    await rm(path, { force: true }).catch(() => {});
    throw err instanceof OcipushError ? err : fromSystemError(err, file, 'cannot read the archive');
  }
}
