import * as zlib from 'node:zlib';
import { zstdZlib } from './zstd-support.js';

export type BlockCodec = 'gzip' | 'zstd';

/**
 * Every parameter that shapes the output is pinned here, so a block gives the same bytes in a
 * worker or on the main thread. memLevel 9 (not zlib's default 8) is 10% faster with Node's
 * zlib at levels 1–4, for 0.2% of ratio.
 */
export const GZIP_PARAMS = { memLevel: 9, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY } as const;

/** zlib writes the OS byte of the build platform (3 unix, 10 Windows, 19 macOS); pin it to unix. */
export const GZIP_OS_OFFSET = 9;
export const GZIP_OS_UNIX = 3;

const PROBE_BYTES = 4096;
const PROBES = 8;
/**
 * Bits per byte above which a 4 KiB sample is taken as already compressed. Random bytes measure
 * about 7.95 over 4 KiB (a sample that small cannot show the full 8), deflate or xz output the
 * same; text is 4 to 5.5, machine code 5 to 6.5.
 */
const INCOMPRESSIBLE_BITS_PER_BYTE = 7.7;
const histogram = new Uint32Array(256);

/**
 * The deflate level a block gets: 0 (stored) when it is already compressed data (packages,
 * archives, images: the .debs of a Debian rootfs are 15 % of its bytes and were 25 % of zlib's
 * CPU, for 0.2 % of size). Eight 4 KiB samples spread over the block must each look random by
 * their byte entropy; a compressible block is known from its first sample. Entropy, not a trial
 * deflate: a deflate per sample allocated a zlib state each time, whose native memory the
 * collector freed late (RSS grew with the layer on Node 24). The choice depends only on the
 * bytes, so a layer is as reproducible as before.
 */
export function gzipLevelFor(level: number, data: Uint8Array): number {
  if (level === 0 || data.length < 4 * PROBE_BYTES) return level;
  for (let i = 0; i < PROBES; i++) {
    const at = Math.floor(((data.length - PROBE_BYTES) * i) / (PROBES - 1));
    if (bitsPerByte(data, at, PROBE_BYTES) < INCOMPRESSIBLE_BITS_PER_BYTE) return level;
  }
  return 0;
}

function bitsPerByte(data: Uint8Array, start: number, length: number): number {
  histogram.fill(0);
  for (let i = start; i < start + length; i++) histogram[data[i]!]!++;
  let bits = 0;
  for (let b = 0; b < 256; b++) {
    const n = histogram[b]!;
    if (n > 0) bits -= (n / length) * Math.log2(n / length);
  }
  return bits;
}

/**
 * Compresses one block into one self-contained gzip member (or zstd frame). Members
 * concatenate into a valid stream, so blocks can be compressed in any order on any thread.
 */
export function compressBlock(codec: BlockCodec, level: number, data: Uint8Array): Buffer {
  // One output chunk large enough for incompressible data avoids zlib's concatenation copy.
  const chunkSize = Math.max(64 << 10, data.length + (data.length >>> 3) + 1024);
  if (codec === 'gzip') {
    const out = zlib.gzipSync(data, { ...GZIP_PARAMS, level: gzipLevelFor(level, data), chunkSize });
    out[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
    return out;
  }
  const c = zstdZlib.constants;
  return zstdZlib.zstdCompressSync!(data, {
    chunkSize,
    params: { [c.ZSTD_c_compressionLevel!]: level, [c.ZSTD_c_checksumFlag!]: 1 },
  });
}
