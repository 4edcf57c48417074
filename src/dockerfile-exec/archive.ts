import { spawnSync } from 'node:child_process';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import type tar from 'tar-stream';
import { OcipushError } from '../errors.js';
import { zstdAvailable } from '../layer/codec.js';
import { zstdZlib } from '../layer/compress/zstd-support.js';
import { isZstdSkippableFrame } from '../layer/compress/decompressor.js';
import { compressionOf, isTarHeader } from '../layer/layer-source.js';
import { decompressed, decompressTool, hasTool, type ArchiveCompression } from '../layer/decompress-stream.js';
import { TarReader } from '../layer/tar-reader.js';
import { record } from '../layer/tar-header.js';
import { diskPath, nameFromBytes } from './raw-names.js';
import { S_IFMT, type NodeType } from './tree.js';
import type { EntryAttributes } from '../layer/entry-attributes.js';
import { expandSparse, sparseOf } from './sparse.js';

/**
 * Tar archives read back: the layers of a base image (to know its files, or copy some out) and
 * local archives that ADD unpacks. Streams only: an archive is read once per pass, entry by
 * entry; only the files a build needs are written out, to temp files.
 */

/** One entry of an archive, as its header says. */
export interface ArchiveEntry extends EntryAttributes {
  /** 0-based position in the archive (the key to find its bytes again). */
  index: number;
  /** The name as stored. */
  name: string;
  type: NodeType | 'hardlink';
  linkname?: string;
  /** Its `SCHILY.xattr.security.capability` pax record, encoded, when it has one (capabilityRecord). */
  xattrs?: Buffer;
}

const CAPABILITY_KEY = 'SCHILY.xattr.security.capability';

/**
 * The one extended attribute a Dockerfile layer carries, as BuildKit's does: an entry's file
 * capability, as a pax record. BuildKit unpacks an ADD archive or a base layer with the xattrs set
 * after the owner (a chown clears `security.capability`, a later one would lose it), and its layer
 * writer (containerd's archive ChangeWriter) puts `security.capability` alone into the tar: a
 * `user.*` attribute, a POSIX ACL, `trusted.*` never reach the image. Empty: none (as there).
 */
function capabilityRecord(pax: Map<string, Buffer> | undefined): Buffer | undefined {
  const value = pax?.get(CAPABILITY_KEY);
  return value && value.length > 0 ? record(CAPABILITY_KEY, value) : undefined;
}

const PROBE_BYTES = 64 * 1024;

/**
 * Whether a file is a tar archive (plain, gzip, zstd, xz or bzip2) the way BuildKit decides it
 * for ADD: its first header reads as a valid tar header. Returns the compression, or undefined.
 */
export function probeArchive(path: string): ArchiveCompression | undefined {
  let head: Buffer;
  const fd = openSync(diskPath(path), 'r');
  try {
    const buf = Buffer.alloc(PROBE_BYTES);
    head = buf.subarray(0, readSync(fd, buf, 0, PROBE_BYTES, 0));
  } finally {
    closeSync(fd);
  }
  const compression = compressionOf(head);
  if (compression === 'none') return isArchiveBlock(head) ? 'none' : undefined;
  let block: Buffer;
  try {
    block = decompressHead(head, compression);
  } catch {
    return undefined;
  }
  return isArchiveBlock(block) ? compression : undefined;
}

/** A tar header with a valid checksum that is not the all-zero end block (Go: tar.Next succeeds). */
function isArchiveBlock(block: Buffer): boolean {
  return block.length >= 512 && !block.subarray(0, 512).every((b) => b === 0) && isTarHeader(block);
}

/** The first bytes of a compressed file, decompressed (gzip in process, others by their command when installed). */
function decompressHead(head: Buffer, compression: ArchiveCompression): Buffer {
  if (compression === 'gzip') return gunzipPrefix(head);
  const tool = compression === 'zstd' ? (hasTool('zstd') ? ['zstd', '-dc'] : undefined) : decompressTool(compression);
  if (tool) return spawnSync(tool[0]!, tool.slice(1), { input: head, maxBuffer: 4 << 20 }).stdout ?? Buffer.alloc(0);
  if (compression === 'zstd' && zstdAvailable()) {
    try {
      return (zstdZlib as unknown as { zstdDecompressSync(b: Buffer, o: object): Buffer }).zstdDecompressSync(pastSkippableFrames(head), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return Buffer.alloc(0);
    }
  }
  return Buffer.alloc(0);
}

/**
 * The head past the skippable frames it starts with (pzstd writes one first): Node's one-shot
 * zstd decoder ends at the end of a frame, so it would give nothing of the tar after them.
 */
function pastSkippableFrames(head: Buffer): Buffer {
  let at = 0;
  while (isZstdSkippableFrame(head, at)) at += 8 + head.readUInt32LE(at + 4);
  return head.subarray(Math.min(at, head.length));
}

function gunzipPrefix(head: Buffer): Buffer {
  try {
    // A gzip stream cut short still yields its first bytes with a sync flush.
    return gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return Buffer.alloc(0);
  }
}

export function openArchiveFile(path: string, compression: ArchiveCompression): Readable {
  return decompressed(createReadStream(diskPath(path), { highWaterMark: 1 << 20 }), compression, path);
}

/**
 * Reads a tar stream entry by entry. `onEntry` gets each header and the entry's bytes; bytes it
 * does not read are skipped. Pax and GNU long names are applied by tar-stream.
 */
export async function readTar(input: Readable, where: string, onEntry: (entry: ArchiveEntry, body: AsyncIterable<Buffer>) => Promise<void> | void): Promise<void> {
  // Loaded here: most Dockerfiles have no archive to read, and tar-stream is 5 ms of start-up.
  const { extract } = (await import('tar-stream')).default;
  const ex = extract();
  // tar-stream decodes every name as UTF-8 (a pax path too), so a name that is not UTF-8 would
  // come out with U+FFFD. TarReader, fed each chunk first, keeps the names as bytes: it is ahead
  // by whole headers, and an entry takes them only when they decode to what tar-stream read.
  // It also reads each entry's pax records as bytes (tar-stream decodes their values as UTF-8 too,
  // and a capability is binary): the file capability comes from there.
  // It also gives each entry's type flag as written, and its GNU sparse records.
  const exact: { name: Buffer; linkname: Buffer | undefined; xattrs: Buffer | undefined; typeflag: number; pax: Map<string, Buffer> | undefined }[] = [];
  let names: TarReader | undefined = new TarReader({
    entry: (e, block, pax) => {
      exact.push({ name: e.name, linkname: e.linkname, xattrs: capabilityRecord(pax), typeflag: block?.[156] ?? 0, pax });
      return undefined;
    },
    end: () => {},
  });
  let failed: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        try {
          names?.write(chunk as Buffer);
        } catch {
          names = undefined; // tar-stream decides whether the archive is readable
        }
        if (!ex.write(chunk as Buffer)) await once(ex as unknown as NodeJS.EventEmitter, 'drain');
      }
      (ex as unknown as { end(): void }).end();
    } catch (err) {
      failed = err;
      ex.destroy(err as Error);
    }
  })();
  let index = 0;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const bytes = exact.shift();
      const flag = bytes?.typeflag;
      const sparse = flag === GNU_SPARSE ? undefined : sparseOf(bytes?.pax, `${where}: ${JSON.stringify(bytes ? nameFromBytes(bytes.name) : h.name)}`);
      const type = sparse ? 'file' : entryType(h.type);
      if (type === undefined || flag === GNU_SPARSE) {
        // Go's archive/tar hands these on with their type (an old GNU sparse file `S`, a GNU
        // dump dir `D`, a volume label `V`, …) and BuildKit's unpack refuses each: so does this.
        const what = flag === undefined ? '' : ` (${flag === GNU_SPARSE ? "'S', an old GNU sparse file" : `'${String.fromCharCode(flag)}'`})`;
        const hint = flag === GNU_SPARSE ? ': make the archive with tar --format=posix (it stays sparse) or without -S' : '';
        throw new OcipushError('EUNSUPPORTED', `${where}: ${JSON.stringify(bytes ? nameFromBytes(bytes.name) : h.name)}: unhandled tar header type ${flag ?? '?'}${what}, which docker build refuses too${hint}`);
      }
      const e: ArchiveEntry = {
        index: index++,
        name: sparse?.name ? nameFromBytes(sparse.name) : bytes?.name.toString('utf8') === h.name ? nameFromBytes(bytes.name) : h.name,
        type,
        mode: (h.mode ?? 0) & 0o7777 & ~S_IFMT,
        uid: paxId(bytes?.pax, 'uid') ?? h.uid ?? 0,
        gid: paxId(bytes?.pax, 'gid') ?? h.gid ?? 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
        size: sparse ? sparse.size : type === 'file' ? h.size ?? 0 : 0,
        ...(h.linkname ? { linkname: bytes?.linkname?.toString('utf8') === h.linkname ? nameFromBytes(bytes.linkname) : h.linkname } : {}),
        ...(h.devmajor !== undefined ? { devmajor: h.devmajor } : {}),
        ...(h.devminor !== undefined ? { devminor: h.devminor } : {}),
        ...(bytes?.xattrs ? { xattrs: bytes.xattrs } : {}),
      };
      await onEntry(e, sparse ? expandSparse(entry as AsyncIterable<Buffer>, sparse, `${where}: ${JSON.stringify(e.name)}`) : entry as AsyncIterable<Buffer>);
      entry.resume();
    }
  } catch (err) {
    input.destroy();
    if (err instanceof OcipushError) throw err;
    throw new OcipushError('EREAD', `${where}: not a readable tar archive (${(failed as Error | undefined)?.message ?? (err as Error).message})`, { cause: err });
  }
  await feeding;
  if (failed) {
    if (failed instanceof OcipushError) throw failed;
    throw new OcipushError('EREAD', `${where}: ${(failed as Error).message}`, { cause: failed });
  }
}

const GNU_SPARSE = 0x53; // 'S'

/**
 * A pax `uid`/`gid` record: Go's archive/tar sets the header's id from it (an id above the ustar
 * field's 2097151 is only there), and BuildKit's untar chowns to that id. tar-stream reads only
 * the ustar field.
 */
function paxId(pax: Map<string, Buffer> | undefined, key: 'uid' | 'gid'): number | undefined {
  const text = pax?.get(key)?.toString('latin1');
  if (text === undefined || !/^[0-9]{1,15}$/.test(text)) return undefined;
  return Number(text);
}

function entryType(t: tar.Header['type'] | undefined): ArchiveEntry['type'] | undefined {
  switch (t) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory': return 'dir';
    case 'symlink': return 'symlink';
    case 'link': return 'hardlink';
    case 'character-device': return 'char';
    case 'block-device': return 'block';
    case 'fifo': return 'fifo';
    default: return undefined;
  }
}
