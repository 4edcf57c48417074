import * as zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import { OcipushError } from '../../errors.js';

/** The zstd parts of node:zlib (Node >= 22.15 / 23.8), absent from Node 20's typings and runtime. */
interface ZstdZlib {
  createZstdCompress?: (options?: object) => Duplex;
  createZstdDecompress?: (options?: object) => Duplex;
  zstdCompressSync?: (data: Uint8Array, options?: object) => Buffer;
  constants: { ZSTD_c_compressionLevel?: number; ZSTD_c_checksumFlag?: number };
}

export const zstdZlib = zlib as unknown as ZstdZlib;

export function zstdAvailable(): boolean {
  return typeof zstdZlib.createZstdCompress === 'function';
}

export function assertZstdAvailable(): void {
  if (!zstdAvailable()) {
    throw new OcipushError('EUNSUPPORTED', `zstd compression needs Node >= 22.15 (this is Node ${process.versions.node}): use --compression gzip`);
  }
}
