import * as zlib from 'node:zlib';
import { PassThrough, Readable, type Duplex } from 'node:stream';
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
const ZSTD_SKIPPABLE = 0x184d2a50;

/** Bytes of a blob's start that `sniffCompression` needs for a sure answer (a skippable frame's header). */
export const SNIFF_BYTES = 8;

/** Whether a zstd skippable frame (magic 0x184D2A50..5F, then its 4-byte little-endian length) starts at `at`, its header whole. */
export function isZstdSkippableFrame(bytes: Uint8Array, at = 0): boolean {
  return at + 8 <= bytes.length && ((bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) & 0xfffffff0) >>> 0 === ZSTD_SKIPPABLE;
}

/**
 * The compression of a blob or tar file, from its first `SNIFF_BYTES` bytes. A zstd stream may
 * start with a skippable frame (magic 0x184D2A50..5F, then its length: pzstd writes one ahead of
 * its frames); containerd, go-archive (docker load, ADD) and the zstd command take it as zstd.
 */
export function sniffCompression(head: Uint8Array): Compression {
  const starts = (magic: number[]) => magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  if (isZstdSkippableFrame(head)) return 'zstd';
  return 'none';
}

/**
 * A layer's bytes decompressed by what they are, as containerd, containers/image and crane read a
 * layer: gzip or zstd known by their magic numbers, anything else a tar as it is, whatever the
 * media type says. Images older tools pushed have `…tar.gzip` layers whose bytes are a plain tar
 * (or the reverse, or a 0-byte layer called gzip): runtimes run them, so rootfs, flatten, sbom and
 * `COPY --from` read them too (`validate` names the mismatch). `body` is read until its first
 * bytes are known, then streams on whole; it is destroyed when this fails.
 */
export async function decompressedLayer(body: Readable): Promise<{ stream: Readable; compression: Compression }> {
  try {
    return await sniffedLayer(body);
  } catch (err) {
    // Nothing will read the body now: its file or connection is closed here, not by each caller.
    body.destroy();
    throw err;
  }
}

async function sniffedLayer(body: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const { head, rest } = await peek(body, SNIFF_BYTES);
  const compression = sniffCompression(head);
  if (compression === 'none') return { stream: rest, compression };
  const decompressor = createDecompressor(compression);
  rest.on('error', (err) => decompressor.destroy(err));
  decompressor.on('close', () => { if (!rest.readableEnded) rest.destroy(); });
  return { stream: rest.pipe(decompressor), compression };
}

/** The first `n` bytes of `stream` (fewer if it ends first), and the stream that still reads them. */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n && !stream.readableEnded) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    // 'end' may have come with the read() that found nothing more.
    if (stream.readableEnded) break;
    if (stream.destroyed) {
      // Its 'error' event is still to come: the caller has the error from here.
      stream.on('error', () => {});
      throw stream.errored ?? new Error('the stream closed before it ended');
    }
    await new Promise<void>((resolve, reject) => {
      const settle = (fn: () => void) => {
        stream.off('readable', settled);
        stream.off('end', settled);
        stream.off('close', onClose);
        stream.off('error', onError);
        fn();
      };
      const settled = () => settle(resolve);
      const onClose = () => settle(() => (stream.readableEnded ? resolve() : reject(stream.errored ?? new Error('the stream closed before it ended'))));
      const onError = (err: Error) => settle(() => reject(err));
      stream.on('readable', settled);
      stream.on('end', settled);
      stream.on('close', onClose);
      stream.on('error', onError);
    });
  }
  const all = Buffer.concat(chunks);
  if (stream.readableEnded) return { head: all.subarray(0, n), rest: Readable.from(all.length > 0 ? [all] : []) };
  if (all.length > 0) stream.unshift(all);
  return { head: all.subarray(0, n), rest: stream };
}
