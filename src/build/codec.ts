import * as zlib from 'node:zlib';
import { PassThrough, type Duplex } from 'node:stream';
import { OcipushError } from '../errors.js';
import type { Compression } from '../oci/media-types.js';

/**
 * The one place the layer builder gets its compressors from. Until the parallel compressor in
 * ./compress/ lands, a thin adapter over node:zlib with the same API.
 */
export interface CompressorOptions {
  compression: Compression;
  level?: number;
  threads?: number;
}

type ZstdZlib = typeof zlib & {
  createZstdCompress?: (o?: object) => Duplex;
  createZstdDecompress?: (o?: object) => Duplex;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};
const z = zlib as ZstdZlib;

export function zstdAvailable(): boolean {
  return typeof z.createZstdCompress === 'function';
}

export function createCompressor(options: CompressorOptions): Duplex {
  switch (options.compression) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return zlib.createGzip({ level: options.level ?? 6, chunkSize: 1 << 20 });
    case 'zstd':
      if (!zstdAvailable()) throw zstdMissing();
      return z.createZstdCompress!(options.level === undefined ? {} : { params: { [z.constants.ZSTD_c_compressionLevel!]: options.level } });
  }
}

export function createDecompressor(compression: Compression): Duplex {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 1 << 20 });
    case 'zstd':
      if (!zstdAvailable()) throw zstdMissing();
      return z.createZstdDecompress!();
  }
}

function zstdMissing(): OcipushError {
  return new OcipushError('EUNSUPPORTED', `zstd needs a Node.js with zlib zstd support (22.15 or later); this is ${process.version}: use --compression gzip`);
}
