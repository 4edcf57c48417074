import { closeSync, constants as fsConstants, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { OcipushError, fromSystemError } from '../errors.js';
import { BLOCK, END_OF_ARCHIVE, TarType, encodedHeaderSize, padded, paxRecords, writeHeader, type TarHeader } from './tar-header.js';
import type { FsEntry } from './walk.js';
import type { DigestReceiver, RangeDigester } from './compress/range-digests.js';

export interface TarOptions {
  /** File mtimes later than this (seconds since the epoch) are set to it. */
  clampMtime: number;
  /** Replaces every entry's uid/gid (`--owner 0:0`). */
  owner?: { uid: number; gid: number };
  /** Bytes per output chunk (a multiple of 512). */
  chunkSize?: number;
  /** Sees every entry as it is archived, and a regular file's content as it is read (an SBOM's facts). */
  observer?: TarObserver;
}

/** One archived entry as its header says it (mode as stored: the permission bits). */
export interface ObservedEntry {
  name: Buffer;
  /** 'other': a type a tree cannot hold (a tar read back may have them). */
  type: FsEntry['type'] | 'other';
  mode: number;
  size: number;
  /**
   * The link target (a hard link's, a symlink's), else undefined. Always present: one entry is
   * made per tar entry, and spreading an optional field in cost an object more for each.
   */
  linkname: Buffer | undefined;
}

/**
 * Watches a tar being produced, without parsing it: `entry` is called after each header, and for
 * a regular file may return a sink that is fed the file's bytes in order (views of the chunk,
 * valid only during the call), then ended.
 */
export interface TarObserver {
  /**
   * `header` (the entry's ustar block, valid only during the call) and `pax` (its extended
   * records) are given by a tar being read, for an observer that writes the entry again.
   */
  entry(entry: ObservedEntry, header?: Buffer, pax?: Map<string, Buffer>): ContentSink | undefined;
  /** The end-of-archive blocks are written: every entry has been seen. */
  end(): void;
}

export interface ContentSink {
  update(bytes: Buffer): void;
  end(): void;
  /**
   * For a sink that needs no more of the file than its SHA1 and SHA256, offered when the bytes can
   * be hashed where they go anyway (a compression worker): returns a token and takes the digests
   * later, through `digested`, instead of `update` and `end`; or -1 to be fed the bytes after all.
   */
  deferDigests?(): number;
  digested?: DigestReceiver['digested'];
}

const DEFAULT_CHUNK_SIZE = 1 << 20;
/** Room for the largest header: pax path and linkpath of PATH_MAX each, plus xattrs. */
const MIN_CHUNK_SIZE = 64 * 1024;

interface OpenFile {
  fd: number;
  path: Buffer;
  size: number;
  remaining: number;
  sink: ContentSink | undefined;
}

/**
 * Turns walk entries into tar bytes, one large chunk at a time. File contents are read with
 * `readSync` straight into the chunk after their header: a small file costs open, one read and
 * close, with no intermediate copy and no per-file stream, into buffers that are recycled once
 * the consumer is done with them (see pumpTar).
 */
export class TarProducer implements ChunkProducer {
  /** Tar bytes produced so far. */
  bytes = 0;
  /** Entries written so far. */
  entries = 0;
  private readonly chunkSize: number;
  private current: OpenFile | undefined;
  private pending: FsEntry | undefined;
  private ended = false;
  private finished = false;
  private rangeDigester: RangeDigester | undefined;

  constructor(private readonly source: Iterator<FsEntry>, private readonly options: TarOptions) {
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (this.chunkSize % BLOCK !== 0 || this.chunkSize < MIN_CHUNK_SIZE) throw new RangeError(`chunkSize ${this.chunkSize}: not a multiple of 512 of at least 64 KiB`);
  }

  /**
   * Where the archive goes (a block compressor), which can digest a file's bytes in the worker
   * that compresses them: the observer's file digests then leave this thread.
   */
  digestRangesWith(digester: RangeDigester): void {
    this.rangeDigester = digester;
  }

  /** Bytes a buffer given to `next` must have: a chunk plus one spare byte. */
  get bufferSize(): number {
    // The spare byte: the last read of a file asks for one byte more than it expects, to notice
    // a file that grew since it was measured.
    return this.chunkSize + 1;
  }

  /**
   * The next chunk of the archive (a view of `buffer`, or of a new buffer), or null after the
   * end-of-archive blocks.
   */
  next(buffer?: Buffer): Buffer | null {
    if (this.finished) return null;
    const chunk = buffer && buffer.length >= this.bufferSize ? buffer : Buffer.allocUnsafeSlow(this.bufferSize);
    let pos = 0;
    while (pos < this.chunkSize) {
      if (this.current) {
        pos = this.readContent(chunk, pos);
        continue;
      }
      if (this.ended) {
        if (pos + END_OF_ARCHIVE.length > this.chunkSize) break;
        END_OF_ARCHIVE.copy(chunk, pos);
        pos += END_OF_ARCHIVE.length;
        this.finished = true;
        this.options.observer?.end();
        break;
      }
      const entry = this.pending ?? this.nextEntry();
      this.pending = undefined;
      if (entry === undefined) {
        this.ended = true;
        continue;
      }
      const header = this.headerOf(entry);
      const pax = paxRecords(header);
      const headerSize = encodedHeaderSize(header, pax);
      if (pos + headerSize > this.chunkSize) {
        if (pos === 0) throw new OcipushError('EREAD', `${entry.path.toString()}: tar header of ${headerSize} bytes is too large`);
        this.pending = entry;
        break;
      }
      // Open before the header is written: an unreadable file fails the build, naming it.
      const fd = entry.type === 'file' && entry.size > 0 ? openForRead(entry.path) : undefined;
      pos += writeHeader(header, chunk, pos, pax);
      this.entries++;
      const sink = this.observe(entry, header);
      if (fd !== undefined) this.current = { fd, path: entry.path, size: entry.size, remaining: entry.size, sink: this.digestedElsewhere(sink, this.bytes + pos, entry.size) ? undefined : sink };
      else sink?.end();
    }
    this.bytes += pos;
    return chunk.subarray(0, pos);
  }

  /** Closes the file being read, if any (after an error or when the consumer goes away). */
  close(): void {
    if (this.current) {
      try { closeSync(this.current.fd); } catch { /* already failing */ }
      this.current = undefined;
    }
  }

  private observe(entry: FsEntry, header: TarHeader): ContentSink | undefined {
    const observer = this.options.observer;
    if (!observer) return undefined;
    return observer.entry({ name: header.name, type: entry.type, mode: header.mode & 0o7777, size: header.size, linkname: header.linkname });
  }

  /** Whether the file's digests, all `sink` wants of it, are taken by the range digester from its `size` bytes at archive offset `start`. */
  private digestedElsewhere(sink: ContentSink | undefined, start: number, size: number): boolean {
    const digester = this.rangeDigester;
    if (!sink?.deferDigests || !sink.digested || !digester?.acceptsRange(start, size)) return false;
    const token = sink.deferDigests();
    if (token < 0) return false;
    digester.digestRange(start, size, sink as DigestReceiver, token);
    return true;
  }

  private nextEntry(): FsEntry | undefined {
    const r = this.source.next();
    return r.done ? undefined : r.value;
  }

  private readContent(chunk: Buffer, pos: number): number {
    const file = this.current!;
    const room = this.chunkSize - pos;
    const last = file.remaining <= room;
    const want = last ? file.remaining + 1 : room;
    let n: number;
    try {
      n = readSync(file.fd, chunk, pos, want, null);
    } catch (err) {
      this.close();
      throw fromSystemError(err, file.path.toString(), 'cannot read');
    }
    if (n > file.remaining || (n === 0 && file.remaining > 0)) {
      this.close();
      throw new OcipushError('EREAD', `${file.path.toString()}: file changed size while being read (expected ${file.size} bytes); is something writing to the rootfs?`, { path: file.path.toString() });
    }
    file.remaining -= n;
    file.sink?.update(chunk.subarray(pos, pos + n));
    pos += n;
    if (file.remaining === 0) {
      file.sink?.end();
      this.close();
      const end = pos + (padded(file.size) - file.size);
      chunk.fill(0, pos, end);
      pos = end;
    }
    return pos;
  }

  private headerOf(e: FsEntry): TarHeader {
    const owner = this.options.owner;
    const h: TarHeader = {
      name: e.name,
      type: TYPE_FLAGS[e.type],
      mode: e.mode,
      uid: owner ? owner.uid : e.uid,
      gid: owner ? owner.gid : e.gid,
      size: e.type === 'file' ? e.size : 0,
      // min(mtime, T): a time before 1970 stays, as umoci and GNU tar keep it.
      mtime: Math.min(e.mtime, this.options.clampMtime),
    };
    if (e.linkname) h.linkname = e.linkname;
    if (e.devmajor !== undefined) h.devmajor = e.devmajor;
    if (e.devminor !== undefined) h.devminor = e.devminor;
    if (e.xattrs) h.paxExtra = e.xattrs;
    return h;
  }
}

/** The tar type flag of each kind of entry (a build's walk, a layer read back). */
export const TYPE_FLAGS = {
  file: TarType.File,
  dir: TarType.Directory,
  symlink: TarType.Symlink,
  hardlink: TarType.HardLink,
  fifo: TarType.Fifo,
  char: TarType.CharDevice,
  block: TarType.BlockDevice,
} as const;

function openForRead(path: Buffer): number {
  try {
    // O_NOFOLLOW: a file swapped for a symlink after the walk is an error, never followed.
    // O_NONBLOCK: one swapped for a fifo would block the open, and the process, for good; a
    // regular file ignores it, and a fifo then reads short: "changed size".
    return openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw fromSystemError(err, path.toString(), 'cannot read');
  }
}

/**
 * 4 chunks (4 MiB) keep the compressor fed as well as 16 did (same wall and CPU time on
 * /usr/share, 2 threads), for 12 MiB less memory: the compressor holds threads×2 blocks besides.
 */
const DEFAULT_MAX_AHEAD = 4;

/** Anything that fills caller-given buffers with the next bytes of a stream (a tar, a file). */
export interface ChunkProducer {
  /** Bytes a buffer given to `next` must have. */
  readonly bufferSize: number;
  /** The next chunk (a view of `buffer`, or of a new buffer), or null at the end. */
  next(buffer?: Buffer): Buffer | null;
  /** Releases what it holds open (after an error, or when the consumer goes away). */
  close(): void;
  /** Told where the bytes go when that can digest ranges of them (TarProducer.digestRangesWith). */
  digestRangesWith?(digester: RangeDigester): void;
}

export interface PumpOptions {
  /** Sees every chunk before it is written (for hashing and progress). */
  onChunk?: (chunk: Buffer) => void;
  /** Chunks written and not yet called back, at most (default DEFAULT_MAX_AHEAD): how far tar runs ahead. */
  maxAhead?: number;
  signal?: AbortSignal;
}

/**
 * Writes the whole archive into `sink` and ends it. Chunk buffers are recycled as soon as the
 * sink calls back a write, so reading a tree allocates a handful of buffers, not one per MiB.
 * That requires a sink that keeps no reference to a chunk after its write callback, which holds
 * for the block compressor (it copies into its blocks), node:zlib streams and the staged blob
 * writer, but not for a PassThrough. Up to `maxAhead` chunks wait in the sink, so tar keeps
 * running while the compressors catch up and vice versa.
 */
export async function pumpTar(producer: ChunkProducer, sink: Writable, options: PumpOptions = {}): Promise<void> {
  const maxAhead = options.maxAhead ?? DEFAULT_MAX_AHEAD;
  const spare: Buffer[] = [];
  let outstanding = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signalWake = () => { const w = wake; wake = undefined; w?.(); };
  const onError = (err: Error) => { failure ??= err; signalWake(); };
  const onAbort = () => onError(new OcipushError('EABORTED', 'build interrupted'));
  sink.on('error', onError);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      while (outstanding >= maxAhead && !failure) await new Promise<void>((resolve) => { wake = resolve; });
      if (failure) throw failure;
      const chunk = producer.next(spare.pop());
      if (!chunk) break;
      options.onChunk?.(chunk);
      outstanding++;
      const backing = Buffer.from(chunk.buffer, chunk.byteOffset, producer.bufferSize);
      sink.write(chunk, (err) => {
        outstanding--;
        if (err) failure ??= err;
        else spare.push(backing);
        signalWake();
      });
      // Let write callbacks, worker results, signals and other I/O run between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await new Promise<void>((resolve, reject) => {
      sink.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (failure) throw failure;
  } catch (err) {
    producer.close();
    sink.destroy(err as Error);
    throw err;
  } finally {
    sink.off('error', onError);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
