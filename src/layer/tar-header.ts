/**
 * POSIX (pax) tar header encoding. ocipush writes its own headers rather than going through
 * tar-stream's `pack`: a layer of 53,000 files is 53,000 entries, and a pure function that writes
 * 512 bytes straight into the output chunk costs a fraction of a stream per entry. What a ustar
 * header cannot hold (long or non-ASCII names, sizes ≥ 8 GiB, large ids, xattrs) goes into a pax
 * extended header (`x`) before the entry, as Go's archive/tar (umoci, containerd) reads it.
 */
import { isUtf8 } from 'node:buffer';
import type { EntryAttributes } from './entry-attributes.js';

export const BLOCK = 512;

export const TarType = {
  File: '0',
  HardLink: '1',
  Symlink: '2',
  CharDevice: '3',
  BlockDevice: '4',
  Directory: '5',
  Fifo: '6',
  PaxHeader: 'x',
} as const;
export type TarTypeFlag = (typeof TarType)[keyof typeof TarType];

/** One tar entry's header; an `mtime` before 1970 goes in pax (the ustar field says 0), as Go and GNU tar write it. */
export interface TarHeader extends EntryAttributes {
  /** Path inside the archive, raw bytes (directories end with `/`). */
  name: Buffer;
  type: TarTypeFlag;
  linkname?: Buffer;
  /** Owner names, kept when an entry of another tar is written again (a build leaves them empty). */
  uname?: Buffer;
  gname?: Buffer;
  /** Encoded pax records (`record`): a walked entry's xattrs, or those carried over from another tar (xattrs, sub-second times). */
  paxExtra?: Buffer;
}

const NAME_LEN = 100;
const PREFIX_LEN = 155;
const MAX_OCTAL_7 = 0o7777777; // 8-byte fields: 7 digits + NUL
const MAX_OCTAL_11 = 0o77777777777; // 12-byte fields: 11 digits + NUL (8 GiB - 1)
const PAX_NAME = Buffer.from('././@PaxHeader'); // a fixed name (GNU tar's default embeds the pid)

/**
 * Bytes this entry's header(s) take: 512, or more with a pax extended header in front. `pax`:
 * paxRecords(h), when the caller has it already (a tar producer sizes each header, then writes it).
 */
export function encodedHeaderSize(h: TarHeader, pax = paxRecords(h)): number {
  return pax === null ? BLOCK : BLOCK + padded(pax.length) + BLOCK;
}

/** Writes the header(s) of `h` at `buf[offset]` and returns the bytes written (a multiple of 512). */
export function writeHeader(h: TarHeader, buf: Buffer, offset: number, pax = paxRecords(h)): number {
  let at = offset;
  if (pax !== null) {
    writeUstar({
      name: PAX_NAME, type: TarType.PaxHeader, mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0,
    }, buf, at, NO_SPLIT);
    at += BLOCK;
    pax.copy(buf, at);
    buf.fill(0, at + pax.length, at + padded(pax.length));
    at += padded(pax.length);
  }
  writeUstar(h, buf, at, splitName(h.name));
  return at + BLOCK - offset;
}

export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');

/*
 * A header is written for every entry of a layer, tens of thousands of times per build: what
 * follows allocates nothing (no digit strings, no sub-buffers, no split objects). A quarter of
 * the garbage a build made was headers, and every collection it caused copied what the pipeline
 * had in flight.
 */

/** The ustar header of `h`; `split` from splitName (for a name pax carries, the first 100 bytes go in `name`). */
function writeUstar(h: TarHeader, buf: Buffer, at: number, split: number): void {
  buf.fill(0, at, at + BLOCK);
  if (split > 0) {
    h.name.copy(buf, at, split + 1);
    h.name.copy(buf, at + 345, 0, split);
  } else {
    h.name.copy(buf, at, 0, Math.min(h.name.length, NAME_LEN));
  }
  writeOctal(buf, at + 100, 8, h.mode & 0o7777);
  writeNumber(buf, at + 108, 8, h.uid);
  writeNumber(buf, at + 116, 8, h.gid);
  writeNumber(buf, at + 124, 12, h.size);
  writeNumber(buf, at + 136, 12, Math.max(0, h.mtime));
  buf[at + 156] = h.type.charCodeAt(0);
  if (h.linkname) h.linkname.copy(buf, at + 157, 0, Math.min(h.linkname.length, NAME_LEN));
  USTAR_MAGIC.copy(buf, at + 257);
  // A build leaves uname/gname empty: names differ between machines, ids are what a runtime uses.
  if (h.uname) h.uname.copy(buf, at + 265, 0, Math.min(h.uname.length, 31));
  if (h.gname) h.gname.copy(buf, at + 297, 0, Math.min(h.gname.length, 31));
  if (h.type === TarType.CharDevice || h.type === TarType.BlockDevice) {
    writeNumber(buf, at + 329, 8, h.devmajor ?? 0);
    writeNumber(buf, at + 337, 8, h.devminor ?? 0);
  }
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += buf[i]!;
  writeOctal(buf, at + 148, 7, sum); // 6 digits, NUL, then the space already there
}

/** Octal, zero-padded, NUL-terminated, in a field of `len` bytes (the value fits: writeNumber checks). */
function writeOctal(buf: Buffer, at: number, len: number, value: number): void {
  // Division, not shifts: a size field holds up to 33 bits.
  let v = value;
  for (let i = at + len - 2; i >= at; i--) {
    buf[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  buf[at + len - 1] = 0;
}

/** Octal when it fits, else GNU base-256 (the pax record carries the exact value as well). */
function writeNumber(buf: Buffer, at: number, len: number, value: number): void {
  if (value <= (len === 8 ? MAX_OCTAL_7 : MAX_OCTAL_11)) {
    writeOctal(buf, at, len, value);
    return;
  }
  buf.fill(0, at, at + len);
  buf[at] = 0x80;
  let v = BigInt(value);
  for (let i = at + len - 1; i > at; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** splitName's answer for a name that fits the 100-byte name field whole. */
const NO_SPLIT = 0;
/** splitName's answer for a name only pax can carry. */
const PAX_ONLY = -1;

/**
 * Where a ustar header splits `name` into prefix and name: NO_SPLIT when it fits the name field,
 * PAX_ONLY when it cannot be split (pax then carries it), else the index of the slash between.
 */
function splitName(name: Buffer): number {
  if (!isPortable(name)) return PAX_ONLY;
  if (name.length <= NAME_LEN) return NO_SPLIT;
  // Split at a slash so that the prefix ≤ 155 and the rest ≤ 100 (a directory's trailing slash
  // belongs to the name part).
  const searchEnd = Math.min(name.length - 2, PREFIX_LEN);
  for (let i = searchEnd; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    return name.length - i - 1 > NAME_LEN ? PAX_ONLY : i;
  }
  return PAX_ONLY;
}

/** Printable ASCII only: anything else goes into pax, which every reader decodes the same way. */
function isPortable(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** The pax extended header body for `h`, or null when a plain ustar header holds everything. */
export function paxRecords(h: TarHeader): Buffer | null {
  const pathInPax = splitName(h.name) === PAX_ONLY;
  const linkInPax = h.linkname !== undefined && (h.linkname.length > NAME_LEN || !isPortable(h.linkname));
  if (!pathInPax && !linkInPax && h.size <= MAX_OCTAL_11 && h.uid <= MAX_OCTAL_7 && h.gid <= MAX_OCTAL_7
    && h.mtime >= 0 && h.mtime <= MAX_OCTAL_11 && !h.paxExtra) return null;
  const records: Buffer[] = [];
  let binary = false;
  if (pathInPax) {
    records.push(record('path', h.name));
    binary ||= !isUtf8(h.name);
  }
  if (linkInPax) {
    records.push(record('linkpath', h.linkname!));
    binary ||= !isUtf8(h.linkname!);
  }
  if (h.size > MAX_OCTAL_11) records.push(record('size', Buffer.from(String(h.size))));
  if (h.uid > MAX_OCTAL_7) records.push(record('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_OCTAL_7) records.push(record('gid', Buffer.from(String(h.gid))));
  if (h.mtime < 0 || h.mtime > MAX_OCTAL_11) records.push(record('mtime', Buffer.from(String(h.mtime))));
  if (h.paxExtra) records.push(h.paxExtra);
  // A name that is not UTF-8 is kept byte for byte; hdrcharset tells readers not to convert it.
  if (binary) records.unshift(record('hdrcharset', Buffer.from('BINARY')));
  return Buffer.concat(records);
}

/**
 * One `"<len> <key>=<value>\n"` record; `len` counts the whole record, its own digits included.
 * A key given as bytes is written as it is (an xattr name need not be UTF-8).
 */
export function record(key: string | Buffer, value: Buffer): Buffer {
  const keyBytes = typeof key === 'string' ? Buffer.from(key) : key;
  const rest = keyBytes.length + value.length + 3; // space, '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} `), keyBytes, Buffer.from('='), value, Buffer.from('\n')]);
}

