import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { OcipushError, fromSystemError } from '../errors.js';
import { Digester, digestAlgorithm, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { ReadOnlyStorage } from './storage.js';
import { ChunkVerifier } from './verify.js';

/**
 * What an upload request sends: a stream, or chunks the HTTP client pulls one at a time (undici
 * takes both). An async generator reads only when asked, so it may reuse its buffers; a stream
 * reads ahead into new ones.
 */
export type BlobBody = Readable | AsyncIterable<Uint8Array>;

/**
 * A blob the uploader can read as often as it needs: whole for a monolithic PUT, by byte range for
 * chunks, and again for each retry or resume. Never a consumed stream.
 */
export interface BlobSource {
  readonly size: number;
  /** The whole blob; fails (EDIGEST) if it does not match its descriptor, where the source can tell. */
  open(): Promise<BlobBody>;
  /** Bytes `start`..`end`, both inclusive (as Content-Range counts them). */
  openRange(start: number, end: number): Promise<BlobBody>;
}

/**
 * A blob in a file (an OCI layout's blobs/sha256/…), read with readFileChunks: the whole blob
 * verified against its digest, ranges as they are.
 */
export function fileSource(path: string, desc: Pick<Descriptor, 'digest' | 'size'>): BlobSource {
  const verify = { digest: desc.digest, size: desc.size, what: blobName(path, desc.digest) };
  return {
    size: desc.size,
    open: async () => readFileChunks(path, 0, desc.size - 1, { verify }),
    openRange: async (start, end) => readFileChunks(path, start, end),
  };
}

export interface FileChunksOptions {
  /** Bytes per read and per chunk yielded (default 1 MiB). */
  bufferSize?: number;
  /** Buffers reused in turn (default 4; at least 2: one yielded, one being read ahead). */
  ringSize?: number;
  /**
   * The range is the whole file, which must be `size` bytes with this digest: EDIGEST naming
   * `what` otherwise, raised before the last chunk is yielded, so a request carrying the bytes
   * never completes and the registry never stores them.
   */
  verify?: { digest: Digest; size: number; what: string };
}

export const FILE_CHUNKS_DEFAULTS = Object.freeze({ bufferSize: 1024 * 1024, ringSize: 4 });

/**
 * Bytes `start`..`end` (inclusive) of a file as chunks read into a ring of reused buffers, one
 * read ahead of the consumer. The file is opened on the first `next()` and closed when the
 * generator ends, throws, or is returned (a generator never started holds nothing).
 *
 * A chunk is only valid until the consumer asks for the ring to come round again (`ringSize - 1`
 * further chunks). undici, writing an async-iterable request body (writeIterable in
 * undici/lib/dispatcher/client-h1.js), keeps that contract with room to spare: it asks for the next
 * chunk only when `socket.write(chunk)` returned true or after 'drain'. A write returns true only
 * while the socket buffers less than its highWaterMark (64 KiB plain, 16 KiB TLS, as undici's
 * connector sets them); a 1 MiB chunk always exceeds it, so undici waits for 'drain', which Node
 * emits once every queued write has completed, i.e. has been handed to the kernel (or, for TLS,
 * encrypted into OpenSSL's own buffers). So when the next chunk is asked for, no earlier chunk is
 * still referenced; only a final chunk below the highWaterMark may be, and nothing is read after
 * it. If this ever stopped holding, the registry would receive other bytes than those hashed
 * here and refuse the digest on the closing PUT (EDIGEST): a loud failure, never a wrong blob.
 */
export async function* readFileChunks(path: string, start: number, end: number, options: FileChunksOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const bufferSize = options.bufferSize ?? FILE_CHUNKS_DEFAULTS.bufferSize;
  const ringSize = Math.max(2, options.ringSize ?? FILE_CHUNKS_DEFAULTS.ringSize);
  const { verify } = options;
  if (end < start) {
    if (verify && verify.size !== 0) throw sizeMismatch(verify, 0);
    return;
  }
  const fh = await open(path, 'r').catch((err: unknown) => { throw fromSystemError(err, path, 'cannot read'); });
  let ahead: Promise<Uint8Array> | undefined;
  try {
    const digester = verify ? new Digester(digestAlgorithm(verify.digest)) : undefined;
    if (verify) {
      const { size } = await fh.stat();
      if (size !== verify.size) throw sizeMismatch(verify, size);
    }
    const ring: Buffer[] = [];
    const slotSize = Math.min(bufferSize, end - start + 1);
    let position = start;
    let slot = 0;
    const readNext = (): Promise<Uint8Array> | undefined => {
      if (position > end) return undefined;
      const length = Math.min(slotSize, end + 1 - position);
      ring[slot] ??= Buffer.allocUnsafeSlow(slotSize);
      const read = fill(fh, ring[slot]!, length, position, path, verify);
      position += length;
      slot = (slot + 1) % ringSize;
      // Settled later by the loop (or the finally): never an unhandled rejection meanwhile.
      read.catch(() => {});
      return read;
    };
    ahead = readNext();
    while (ahead) {
      const chunk = await ahead;
      ahead = readNext();
      if (digester) {
        digester.update(chunk);
        if (!ahead) checkDigest(digester, verify!);
      }
      yield chunk;
    }
  } finally {
    await ahead?.catch(() => {});
    await fh.close().catch(() => {});
  }
}

/** Reads exactly `length` bytes at `position` into the start of `buffer`. */
async function fill(fh: FileHandle, buffer: Buffer, length: number, position: number, path: string, verify: FileChunksOptions['verify']): Promise<Uint8Array> {
  let got = 0;
  while (got < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buffer, got, length - got, position + got));
    } catch (err) {
      throw fromSystemError(err, path, 'cannot read');
    }
    if (bytesRead === 0) {
      if (verify) throw sizeMismatch(verify, position + got);
      throw new OcipushError('EREAD', `cannot read ${path}: it ends at byte ${position + got}, before byte ${position + length}`, { path });
    }
    got += bytesRead;
  }
  return buffer.subarray(0, length);
}

function checkDigest(digester: Digester, verify: NonNullable<FileChunksOptions['verify']>): void {
  if (digester.size !== verify.size) throw sizeMismatch(verify, digester.size);
  const actual = digester.digest();
  if (actual !== verify.digest) {
    throw new OcipushError('EDIGEST', `${verify.what}: content has digest ${actual}, expected ${verify.digest}`, { digest: verify.digest });
  }
}

function sizeMismatch(verify: NonNullable<FileChunksOptions['verify']>, size: number): OcipushError {
  return new OcipushError('EDIGEST', `${verify.what}: size ${size} does not match the expected ${verify.size}`, { digest: verify.digest });
}

/** `blob sha256:… in <layout>` for a layout's blob file (as the layout names it), else the path. */
function blobName(path: string, digest: Digest): string {
  const algorithmDir = dirname(path);
  if (`${basename(algorithmDir)}:${basename(path)}` === digest && basename(dirname(algorithmDir)) === 'blobs') {
    return `blob ${digest} in ${dirname(dirname(algorithmDir))}`;
  }
  return `${path} (blob ${digest})`;
}

/** A blob of any storage: ranges are cut out of a fresh whole stream (slower, but always possible). */
export function storageSource(storage: ReadOnlyStorage, desc: Descriptor): BlobSource {
  return {
    size: desc.size,
    open: () => storage.fetch(desc),
    openRange: async (start, end) => sliceOf(await storage.fetch(desc), start, end),
  };
}

/**
 * Bytes made afresh on every read, the same each time (an SBOM document made from the image's
 * files, a flattened layer made from the image's layers): never held whole in memory. The whole is checked against `desc` as it goes, so a maker
 * that gave other bytes the second time fails the upload (EDIGEST) instead of storing them; a
 * range is cut out of a fresh run.
 */
export function madeSource(make: () => Iterable<Uint8Array> | AsyncIterable<Uint8Array>, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): BlobSource {
  return {
    size: desc.size,
    open: async () => (async function* () {
      const verifier = new ChunkVerifier(desc, what);
      for await (const chunk of make()) {
        verifier.update(chunk);
        yield chunk;
      }
      verifier.finish();
    })(),
    openRange: async (start, end) => sliceOf(Readable.from(make()), start, end),
  };
}

/**
 * A blob in a temp file unlinked as soon as it was opened (so nothing is left however the process
 * ends), read by position through its handle: the whole blob verified against its digest, ranges as
 * they are. Readers may overlap (retries, chunks): positioned reads share no file offset.
 */
export function handleSource(handle: FileHandle, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): BlobSource {
  const range = (start: number, end: number): BlobBody => (end < start ? Readable.from([]) : createReadStream('', { fd: handle.fd, start, end, autoClose: false, highWaterMark: 1024 * 1024 }));
  return {
    size: desc.size,
    open: async () => (async function* () {
      const verifier = new ChunkVerifier(desc, what);
      for await (const chunk of range(0, desc.size - 1)) {
        verifier.update(chunk as Uint8Array);
        yield chunk as Uint8Array;
      }
      verifier.finish();
    })(),
    openRange: async (start, end) => range(start, end),
  };
}

/** In-memory bytes (manifests, configs, tests). */
export function bufferSource(bytes: Buffer): BlobSource {
  return {
    size: bytes.length,
    open: async () => Readable.from([bytes]),
    openRange: async (start, end) => Readable.from([bytes.subarray(start, end + 1)]),
  };
}

/** Bytes `start`..`end` (inclusive) of `whole`, which is let go (destroyed) once they have passed. */
function sliceOf(whole: Readable, start: number, end: number): Readable {
  const slice = new ByteSlice(start, end - start + 1, () => whole.destroy());
  whole.on('error', (err) => slice.destroy(err));
  return whole.pipe(slice);
}

/** Passes `length` bytes after skipping `skip`, then ends (and lets the upstream go). */
class ByteSlice extends Transform {
  private position = 0;
  private done = false;

  constructor(private readonly skip: number, private readonly length: number, private readonly release: () => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.done) { callback(); return; }
    const from = Math.max(0, this.skip - this.position);
    const to = Math.min(chunk.length, this.skip + this.length - this.position);
    this.position += chunk.length;
    if (to > from) this.push(chunk.subarray(from, to));
    if (this.position >= this.skip + this.length) {
      this.done = true;
      this.push(null);
      this.release();
    }
    callback();
  }
}
