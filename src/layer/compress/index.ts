export { createCompressor, warmCompressors, type Compressor, type InputDigest } from './compressor.js';
export { createDecompressor, sniffCompression } from './decompressor.js';
export { zstdAvailable } from './zstd-support.js';
export { closeCompressionPool } from './shutdown.js';
export {
  DEFAULT_BLOCK_SIZE, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_BLOCK_SIZE, DEFAULT_ZSTD_LEVEL, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE,
  type CompressorOptions,
} from './options.js';
