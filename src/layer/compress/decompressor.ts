import * as zlib from 'node:zlib';
import { PassThrough, type Duplex } from 'node:stream';
import { OcipushError } from '../../errors.js';
import type { Compression } from '../../oci/media-types.js';
import { zstdAvailable } from './zstd-support.js';
import { ZstdDecompressor } from './zstd-decompressor.js';
import { commandDecompressor, hasTool } from './command-decompressor.js';

/**
 * A decompressor for a layer blob. Node's gunzip reads every member of a multi-member stream
 * (what createCompressor writes); for zstd, ZstdDecompressor makes sure every frame is read. Where
 * Node's zlib has no zstd (Node 20), the `zstd` command reads it, as it reads a zstd archive; with
 * neither, EUNSUPPORTED says what would read it.
 */
export function createDecompressor(compression: Compression): Duplex {
  switch (compression) {
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 1 << 20 });
    case 'zstd':
      if (zstdAvailable()) return new ZstdDecompressor();
      if (hasTool('zstd')) return commandDecompressor(['zstd', '-dcq']);
      throw new OcipushError('EUNSUPPORTED', `zstd-compressed data needs Node.js >= 22.15 or the \`zstd\` command to be read (this is Node.js ${process.version}, and no \`zstd\` command is installed)`);
    default:
      throw new OcipushError('EUSAGE', `unknown compression "${String(compression)}": expected gzip, zstd or none`);
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The compression of a blob or tar file, from its first bytes (at least 4 for a sure answer). */
export function sniffCompression(head: Uint8Array): Compression {
  const starts = (magic: number[]) => magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}
