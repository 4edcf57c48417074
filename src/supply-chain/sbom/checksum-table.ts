import type { Hash } from 'node:crypto';

/**
 * The SHA1 and SHA256 of many files, as bytes in one growing buffer. A build records tens of
 * thousands of files while its cores compress: two hex strings per file, alive until the SBOM is
 * written, were two more objects per file for the collector to copy and promote (and 20 MB more
 * at the peak of `build --sbom` on Node 24); here they are 52 bytes of one buffer, turned back
 * into hex only as the document is written.
 */
export class ChecksumTable {
  private bytes = Buffer.allocUnsafe(ROW * 1024);
  private rows = 0;

  /** Stores one file's digests (as bytes, as binaryDigestOf's strings or as finished hashes); returns its row. */
  add(sha1: Digested, sha256: Digested): number {
    const row = this.reserve();
    this.put(row, 'sha1', sha1);
    this.put(row, 'sha256', sha256);
    return row;
  }

  /** A row whose digests come later (`set`); returns it. */
  reserve(): number {
    if ((this.rows + 1) * ROW > this.bytes.length) {
      const larger = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(larger);
      this.bytes = larger;
    }
    return this.rows++;
  }

  /** Fills a reserved row from SHA1's 20 bytes and SHA256's 32 at `digests[at]` (a row's own layout). */
  set(row: number, digests: Buffer, at: number): void {
    digests.copy(this.bytes, row * ROW, at, at + ROW);
  }

  sha1(row: number): string { return this.hex(row, 'sha1'); }
  sha256(row: number): string { return this.hex(row, 'sha256'); }

  /** Writes one digest of `row` as lowercase hex at `out[at]` (as `sha1`/`sha256` give it); returns where it ended. */
  putHex(row: number, digest: Algorithm, out: Buffer, at: number): number {
    const from = row * ROW + OFFSET[digest];
    const end = from + LENGTH[digest];
    for (let i = from; i < end; i++) {
      const b = this.bytes[i]!;
      out[at++] = HEX_DIGITS[b >> 4]!;
      out[at++] = HEX_DIGITS[b & 15]!;
    }
    return at;
  }

  private hex(row: number, digest: Algorithm): string {
    const from = row * ROW + OFFSET[digest];
    return this.bytes.toString('hex', from, from + LENGTH[digest]);
  }

  private put(row: number, digest: Algorithm, value: Digested): void {
    const at = row * ROW + OFFSET[digest];
    if (typeof value === 'string') this.bytes.write(value, at, LENGTH[digest], 'latin1');
    else if (value instanceof Uint8Array) this.bytes.set(value, at);
    else value.digest().copy(this.bytes, at);
  }
}

export type Algorithm = 'sha1' | 'sha256';
/** A digest as its bytes, as a string of them (one latin1 character a byte), or as a hash not yet finished. */
export type Digested = Hash | string | Uint8Array;
/** A row of the table: SHA1's 20 bytes, then SHA256's 32. */
const LENGTH = { sha1: 20, sha256: 32 } as const;
const OFFSET = { sha1: 0, sha256: LENGTH.sha1 } as const;
const ROW = LENGTH.sha1 + LENGTH.sha256;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
