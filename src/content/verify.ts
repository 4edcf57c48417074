import { Transform, type TransformCallback } from 'node:stream';
import { Digester, digestAlgorithm, type Digest } from '../oci/digest.js';
import { OcipushError } from '../errors.js';

export interface Expected {
  digest: Digest;
  size: number;
}

/**
 * Hashes bytes as they come and checks them against a descriptor: `update` throws EDIGEST as
 * soon as more bytes than expected arrive, `finish` if the size or digest differ.
 */
export class ChunkVerifier {
  private readonly digester: Digester;

  constructor(private readonly expected: Expected, private readonly what: string) {
    this.digester = new Digester(digestAlgorithm(expected.digest));
  }

  update(chunk: Uint8Array): void {
    this.digester.update(chunk);
    if (this.digester.size > this.expected.size) {
      throw new OcipushError('EDIGEST', `${this.what}: more than the expected ${this.expected.size} bytes`, { digest: this.expected.digest });
    }
  }

  finish(): void {
    const size = this.digester.size;
    if (size !== this.expected.size) {
      throw new OcipushError('EDIGEST', `${this.what}: size ${size} does not match the expected ${this.expected.size}`, { digest: this.expected.digest });
    }
    const actual = this.digester.digest();
    if (actual !== this.expected.digest) {
      throw new OcipushError('EDIGEST', `${this.what}: content has digest ${actual}, expected ${this.expected.digest}`, { digest: this.expected.digest });
    }
  }
}

/**
 * Passes bytes through while hashing them; fails the stream (EDIGEST) as soon as more bytes than
 * expected arrive, and at the end if the digest or size differ. A reader that consumes the whole
 * stream without an error has exactly the expected content.
 */
export class VerifyingStream extends Transform {
  private readonly verifier: ChunkVerifier;

  constructor(expected: Expected, what: string) {
    super();
    this.verifier = new ChunkVerifier(expected, what);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.verifier.update(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.verifier.finish();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}

/** Reads a whole small stream (a manifest or config) into memory, refusing more than `limit` bytes. */
export async function readSmall(stream: NodeJS.ReadableStream, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new OcipushError('EINVALID', `${what}: larger than ${limit} bytes, refusing to read it into memory`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Manifests, indexes and configs are read whole; this bounds how large one may be (4 MiB, as registries cap). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;
