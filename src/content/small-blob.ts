import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fromSystemError, type OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { ChunkVerifier } from './verify.js';

/** Blobs up to this size (manifests, configs) are read in one go by readSmallBlob. */
export const SMALL_BLOB_BYTES = 64 * 1024;

/**
 * A small blob's file read in one go and checked as a verifying stream checks it, with the same
 * errors, given to the reader through the stream: for 500 bytes, a file stream, a pipeline and a
 * transform were a few ms of a short command's start. Reads at most one byte more than declared.
 */
export async function readSmallBlob(path: string, desc: Pick<Descriptor, 'digest' | 'size'>, what: string, missing: () => OcipushError): Promise<Readable> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw missing();
    throw fromSystemError(err, path, 'cannot read');
  });
  const buffer = Buffer.allocUnsafe(desc.size + 1);
  let length = 0;
  try {
    while (length < buffer.length) {
      const { bytesRead } = await fh.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
  } catch (err) {
    return failing(fromSystemError(err, path, 'cannot read'));
  } finally {
    await fh.close().catch(() => {});
  }
  const bytes = buffer.subarray(0, length);
  try {
    const verifier = new ChunkVerifier(desc, what);
    verifier.update(bytes);
    verifier.finish();
  } catch (err) {
    return failing(err as Error);
  }
  return Readable.from([bytes], { objectMode: false });
}

/** A stream that fails with `err` when read, as a file stream whose bytes are wrong does. */
function failing(err: Error): Readable {
  return new Readable({ read() { this.destroy(err); } });
}
