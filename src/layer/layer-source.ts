import { closeSync, openSync, readSync } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { OcipushError, fromSystemError, systemReason } from '../errors.js';
import type { Compression } from '../oci/media-types.js';
import { createDecompressor, sniffCompression, zstdAvailable } from './codec.js';
import type { ChunkProducer } from './tar.js';
import { headerChecksums } from './tar-fields.js';

/** What a positional rootfs argument turned out to be. */
export type LayerSource =
  | { kind: 'directory'; path: string }
  | { kind: 'tar'; path: string; compression: Compression };

const PROBE_BYTES = 64 * 1024;

/**
 * Looks at a rootfs argument: a directory, or a tar file plain or compressed. The kind comes
 * from the content (magic bytes, then a tar header checksum), never from the file name.
 */
export async function inspectSource(arg: string): Promise<LayerSource> {
  const fail = (why: string, cause?: unknown): never => {
    throw new OcipushError('EROOTFS', `rootfs ${arg}: ${why}`, { path: arg, cause });
  };
  // A pipe is never opened here (that would wait for its writer), nor read as a layer: a tar is
  // read again when it must be written anew, and the layer cache knows a file by its stat.
  const pipe = 'a pipe, not a file: a tar rootfs is read from a file (write the stream to one first, … > layer.tar, and build layer.tar)';
  let path: string;
  try {
    path = await realpath(arg);
  } catch (err) {
    // /dev/stdin, <(…): a link to "pipe:[…]", which no path names.
    if (await stat(arg).then((st) => st.isFIFO() || st.isSocket(), () => false)) return fail(pipe);
    const stdin = arg === '-' ? '; standard input is not read as a rootfs: write the tar to a file first (… > layer.tar) and build layer.tar' : '';
    return fail(`${systemReason(err as NodeJS.ErrnoException)}${stdin}`, err);
  }
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => fail(systemReason(err), err));
  if (st.isFIFO() || st.isSocket()) return fail(pipe);
  if (st.isDirectory()) {
    await readdir(path).catch((err: NodeJS.ErrnoException) => fail(`cannot read directory: ${systemReason(err)}`, err));
    return { kind: 'directory', path };
  }
  if (!st.isFile()) return fail('neither a directory nor a tar file');
  const head = await readHead(path).catch((err: NodeJS.ErrnoException) => fail(`cannot read: ${systemReason(err)}`, err));
  const compression = compressionOf(head);
  if (compression === 'xz' || compression === 'bzip2') {
    return fail(`${compression}-compressed files are not supported as layers (decompress it, or recompress with gzip)`);
  }
  if (compression === 'zstd' && !zstdAvailable()) {
    throw new OcipushError('EUNSUPPORTED', `rootfs ${arg}: a zstd-compressed tar needs Node.js >= 22.15 (this is ${process.version}); decompress it first`, { path: arg });
  }
  let block = head;
  if (compression !== 'none') {
    try {
      block = await decompressPrefix(head, compression);
    } catch (err) {
      return fail(`not a valid ${compression} file (${(err as Error).message})`, err);
    }
  }
  if (!isTarHeader(block)) {
    // `ocipush build Dockerfile`: the Dockerfile given as a rootfs rather than with -f.
    const dockerfile = compression === 'none' && /^(?:docker|container)file(?:\..*)?$|\.(?:docker|container)file$/i.test(basename(arg));
    const hint = dockerfile ? `; a Dockerfile is built with -f: ocipush build -f ${arg} ${dirname(arg)}` : '';
    return fail(compression === 'none' ? `neither a directory nor a tar file${hint}` : `a ${compression} file that does not hold a tar archive`);
  }
  return { kind: 'tar', path, compression };
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(PROBE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function compressionOf(head: Buffer): Compression | 'xz' | 'bzip2' {
  const sniffed = sniffCompression(head);
  if (sniffed !== 'none') return sniffed;
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

/** The first bytes of a compressed file, decompressed (enough to see a tar header). */
async function decompressPrefix(head: Buffer, compression: Compression): Promise<Buffer> {
  const d = createDecompressor(compression);
  const out: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    const done = () => { d.removeAllListeners(); d.on('error', () => {}); d.destroy(); resolve(Buffer.concat(out).subarray(0, 512)); };
    d.on('data', (c: Buffer) => { out.push(c); total += c.length; if (total >= 512) done(); });
    // A probe of a larger file ends mid-stream: whatever came out by then is what we have.
    d.on('error', (err: NodeJS.ErrnoException) => (total > 0 || err.code === 'Z_BUF_ERROR' ? done() : reject(err)));
    d.on('end', done);
    d.end(head);
  });
}

/** A tar header block: an all-zero block (an empty archive) or a block whose checksum holds. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.subarray(0, 512).every((b) => b === 0)) return true;
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/g, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  // Either sum, as GNU tar and Go's archive/tar take it (old Sun and BSD tars summed signed bytes).
  return headerChecksums(block).includes(Number.parseInt(field, 8));
}

/**
 * A file read in order into buffers its consumer recycles (pumpTar's contract): a tar file of any
 * size is read through the same few buffers, where a read stream allocates one per chunk and
 * leaves them to the garbage collector.
 */
export class FileChunks implements ChunkProducer {
  /** Bytes read so far. */
  bytes = 0;
  private fd: number | undefined;

  constructor(private readonly path: string, readonly bufferSize = 1 << 20) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw fromSystemError(err, path, 'cannot read');
    }
  }

  next(buffer?: Buffer): Buffer | null {
    if (this.fd === undefined) return null;
    const chunk = buffer && buffer.length >= this.bufferSize ? buffer : Buffer.allocUnsafeSlow(this.bufferSize);
    let n: number;
    try {
      n = readSync(this.fd, chunk, 0, this.bufferSize, null);
    } catch (err) {
      this.close();
      throw fromSystemError(err, this.path, 'cannot read');
    }
    if (n === 0) {
      this.close();
      return null;
    }
    this.bytes += n;
    return chunk.subarray(0, n);
  }

  close(): void {
    if (this.fd === undefined) return;
    try { closeSync(this.fd); } catch { /* already failing */ }
    this.fd = undefined;
  }
}
