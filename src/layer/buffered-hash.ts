import { createHash, type Hash } from 'node:crypto';

/**
 * A hash fed through a 64 KiB buffer. A layer cache key (cache-key.ts) hashes a few short fields
 * for each of tens of thousands of entries, and each update of the hash itself is a call into
 * native code. Strings go in as UTF-8, as `hash.update(string)` takes them: the digest is the same.
 */
export class BufferedHash {
  private readonly hash: Hash;
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);
  private used = 0;

  constructor(algorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }

  add(part: Uint8Array | string): void {
    if (typeof part === 'string') this.text(part);
    else this.bytes(part);
  }

  text(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (s.length * 3 > this.buffer.length - this.used) {
      this.flush();
      if (s.length * 3 > this.buffer.length) {
        this.hash.update(s);
        return;
      }
    }
    this.used += this.buffer.write(s, this.used);
  }

  bytes(b: Uint8Array): void {
    if (b.length > this.buffer.length - this.used) {
      this.flush();
      if (b.length > this.buffer.length) {
        this.hash.update(b);
        return;
      }
    }
    this.buffer.set(b, this.used);
    this.used += b.length;
  }

  hex(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  private flush(): void {
    if (this.used === 0) return;
    this.hash.update(this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}
