import { createReadStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { fromSystemError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { ReadOnlyStorage } from '../content/storage.js';

/**
 * A blob the uploader can read as often as it needs: whole for a monolithic PUT, by byte range for
 * chunks, and again for each retry or resume. Never a consumed stream.
 */
export interface BlobSource {
  readonly size: number;
  /** The whole blob; fails (EDIGEST) if it does not match its descriptor, where the source can tell. */
  open(): Promise<Readable>;
  /** Bytes `start`..`end`, both inclusive (as Content-Range counts them). */
  openRange(start: number, end: number): Promise<Readable>;
}

/** A blob in a file (an OCI layout's blobs/sha256/…): ranges are read directly from disk. */
export function fileSource(path: string, desc: Pick<Descriptor, 'size'>, openWhole: () => Promise<Readable>): BlobSource {
  return {
    size: desc.size,
    open: openWhole,
    async openRange(start, end) {
      const stream = createReadStream(path, { start, end, highWaterMark: 1 << 20 });
      await new Promise<void>((ok, fail) => {
        stream.once('open', () => ok());
        stream.once('error', (err) => fail(fromSystemError(err, path, 'cannot read')));
      });
      return stream;
    },
  };
}

/** A blob of any storage: ranges are cut out of a fresh whole stream (slower, but always possible). */
export function storageSource(storage: ReadOnlyStorage, desc: Descriptor): BlobSource {
  return {
    size: desc.size,
    open: () => storage.fetch(desc),
    async openRange(start, end) {
      const whole = await storage.fetch(desc);
      const slice = new ByteSlice(start, end - start + 1, () => whole.destroy());
      whole.on('error', (err) => slice.destroy(err));
      return whole.pipe(slice);
    },
  };
}

/** In-memory bytes (manifests, configs, tests). */
export function bufferSource(bytes: Buffer): BlobSource {
  return {
    size: bytes.length,
    open: async () => (await import('node:stream')).Readable.from([bytes]),
    openRange: async (start, end) => (await import('node:stream')).Readable.from([bytes.subarray(start, end + 1)]),
  };
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
