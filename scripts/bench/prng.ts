import { createCipheriv, createHash, type Cipher } from 'node:crypto';

/**
 * sfc32, a small fast PRNG with good statistical quality. The fixture must be the same tree on
 * every machine and Node version, so nothing here may depend on Math.random or on the platform.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    const h = createHash('sha256').update(`rng:${seed}`).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12) | 1;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)]!;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Incompressible bytes, fast and reproducible: AES-128-CTR of zeros under a key derived from the
 * seed. A JS PRNG would be ~50× slower for the hundreds of megabytes a fixture needs.
 */
export class ByteStream {
  private readonly cipher: Cipher;
  private zeros = Buffer.alloc(0);

  constructor(seed: string) {
    const h = createHash('sha256').update(`bytes:${seed}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', h.subarray(0, 16), h.subarray(16, 32));
  }

  /** The next `length` bytes of the stream, in a fresh buffer. */
  take(length: number): Buffer {
    if (this.zeros.length < length) this.zeros = Buffer.alloc(Math.max(length, 1 << 20));
    return this.cipher.update(this.zeros.subarray(0, length));
  }
}
