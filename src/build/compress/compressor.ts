import { PassThrough, type Duplex } from 'node:stream';
import { BlockCompressor } from './block-compressor.js';
import { resolveOptions, type CompressorOptions } from './options.js';
import { assertZstdAvailable } from './zstd-support.js';

/**
 * A layer compressor: write the uncompressed tar, read the compressed blob. gzip and zstd are
 * compressed in parallel, block by block, with output that depends only on the input, the
 * level and the block size (never on the thread count or the machine); 'none' passes through.
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
