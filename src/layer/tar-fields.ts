import { BLOCK } from './tar-header.js';

/**
 * Reading a tar header's fields, for the two tar readers: the one that follows a tar as its bytes
 * go by (tar-reader.ts) and the one that indexes an archive file by its headers
 * (archive/tar-index.ts). Names stay bytes (a path need not be UTF-8).
 */

/** The bytes before the first NUL (all of them without one). */
export function untilNul(buf: Buffer): Buffer {
  const end = buf.indexOf(0);
  return end < 0 ? buf : buf.subarray(0, end);
}

/** A NUL-terminated text field, copied out of the block. */
export function headerField(block: Buffer, at: number, len: number): Buffer {
  return Buffer.from(untilNul(block.subarray(at, at + len)));
}

/** POSIX ustar: `prefix/name` (GNU's magic has no prefix field there). */
export function ustarName(block: Buffer): Buffer {
  const name = headerField(block, 0, 100);
  if (block.toString('latin1', 257, 263) !== 'ustar\0') return name;
  const prefix = headerField(block, 345, 155);
  return prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
}

/**
 * Octal, or GNU base-256 when the first byte has its high bit set: two's complement, negative
 * when the next bit is set too (GNU tar writes a time before 1970 so in its own format).
 */
export function headerNumber(block: Buffer, at: number, len: number): number {
  if (block[at]! & 0x80) {
    const negative = (block[at]! & 0x40) !== 0;
    const inv = negative ? 0xff : 0;
    let value = (block[at]! ^ inv) & 0x7f;
    for (let i = at + 1; i < at + len; i++) value = value * 256 + (block[i]! ^ inv);
    return negative ? -value - 1 : value;
  }
  const text = block.toString('latin1', at, at + len).replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/**
 * The header's checksum field matches its bytes (the field itself counted as spaces), summed as
 * unsigned bytes or, as old Sun and BSD tars wrote it, signed ones: GNU tar and Go's archive/tar
 * (umoci, containerd) take either.
 */
export function headerChecksumHolds(block: Buffer): boolean {
  const [unsigned, signed] = headerChecksums(block);
  const field = headerNumber(block, 148, 8);
  return field === unsigned || field === signed;
}

/** The unsigned and the signed sum of a header's bytes, its checksum field counted as spaces. */
export function headerChecksums(block: Buffer): [number, number] {
  let unsigned = 8 * 0x20;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = block[i]!;
    unsigned += b;
    if (b >= 0x80) high++;
  }
  return [unsigned, unsigned - 256 * high];
}

/**
 * `LEN key=value\n` records; values kept as bytes. The one key that repeats, GNU sparse 0.0's
 * `GNU.sparse.offset` / `GNU.sparse.numbytes` pairs, is joined into the `GNU.sparse.map` of
 * sparse 0.1, as Go's archive/tar reads it: a map keeping only the last pair lost the file.
 */
export function paxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const sparse: string[] = [];
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number.parseInt(data.toString('latin1', at, space), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) break;
    const record = data.subarray(space + 1, at + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      // latin1: a key keeps its bytes (an xattr name need not be UTF-8); the keys looked up are ASCII.
      const key = record.toString('latin1', 0, eq);
      if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') sparse.push(record.toString('latin1', eq + 1));
      else out.set(key, Buffer.from(record.subarray(eq + 1)));
    }
    at += len;
  }
  if (sparse.length > 0) out.set('GNU.sparse.map', Buffer.from(sparse.join(',')));
  return out;
}
