/**
 * The values of a Berkeley DB hash database, read from its bytes: what an SBOM needs of rpm's
 * `Packages` database before rpm moved to SQLite (RHEL and UBI 8, CentOS 7, Amazon Linux 2; rpm
 * itself reads it so today, without libdb, in its `bdb_ro` backend). Every hash page is read in
 * file order, each key/value pair's value taken whole: on the page, or from its chain of
 * overflow pages (Berkeley DB's db_page.h: page header, H_KEYDATA and H_OFFPAGE items).
 */

const HASH_MAGIC = 0x00061561;
const META_HASH = 8;
/** P_HASH (sorted, Berkeley DB 4.6 and later) and P_HASH_UNSORTED (RHEL 5's). */
const HASH_PAGES = new Set([13, 2]);
const OVERFLOW_PAGE = 7;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const PAGE_HEADER_BYTES = 26;

export class BdbFormatError extends Error {}

/** Whether the bytes are a Berkeley DB hash database (either byte order). */
export function isBdbHash(bytes: Buffer): boolean {
  return bytes.length >= 512 && (bytes.readUInt32LE(12) === HASH_MAGIC || bytes.readUInt32BE(12) === HASH_MAGIC) && bytes[25] === META_HASH;
}

/** Every value of the database, in page order. */
export function hashValues(bytes: Buffer): Buffer[] {
  if (!isBdbHash(bytes)) throw new BdbFormatError('not a Berkeley DB hash database');
  // A database written on a big-endian machine (s390x) keeps its own byte order.
  const little = bytes.readUInt32LE(12) === HASH_MAGIC;
  const u16 = (at: number) => (little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number) => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  if (bytes[24] !== 0) throw new BdbFormatError('the database is encrypted');
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new BdbFormatError(`page size ${pageSize}`);
  const pages = Math.min(u32(32) + 1, Math.floor(bytes.length / pageSize));

  const overflow = (first: number, total: number): Buffer => {
    const parts: Buffer[] = [];
    let have = 0;
    for (let page = first, seen = 0; page !== 0 && have < total; seen++) {
      if (page >= pages || seen > pages) throw new BdbFormatError('an overflow chain leaves the file or loops');
      const start = page * pageSize;
      if (bytes[start + 25] !== OVERFLOW_PAGE) throw new BdbFormatError(`page ${page} is not an overflow page`);
      // On an overflow page the "high free offset" is the count of bytes it holds.
      const length = Math.min(u16(start + 22), pageSize - PAGE_HEADER_BYTES, total - have);
      parts.push(bytes.subarray(start + PAGE_HEADER_BYTES, start + PAGE_HEADER_BYTES + length));
      have += length;
      page = u32(start + 16);
    }
    if (have !== total) throw new BdbFormatError('an overflow chain ends early');
    return Buffer.concat(parts);
  };

  const values: Buffer[] = [];
  for (let page = 1; page < pages; page++) {
    const start = page * pageSize;
    if (!HASH_PAGES.has(bytes[start + 25]!)) continue;
    const entries = u16(start + 20);
    // Items are indexed from the header down and stored from the page's end up: an item ends where the one before it begins.
    for (let i = 1; i < entries; i += 2) {
      const at = u16(start + PAGE_HEADER_BYTES + 2 * i);
      const end = u16(start + PAGE_HEADER_BYTES + 2 * (i - 1));
      if (at >= pageSize || end > pageSize || end <= at) throw new BdbFormatError(`page ${page}: item ${i} is out of place`);
      const item = start + at;
      if (bytes[item] === H_KEYDATA) values.push(bytes.subarray(item + 1, start + end));
      else if (bytes[item] === H_OFFPAGE) values.push(overflow(u32(item + 4), u32(item + 8)));
    }
  }
  return values;
}
