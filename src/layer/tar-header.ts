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

/** One tar entry's header; its `mtime` must be ≥ 0. */
export interface TarHeader extends EntryAttributes {
  /** Path inside the archive, raw bytes (directories end with `/`). */
  name: Buffer;
  type: TarTypeFlag;
  linkname?: Buffer;
  /** Raw value of the `security.capability` xattr, as `SCHILY.xattr.security.capability`. */
  capability?: Buffer;
}

const NAME_LEN = 100;
const PREFIX_LEN = 155;
const MAX_OCTAL_7 = 0o7777777; // 8-byte fields: 7 digits + NUL
const MAX_OCTAL_11 = 0o77777777777; // 12-byte fields: 11 digits + NUL (8 GiB - 1)
const PAX_NAME = Buffer.from('././@PaxHeader'); // a fixed name (GNU tar's default embeds the pid)

/** Bytes this entry's header(s) take: 512, or more with a pax extended header in front. */
export function encodedHeaderSize(h: TarHeader): number {
  const pax = paxRecords(h);
  return pax === null ? BLOCK : BLOCK + padded(pax.length) + BLOCK;
}

/** Writes the header(s) of `h` at `buf[offset]` and returns the bytes written (a multiple of 512). */
export function writeHeader(h: TarHeader, buf: Buffer, offset: number): number {
  const pax = paxRecords(h);
  let at = offset;
  if (pax !== null) {
    writeUstar({
      name: PAX_NAME, type: TarType.PaxHeader, mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0,
    }, buf, at, null);
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

function writeUstar(h: TarHeader, buf: Buffer, at: number, split: { prefix: Buffer; name: Buffer } | null): void {
  buf.fill(0, at, at + BLOCK);
  const name = split ? split.name : h.name.subarray(0, NAME_LEN);
  name.copy(buf, at);
  writeOctal(buf, at + 100, 8, h.mode & 0o7777);
  writeNumber(buf, at + 108, 8, h.uid);
  writeNumber(buf, at + 116, 8, h.gid);
  writeNumber(buf, at + 124, 12, h.size);
  writeNumber(buf, at + 136, 12, h.mtime);
  buf[at + 156] = h.type.charCodeAt(0);
  if (h.linkname) h.linkname.subarray(0, NAME_LEN).copy(buf, at + 157);
  buf.write('ustar\u000000', at + 257, 'latin1');
  // uname/gname stay empty: names differ between machines, ids are what a runtime uses.
  if (h.type === TarType.CharDevice || h.type === TarType.BlockDevice) {
    writeNumber(buf, at + 329, 8, h.devmajor ?? 0);
    writeNumber(buf, at + 337, 8, h.devminor ?? 0);
  }
  if (split && split.prefix.length > 0) split.prefix.copy(buf, at + 345);
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += buf[i]!;
  writeOctal(buf, at + 148, 7, sum); // 6 digits, NUL, then the space already there
}

/** Octal, zero-padded, NUL-terminated, in a field of `len` bytes. */
function writeOctal(buf: Buffer, at: number, len: number, value: number): void {
  const digits = value.toString(8).padStart(len - 1, '0');
  buf.write(digits, at, len - 1, 'latin1');
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

/** A ustar prefix/name split of `name`, or null when pax must carry it. */
function splitName(name: Buffer): { prefix: Buffer; name: Buffer } | null {
  if (!isPortable(name)) return null;
  if (name.length <= NAME_LEN) return { prefix: Buffer.alloc(0), name };
  // Split at a slash so that the prefix ≤ 155 and the rest ≤ 100 (a directory's trailing slash
  // belongs to the name part).
  const searchEnd = Math.min(name.length - 2, PREFIX_LEN);
  for (let i = searchEnd; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    if (name.length - i - 1 > NAME_LEN) return null;
    return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return null;
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
function paxRecords(h: TarHeader): Buffer | null {
  const records: Buffer[] = [];
  let binary = false;
  if (splitName(h.name) === null) {
    records.push(record('path', h.name));
    binary ||= !isUtf8(h.name);
  }
  if (h.linkname && (h.linkname.length > NAME_LEN || !isPortable(h.linkname))) {
    records.push(record('linkpath', h.linkname));
    binary ||= !isUtf8(h.linkname);
  }
  if (h.size > MAX_OCTAL_11) records.push(record('size', Buffer.from(String(h.size))));
  if (h.uid > MAX_OCTAL_7) records.push(record('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_OCTAL_7) records.push(record('gid', Buffer.from(String(h.gid))));
  if (h.mtime > MAX_OCTAL_11) records.push(record('mtime', Buffer.from(String(h.mtime))));
  if (h.capability) records.push(record('SCHILY.xattr.security.capability', h.capability));
  if (records.length === 0) return null;
  // A name that is not UTF-8 is kept byte for byte; hdrcharset tells readers not to convert it.
  if (binary) records.unshift(record('hdrcharset', Buffer.from('BINARY')));
  return Buffer.concat(records);
}

/** One `"<len> <key>=<value>\n"` record; `len` counts the whole record, its own digits included. */
function record(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // space, '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

