import * as zlib from 'node:zlib';
import { compressBlock, GZIP_OS_OFFSET, GZIP_OS_UNIX, GZIP_PARAMS, gzipLevelFor, type BlockCodec } from './block-codec.js';

/**
 * The part of node:zlib's private handle that `zlib.gzipSync` itself drives (lib/zlib.js
 * processChunkSync, the same from Node 10 to 24): one synchronous deflate call into a caller's
 * buffer, and a reset that keeps the allocated state.
 */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}

interface GzipInternals extends zlib.Gzip {
  _handle?: ZlibHandle | null;
  /** [avail_out, avail_in] after the last write. */
  _writeState?: Uint32Array;
}

/** Room a block may need compressed: more than deflateBound (stored blocks, gzip header and trailer). */
export function outputCapacity(blockSize: number): number {
  return blockSize + (blockSize >>> 3) + (blockSize >>> 6) + 1024;
}

/**
 * Compresses block after block with one gzip state and into the caller's buffer, where
 * `zlib.gzipSync` would set up a new zlib stream and a new output buffer per block: a thread
 * compressing a 4 GB layer then allocates nothing per block, so its memory never waits on the
 * garbage collector. The bytes are those of `compressBlock` (deflateReset gives a fresh member
 * with the same parameters; a test holds them equal). Anything the fast path cannot do (zstd, a
 * Node without the handle, an output buffer too small) takes `compressBlock` and a copy.
 */
export class BlockEncoder {
  private readonly gzips = new Map<number, GzipInternals | null>();
  private scratch: Buffer | null = null;

  /**
   * Compresses `data` into `out` and returns the length, or returns the compressed bytes in a
   * new buffer (of their exact size on the fast path) when no `out` is given or they do not fit.
   */
  encode(codec: BlockCodec, level: number, data: Uint8Array, out?: Uint8Array): number | Buffer {
    if (codec === 'gzip') {
      const effective = gzipLevelFor(level, data);
      const gz = this.gzipFor(effective);
      if (gz) {
        const target = out && out.length >= outputCapacity(data.length) ? out : this.scratchFor(data.length);
        let n: number;
        try {
          n = deflateInto(gz, data, target);
        } catch (err) {
          this.gzips.delete(effective); // a failed zlib stream is closed: the next block gets a new one
          throw err;
        }
        if (n >= 0) {
          if (target === out) return n;
          const exact = Buffer.allocUnsafeSlow(n); // its own ArrayBuffer: a worker can transfer it
          exact.set(target.subarray(0, n));
          return exact;
        }
      }
    }
    const compressed = compressBlock(codec, level, data);
    if (!out || compressed.length > out.length) return compressed;
    out.set(compressed);
    return compressed.length;
  }

  private gzipFor(level: number): GzipInternals | null {
    let gz = this.gzips.get(level);
    if (gz === undefined) {
      const created = zlib.createGzip({ ...GZIP_PARAMS, level }) as GzipInternals;
      // zlib reports a failed write by destroying the stream, which emits 'error' on a later
      // tick: the listener keeps that from being uncaught, deflateInto sees `destroyed`.
      created.on('error', () => {});
      gz = typeof created._handle?.writeSync === 'function' && created._writeState instanceof Uint32Array ? created : null;
      if (!gz) created.destroy();
      this.gzips.set(level, gz);
    }
    return gz;
  }

  private scratchFor(length: number): Buffer {
    const need = outputCapacity(length);
    if (!this.scratch || this.scratch.length < need) this.scratch = Buffer.allocUnsafeSlow(need);
    return this.scratch;
  }
}

/** One gzip member of `data` into `out`; -1 if it did not fit (the state is reset either way). */
function deflateInto(gz: GzipInternals, data: Uint8Array, out: Uint8Array): number {
  const handle = gz._handle!;
  handle.writeSync(zlib.constants.Z_FINISH, data, 0, data.length, out, 0, out.length);
  if (gz.destroyed) throw gz.errored ?? new Error('zlib failed to compress a block');
  const [availOut, availIn] = gz._writeState!;
  handle.reset();
  // Z_FINISH with output room left means deflate returned Z_STREAM_END: the member is whole.
  if (availIn !== 0 || availOut === 0) return -1;
  const n = out.length - availOut!;
  out[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
  return n;
}
