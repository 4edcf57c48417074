import { binaryDigestOf } from '../../oci/digest.js';

/** A range's digests as they come back: SHA1's 20 bytes, then SHA256's 32. */
export const RANGE_DIGEST_BYTES = 52;

/**
 * SHA1 and SHA256 of each `[offset, length]` pair of `ranges` within `block`, one range after
 * the other (RANGE_DIGEST_BYTES each), in a buffer of its own (never a slice of Node's pool, so
 * a worker can transfer it). What an SBOM records of each file, computed where a file's bytes
 * already are: in the compression worker that compresses the block holding the whole file.
 */
export function digestRanges(block: Uint8Array, ranges: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafeSlow((ranges.length / 2) * RANGE_DIGEST_BYTES);
  for (let i = 0, at = 0; i < ranges.length; i += 2, at += RANGE_DIGEST_BYTES) {
    const bytes = block.subarray(ranges[i]!, ranges[i]! + ranges[i + 1]!);
    out.write(binaryDigestOf('sha1', bytes), at, 20, 'latin1');
    out.write(binaryDigestOf('sha256', bytes), at + 20, 32, 'latin1');
  }
  return out;
}

/** Takes digests computed later: RANGE_DIGEST_BYTES at `digests[at]`, for what `token` names. */
export interface DigestReceiver {
  digested(token: number, digests: Buffer, at: number): void;
}

/** Computes the SHA1 and SHA256 of byte ranges of the stream written into it, where those bytes go anyway. */
export interface RangeDigester {
  /** Whether the `length` bytes at stream offset `start` can be digested so: all in one block not yet sent. */
  acceptsRange(start: number, length: number): boolean;
  /** Gives the digests of those bytes to `receiver`, with `token`, once they are known (an accepted range only). */
  digestRange(start: number, length: number, receiver: DigestReceiver, token: number): void;
}
