import { availableParallelism } from 'node:os';
import { OcipushError } from '../../errors.js';
import type { Compression } from '../../oci/media-types.js';

export interface CompressorOptions {
  compression: Compression;
  /** gzip 1–9 (default DEFAULT_GZIP_LEVEL), zstd 1–19 (default 3). Ignored for 'none'. */
  level?: number;
  /** Blocks compressed at once (default: every core). Never changes the output bytes. */
  threads?: number;
  /** Uncompressed bytes per independent gzip member / zstd frame (default 1 MiB, zstd 4 MiB). Changes the output. */
  blockSize?: number;
  /**
   * Also compute the sha256 of the input (diff_id), read with `inputDigest()` after the end.
   * The compressor picks the place: the main thread up to 2 threads (measured best there), a
   * hashing worker reading the blocks in shared memory from 3 threads up, where it frees the
   * main thread (about 0.3 s per 500 MB) for the tar producer.
   */
  digestInput?: boolean;
}

/**
 * Level 2 is the fastest level whose output stays within 5% of umoci's (pgzip at its default):
 * Debian /usr/share (501 MB tar): 223.9 MB against umoci's 215.5 MB (+3.9%); /usr/bin: 158.0
 * against 153.8 MB (+2.7%); the bench fixture: 261.2 against 270.7 MB (−3.5%). It costs half
 * the CPU of level 6, and 13% less than level 3 (+1% of size); level 1 is +5.3% on /usr/share.
 * Measured with scripts/bench-compress.ts.
 */
export const DEFAULT_GZIP_LEVEL = 2;
export const DEFAULT_ZSTD_LEVEL = 3;
/**
 * Independent members lose the history across block edges: at level 2 on /usr/share, against one
 * single stream (223.3 MB), 256 KiB blocks give +0.5%, 1 MiB +0.3%, 4 MiB +0.2%, at the same
 * speed. 1 MiB keeps threads×2 blocks in flight to a few MiB. Fixed, never derived from the
 * machine: it decides where members start, hence the bytes.
 */
export const DEFAULT_BLOCK_SIZE = 1 << 20;
/**
 * zstd's window is larger than deflate's 32 KiB, so it loses more at block edges: level 3 on
 * /usr/share gives 205.2 MB in 1 MiB frames, 198.2 MB in 4 MiB ones, as `zstd -3` in one frame
 * (198.4 MB), and is faster too (381 against 374 MB/s on 2 threads).
 */
export const DEFAULT_ZSTD_BLOCK_SIZE = 4 << 20;
export const MIN_BLOCK_SIZE = 64 << 10;
export const MAX_BLOCK_SIZE = 64 << 20;
const MAX_THREADS = 256;

/**
 * The level a layer of this compression is made at: the given one, else the default. Caches key
 * on it rather than on "unset", so a layer made at an older default is never served for a newer one.
 */
export function effectiveLevel(compression: Compression, level?: number): number | undefined {
  if (compression === 'none') return undefined;
  return level ?? (compression === 'zstd' ? DEFAULT_ZSTD_LEVEL : DEFAULT_GZIP_LEVEL);
}

export interface ResolvedOptions {
  compression: Compression;
  level: number;
  threads: number;
  blockSize: number;
}

export function resolveOptions(options: CompressorOptions): ResolvedOptions {
  const { compression } = options;
  if (compression !== 'gzip' && compression !== 'zstd' && compression !== 'none') {
    throw new OcipushError('EUSAGE', `unknown compression "${String(compression)}": expected gzip, zstd or none`);
  }
  const [minLevel, maxLevel, defaultLevel] = compression === 'zstd' ? [1, 19, DEFAULT_ZSTD_LEVEL] : [1, 9, DEFAULT_GZIP_LEVEL];
  const level = options.level ?? defaultLevel;
  if (compression !== 'none' && !(Number.isInteger(level) && level >= minLevel && level <= maxLevel)) {
    throw new OcipushError('EUSAGE', `invalid ${compression} compression level ${level}: expected an integer from ${minLevel} to ${maxLevel}`);
  }
  const threads = options.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
    throw new OcipushError('EUSAGE', `invalid compression thread count ${threads}: expected an integer from 1 to ${MAX_THREADS}`);
  }
  const blockSize = options.blockSize ?? (compression === 'zstd' ? DEFAULT_ZSTD_BLOCK_SIZE : DEFAULT_BLOCK_SIZE);
  if (!(Number.isInteger(blockSize) && blockSize >= MIN_BLOCK_SIZE && blockSize <= MAX_BLOCK_SIZE)) {
    throw new OcipushError('EUSAGE', `invalid compression block size ${blockSize}: expected ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE} bytes`);
  }
  return { compression, level, threads, blockSize };
}
