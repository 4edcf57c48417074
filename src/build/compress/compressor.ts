import { PassThrough, type Duplex } from 'node:stream';
import { BlockCompressor } from './block-compressor.js';
import { resolveOptions, type CompressorOptions } from './options.js';
import { assertZstdAvailable } from './zstd-support.js';

/**
 * A layer compressor: write the uncompressed tar, read the compressed blob. gzip and zstd are
 * compressed in parallel, block by block, with output that depends only on the input, the
 * level, the block size and the zlib/zstd library (never on the thread or core count); 'none'
 * passes through. The sha256 of the uncompressed input (diff_id) is best taken by the caller on
 * the main thread as the bytes go in: at 1.8 GB/s it costs 0.3 s per 500 MB there, and a hashing
 * worker costs more in copies and messages than it saves (see scripts/bench-compress.ts).
 * Destroying it withdraws its queued blocks from the shared workers.
 */
export function createCompressor(options: CompressorOptions): Duplex {
  const { compression, level, threads, blockSize } = resolveOptions(options);
  switch (compression) {
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
    case 'zstd':
      assertZstdAvailable();
      return new BlockCompressor({ codec: 'zstd', level, threads, blockSize });
    case 'gzip':
      return new BlockCompressor({ codec: 'gzip', level, threads, blockSize });
  }
}
