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
 * The deflate level a block gets: 0 (stored) when it is already compressed data (packages,
 * archives, images: the .debs of a Debian rootfs are 15 % of its bytes and were 25 % of zlib's
 * CPU, for 0.2 % of size). Eight 4 KiB samples spread over the block, deflated at level 1, must
 * each stay above 97 % of their size (fewer samples stored blocks that were partly text: three
 * cost /usr/share 0.6 % of size); a compressible block is known from its first sample, 0.4 % of
 * its bytes. The choice depends only on the bytes, so a layer is as reproducible as before.
 * Simulated on 1 MiB blocks: a Debian minbase tar 16 % less zlib CPU for +0.05 % of size; a
 * /usr/share tar the same CPU, +0.09 % (docs/benchmarks.md).
 */
export function gzipLevelFor(level: number, data: Uint8Array): number {
  if (level === 0 || data.length < 4 * PROBE_BYTES) return level;
  for (let i = 0; i < PROBES; i++) {
    const at = Math.floor(((data.length - PROBE_BYTES) * i) / (PROBES - 1));
    const sample = data.subarray(at, at + PROBE_BYTES);
    if (zlib.deflateRawSync(sample, PROBE_PARAMS).length <= sample.length * 0.97) return level;
  }
  return 0;
}

/** A 4 KiB window and small hash tables are all a 4 KiB sample needs (20 KB of state, not 256). */
const PROBE_PARAMS = { level: 1, windowBits: 12, memLevel: 4 } as const;

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
