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

/**
 * Compresses one block into one self-contained gzip member (or zstd frame). Members
 * concatenate into a valid stream, so blocks can be compressed in any order on any thread.
 */
export function compressBlock(codec: BlockCodec, level: number, data: Uint8Array): Buffer {
  // One output chunk large enough for incompressible data avoids zlib's concatenation copy.
  const chunkSize = Math.max(64 << 10, data.length + (data.length >>> 3) + 1024);
  if (codec === 'gzip') {
    const out = zlib.gzipSync(data, { ...GZIP_PARAMS, level, chunkSize });
    out[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
    return out;
  }
  const c = zstdZlib.constants;
  return zstdZlib.zstdCompressSync!(data, {
    chunkSize,
    params: { [c.ZSTD_c_compressionLevel!]: level, [c.ZSTD_c_checksumFlag!]: 1 },
  });
}
