/**
 * The one place the layer builder gets its compressors from: the parallel, deterministic block
 * compressor of ./compress/ (gzip members / zstd frames compressed on every core).
 */
export { createDecompressor, sniffCompression } from './compress/decompressor.js';
export { zstdAvailable } from './compress/zstd-support.js';
export { effectiveLevel, resolveOptions as checkCompressorOptions, type CompressorOptions } from './compress/options.js';

/**
 * The block compressor and its worker pool, loaded when a layer is first compressed: a rebuild
 * the layer cache serves never loads them (10 ms of start-up). The CLI's cold build has them
 * already (layer/prefetch.ts starts the workers before the build's modules load).
 */
export function loadCompressors(): Promise<typeof import('./compress/compressor.js')> {
  return import('./compress/compressor.js');
}
