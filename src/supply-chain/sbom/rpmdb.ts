import { hashValues, isBdbHash } from './bdb-hash.js';
import { isSqlite, tableRows } from './sqlite-rows.js';

/** What an SBOM says of an installed rpm: the fields `rpm -qa --qf` names so. */
export interface RpmEntry {
  name: string;
  version: string;
  release: string;
  /** Absent when the package has none (`%{EPOCH}` is `(none)`), which is not epoch 0 to a reader. */
  epoch?: number;
  /** Absent for `gpg-pubkey` entries, which have none. */
  arch?: string;
  sourceRpm?: string;
  license?: string;
}

/** The rpm header tags read (rpmtag.h). */
const Tag = { Name: 1000, Version: 1001, Release: 1002, Epoch: 1003, License: 1014, Arch: 1022, SourceRpm: 1044 } as const;
const STRING = 6;
const I18NSTRING = 9;
const INT32 = 4;
/** A header's index entry: tag, type, offset into the data, count (rpm's entryInfo, big-endian). */
const ENTRY_BYTES = 16;

/**
 * The packages of an rpm database, as `rpm -qa` lists them: each row of the `Packages` table of
 * an `rpmdb.sqlite`, or each value of a Berkeley DB `Packages`, is one installed package's header.
 * SUSE's ndb (`Packages.db`) is not read (none is listed). Throws SqliteFormatError or
 * BdbFormatError where the file is damaged; a header that does not parse is left out.
 */
export function rpmPackages(bytes: Buffer): RpmEntry[] {
  let headers: Buffer[];
  if (isSqlite(bytes)) headers = tableRows(bytes, 'Packages').map((row) => row.find((v): v is Buffer => Buffer.isBuffer(v))).filter((b): b is Buffer => b !== undefined);
  else if (isBdbHash(bytes)) headers = hashValues(bytes);
  else return [];
  // Berkeley DB's record 0 is rpm's counter of instances (4 bytes), not a header: readHeader leaves it out.
  return headers.map(readHeader).filter((e): e is RpmEntry => e !== undefined);
}

/**
 * An rpm header as the database stores it (no lead, no magic): the count of index entries and
 * the size of the data, the entries, then the data they point into. The tags read are all inside
 * the immutable region rpm signs, so entries rpm adds after install need no special reading.
 */
function readHeader(blob: Buffer): RpmEntry | undefined {
  if (blob.length < 8) return undefined;
  const count = blob.readUInt32BE(0);
  const dataSize = blob.readUInt32BE(4);
  const dataStart = 8 + count * ENTRY_BYTES;
  if (dataStart + dataSize > blob.length) return undefined;
  const fields = new Map<number, string | number>();
  for (let i = 0; i < count; i++) {
    const at = 8 + i * ENTRY_BYTES;
    const tag = blob.readUInt32BE(at);
    const type = blob.readUInt32BE(at + 4);
    const offset = blob.readInt32BE(at + 8);
    if (fields.has(tag) || offset < 0 || offset >= dataSize) continue;
    const from = dataStart + offset;
    if (type === STRING || type === I18NSTRING) {
      const end = blob.indexOf(0, from);
      if (end >= 0 && end < dataStart + dataSize) fields.set(tag, blob.toString('utf8', from, end));
    } else if (type === INT32 && from + 4 <= dataStart + dataSize) {
      fields.set(tag, blob.readInt32BE(from));
    }
  }
  const text = (tag: number) => { const v = fields.get(tag); return typeof v === 'string' && v !== '' ? v : undefined; };
  const name = text(Tag.Name);
  const version = text(Tag.Version);
  const release = text(Tag.Release);
  if (!name || !version || !release) return undefined;
  const epoch = fields.get(Tag.Epoch);
  const arch = text(Tag.Arch);
  const sourceRpm = text(Tag.SourceRpm);
  const license = text(Tag.License);
  return {
    name, version, release,
    ...(typeof epoch === 'number' ? { epoch } : {}),
    ...(arch ? { arch } : {}),
    ...(sourceRpm ? { sourceRpm } : {}),
    ...(license ? { license } : {}),
  };
}
