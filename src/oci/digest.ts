import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import { OcipushError } from '../errors.js';

/** `sha256:<64 hex>` (sha512 is accepted when read, never produced). */
export type Digest = `${string}:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

export function parseDigest(value: string, what = 'digest'): Digest {
  if (!isDigest(value)) throw new OcipushError('EINVALID', `invalid ${what} "${value}": expected sha256:<64 hex digits>`);
  return value;
}

export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(':'));
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${hexDigestOf('sha256', data)}`;
}

/** The digest of `data` by the algorithm `name` is of (sha256 or sha512): bytes checked against a name of either. */
export function digestAs(name: Digest, data: string | Uint8Array): Digest {
  const algorithm = digestAlgorithm(name);
  return `${algorithm}:${hexDigestOf(algorithm, data)}`;
}

/** crypto.hash where Node has it (20.12+, 21.7+): one call and no Hash object, for many small inputs. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding?: 'hex' | 'latin1') => string }).hash;

/** The hex digest of `data` with `algorithm` (sha1, sha256 …), in one call. */
export function hexDigestOf(algorithm: string, data: string | Uint8Array): string {
  return oneShot ? oneShot(algorithm, data) : createHash(algorithm).update(data).digest('hex');
}

/**
 * The digest's bytes as a latin1 string (one character a byte), in one call: for many small
 * inputs whose digests are stored as bytes, a short string costs the collector less than a Buffer.
 */
export function binaryDigestOf(algorithm: string, data: string | Uint8Array): string {
  return oneShot ? oneShot(algorithm, data, 'latin1') : createHash(algorithm).update(data).digest('binary');
}

/** An incremental digester: feed it bytes, read the digest and the count at the end. */
export class Digester {
  private readonly hash: Hash;
  private count = 0;
  readonly algorithm: string;

  constructor(algorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.count += chunk.length;
  }

  get size(): number {
    return this.count;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}
