/**
 * The one place the layer builder gets its compressors from: the parallel, deterministic block
 * compressor of ./compress/ (gzip members / zstd frames compressed on every core).
 */
export { createCompressor, createDecompressor, warmCompressors, zstdAvailable, type CompressorOptions } from './compress/index.js';
export { effectiveLevel, resolveOptions as checkCompressorOptions } from './compress/options.js';
