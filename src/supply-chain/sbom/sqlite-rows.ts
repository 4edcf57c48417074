/**
 * The rows of one table of an SQLite 3 database file, read from its bytes: what an SBOM needs of
 * rpm's `rpmdb.sqlite` (Fedora 33+, RHEL and UBI 9, Amazon Linux 2023, Azure Linux), without a
 * native SQLite binding (none of Node 20's; `node:sqlite` comes with 22.5 and is still
 * experimental) and without a dependency: rpm's `Packages` table is read start to end, which is
 * only a walk of one table b-tree (https://www.sqlite.org/fileformat2.html, sections 1.3–1.6 and
 * 2.1). Uncommitted pages in a `-wal` file beside it are not read: rpm checkpoints on close.
 */

/** A column's value: NULL, an integer, a float, text (UTF-8) or a blob. */
export type SqliteValue = null | number | bigint | string | Buffer;

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const TABLE_LEAF = 0x0d;
const TABLE_INTERIOR = 0x05;
/** Deeper than any real table b-tree (a billion rows at a fan-out of 8 is 10 levels): a loop of pages otherwise. */
const MAX_DEPTH = 40;

export class SqliteFormatError extends Error {}

/** Whether the bytes are an SQLite 3 database file. */
export function isSqlite(bytes: Buffer): boolean {
  return bytes.length >= 100 && bytes.subarray(0, 16).equals(MAGIC);
}

/** Every row of the table named `table` (columns in declaration order; an INTEGER PRIMARY KEY is null, as SQLite stores it). */
export function tableRows(bytes: Buffer, table: string): SqliteValue[][] {
  const db = new Database(bytes);
  // sqlite_schema: type, name, tbl_name, rootpage, sql; its root is page 1.
  const entry = db.rows(1).find((r) => r[0] === 'table' && r[1] === table);
  if (!entry) return [];
  const root = entry[3];
  if (typeof root !== 'number' || root < 1) throw new SqliteFormatError(`table ${table} has no root page`);
  return db.rows(root);
}

class Database {
  private readonly pageSize: number;
  private readonly usable: number;

  constructor(private readonly bytes: Buffer) {
    if (!isSqlite(bytes)) throw new SqliteFormatError('not an SQLite 3 database');
    const size = bytes.readUInt16BE(16);
    this.pageSize = size === 1 ? 65536 : size;
    if (this.pageSize < 512 || (this.pageSize & (this.pageSize - 1)) !== 0) throw new SqliteFormatError(`page size ${this.pageSize}`);
    this.usable = this.pageSize - bytes[20]!;
    // Text in another encoding (UTF-16) would be read wrong: rpm writes UTF-8, the default.
    if (bytes.readUInt32BE(56) > 1) throw new SqliteFormatError('text is not UTF-8');
  }

  /** The rows of the table b-tree rooted at `page`, in rowid order. */
  rows(page: number): SqliteValue[][] {
    const out: SqliteValue[][] = [];
    this.walk(page, 0, out);
    return out;
  }

  private page(number: number): { start: number; header: number } {
    const start = (number - 1) * this.pageSize;
    if (number < 1 || start + this.pageSize > this.bytes.length) throw new SqliteFormatError(`page ${number} is past the end of the file`);
    // Page 1 begins with the 100-byte file header.
    return { start, header: number === 1 ? start + 100 : start };
  }

  private walk(number: number, depth: number, out: SqliteValue[][]): void {
    if (depth > MAX_DEPTH) throw new SqliteFormatError('table b-tree deeper than any real one (a loop of pages?)');
    const { start, header } = this.page(number);
    const type = this.bytes[header];
    const cells = this.bytes.readUInt16BE(header + 3);
    if (type === TABLE_INTERIOR) {
      for (let i = 0; i < cells; i++) {
        const cell = start + this.bytes.readUInt16BE(header + 12 + 2 * i);
        this.walk(this.bytes.readUInt32BE(cell), depth + 1, out);
      }
      this.walk(this.bytes.readUInt32BE(header + 8), depth + 1, out);
      return;
    }
    if (type !== TABLE_LEAF) throw new SqliteFormatError(`page ${number} is not a table b-tree page (type ${type})`);
    for (let i = 0; i < cells; i++) {
      let at = start + this.bytes.readUInt16BE(header + 8 + 2 * i);
      const [payloadSize, afterSize] = varint(this.bytes, at);
      [, at] = varint(this.bytes, afterSize); // the rowid
      out.push(record(this.payload(at, Number(payloadSize))));
    }
  }

  /** A cell's payload: the part on the page, then the overflow pages' chain (section 1.6's sizes). */
  private payload(at: number, size: number): Buffer {
    const u = this.usable;
    const maxLocal = u - 35;
    if (size <= maxLocal) return this.slice(at, size);
    const minLocal = Math.floor(((u - 12) * 32) / 255) - 23;
    const k = minLocal + ((size - minLocal) % (u - 4));
    const local = k <= maxLocal ? k : minLocal;
    const parts = [this.slice(at, local)];
    let left = size - local;
    let next = this.bytes.readUInt32BE(at + local);
    for (let pages = 0; left > 0; pages++) {
      if (next === 0 || pages > this.bytes.length / this.pageSize) throw new SqliteFormatError('overflow chain ends early or loops');
      const { start } = this.page(next);
      const take = Math.min(left, u - 4);
      parts.push(this.slice(start + 4, take));
      left -= take;
      next = this.bytes.readUInt32BE(start);
    }
    return Buffer.concat(parts);
  }

  private slice(at: number, length: number): Buffer {
    if (at < 0 || at + length > this.bytes.length) throw new SqliteFormatError('a cell runs past the end of the file');
    return this.bytes.subarray(at, at + length);
  }
}

/** SQLite's variable-length integer (1–9 bytes, big-endian, 7 bits a byte but the ninth's 8): value and the offset after it. */
function varint(bytes: Buffer, at: number): [bigint, number] {
  let value = 0n;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) throw new SqliteFormatError('a varint runs past the end of the file');
    value = (value << 7n) | BigInt(byte & 0x7f);
    if (byte < 0x80) return [value, at + i + 1];
  }
  const last = bytes[at + 8];
  if (last === undefined) throw new SqliteFormatError('a varint runs past the end of the file');
  return [(value << 8n) | BigInt(last), at + 9];
}

/** A record (section 2.1): a header of serial types, then the values. */
function record(payload: Buffer): SqliteValue[] {
  const [headerSize, afterSize] = varint(payload, 0);
  const types: number[] = [];
  for (let at = afterSize; at < Number(headerSize);) {
    const [type, next] = varint(payload, at);
    types.push(Number(type));
    at = next;
  }
  let at = Number(headerSize);
  return types.map((type) => {
    const [value, size] = column(payload, at, type);
    at += size;
    return value;
  });
}

const INT_BYTES = [0, 1, 2, 3, 4, 6, 8];

function column(payload: Buffer, at: number, type: number): [SqliteValue, number] {
  if (type === 0) return [null, 0];
  if (type >= 1 && type <= 6) {
    const size = INT_BYTES[type]!;
    if (at + size > payload.length) throw new SqliteFormatError('a value runs past its record');
    if (size === 8) return [payload.readBigInt64BE(at), 8];
    return [payload.readIntBE(at, size), size];
  }
  if (type === 7) return [payload.readDoubleBE(at), 8];
  if (type === 8 || type === 9) return [type - 8, 0];
  if (type >= 12) {
    const size = (type - (type % 2 === 0 ? 12 : 13)) / 2;
    if (at + size > payload.length) throw new SqliteFormatError('a value runs past its record');
    const bytes = payload.subarray(at, at + size);
    return [type % 2 === 0 ? bytes : bytes.toString('utf8'), size];
  }
  throw new SqliteFormatError(`serial type ${type}`);
}
