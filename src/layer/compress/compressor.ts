import { Transform, type Duplex, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester } from '../../oci/digest.js';
import { BlockCompressor } from './block-compressor.js';
import type { InputDigest } from './input-hasher.js';
import type { RangeDigester } from './range-digests.js';
import { resolveOptions, type CompressorOptions } from './options.js';
import { compressionPool } from './pool.js';
import { assertZstdAvailable, zstdAvailable } from './zstd-support.js';

export type { InputDigest };

/**
 * A Duplex: write the uncompressed tar, read the compressed blob. A block compressor also digests
 * ranges of its input in its workers (RangeDigester: the SBOM's files), 'none' does not.
 */
export interface Compressor extends Duplex, Partial<RangeDigester> {
  /**
   * sha256 and size of the uncompressed input (the layer's diff_id), once the stream has
   * finished ('finish' or 'end'). Only with the digestInput option.
   */
  inputDigest(): InputDigest;
  /**
   * Writes the compressed output into `sink` and ends it, instead of being read; resolves once
   * the sink has finished, rejects (destroying both) on either's error. Call it before writing.
   * The block compressor then reuses each output buffer once the sink has called back its write,
   * which keeps memory flat for any layer size: the sink must keep no reference to a chunk after
   * its write callback (true of a file writer, not of a PassThrough).
   */
  writeTo(sink: Writable): Promise<void>;
}

/**
 * A layer compressor. gzip and zstd are compressed in parallel, block by block, with output
 * that depends only on the input, the level, the block size and the zlib/zstd library (never
 * on the thread or core count); 'none' passes through. Destroying it withdraws its queued
 * blocks from the shared workers.
 */
export function createCompressor(options: CompressorOptions): Compressor {
  const { compression, level, threads, blockSize } = resolveOptions(options);
  const digestInput = options.digestInput ?? false;
  switch (compression) {
    case 'none':
      return new Passthrough(digestInput);
    case 'zstd':
      assertZstdAvailable();
      return new BlockCompressor({ codec: 'zstd', level, threads, blockSize, digestInput });
    case 'gzip':
      return new BlockCompressor({ codec: 'gzip', level, threads, blockSize, digestInput });
  }
}

/**
 * Starts the worker threads a compressor with these options would use, ahead of its first block:
 * call it once a layer is known to span more than one block (one block is compressed inline).
 * Nothing to do for 'none', one thread, or zstd where Node has none.
 */
export function warmCompressors(options: CompressorOptions): void {
  const { compression, threads } = resolveOptions(options);
  if (compression === 'none' || threads === 1 || (compression === 'zstd' && !zstdAvailable())) return;
  compressionPool().warm(threads);
}

class Passthrough extends Transform implements Compressor {
  private readonly hash: Digester | null;
  private result: InputDigest | null = null;

  constructor(digestInput: boolean) {
    super({ highWaterMark: 1 << 20 });
    this.hash = digestInput ? new Digester() : null;
  }

  inputDigest(): InputDigest {
    if (!this.hash) throw new Error('createCompressor: inputDigest() needs the digestInput option');
    if (!this.result) throw new Error('createCompressor: inputDigest() is known only after the stream has finished');
    return this.result;
  }

  writeTo(sink: Writable): Promise<void> {
    return pipeline(this, sink);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null, data?: Buffer) => void): void {
    this.hash?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: (err?: Error | null) => void): void {
    if (this.hash) this.result = { digest: this.hash.digest(), size: this.hash.size };
    callback();
  }
}
