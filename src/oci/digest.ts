import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import { OcipushError } from '../errors.js';

/** `sha256:<64 hex>` (sha512 is accepted when read, never produced). */
export type Digest = `${string}:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** Whether a name (a layout's, after `oci:DIR:`) is written as a digest, well-formed or not: it names no tag. */
export function namesDigest(name: string): boolean {
  return /^sha(?:256|512):/.test(name);
}

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

/**
 * Why `value` is no digest ocipush reads, in a few words (undefined when it is one): what the
 * image spec's grammar and its registered algorithms refuse, as go-digest's Validate does.
 */
export function digestProblem(value: unknown): string | undefined {
  if (isDigest(value)) return undefined;
  if (typeof value !== 'string') return value === undefined ? 'no digest' : `digest is ${describeJson(value)}, not a string`;
  const text = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(value);
  if (!m) return `digest ${text} is not ALGORITHM:HEX`;
  const [, algorithm, hex] = m as unknown as [string, string, string];
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) return `digest ${text}: ${algorithm} is not an algorithm ocipush reads (sha256, sha512)`;
  if (/^[a-fA-F0-9]+$/.test(hex) && /[A-F]/.test(hex)) return `digest ${text} has upper-case hex digits (the image spec allows only a-f0-9)`;
  if (!/^[a-f0-9]+$/.test(hex)) return `digest ${text} holds characters that are not hex digits`;
  return `digest ${text}: a ${algorithm} digest has ${length} hex digits, not ${hex.length}`;
}

/** A JSON value named in a message: `a number (5)`, `null`, `a list`. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const shown = JSON.stringify(value) ?? String(value);
  return `a ${typeof value} (${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown})`;
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
