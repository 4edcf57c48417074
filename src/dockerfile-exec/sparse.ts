import { OcipushError } from '../errors.js';

/**
 * GNU tar's sparse files in pax form (`tar --format=posix -S`: versions 0.0, 0.1 and 1.0), read
 * as Go's archive/tar reads them for BuildKit's ADD: the entry is a regular file named by
 * `GNU.sparse.name`, `GNU.sparse.size` (or `realsize`) bytes long, its data regions taken from
 * the stored bytes and the holes between them zeros. (The old GNU `S` entry is not one of them:
 * Go's reader leaves its type as it is, and BuildKit's unpack refuses it.)
 */

export interface SparseFile {
  /** `GNU.sparse.name`, the file's real name, when the records give it. */
  name?: Buffer;
  /** The file's size with its holes. */
  size: number;
  /** Offset and length of each data region (0.0 and 0.1); for 1.0 they head the stored bytes. */
  map?: number[];
}

/** The sparse file a pax entry describes (Go's readGNUSparsePAXHeaders), or undefined. */
export function sparseOf(pax: ReadonlyMap<string, Buffer> | undefined, where: string): SparseFile | undefined {
  if (!pax) return undefined;
  const text = (key: string): string => pax.get(key)?.toString('latin1') ?? '';
  const major = text('GNU.sparse.major');
  const minor = text('GNU.sparse.minor');
  let is1x0: boolean;
  if (major === '0' && (minor === '0' || minor === '1')) is1x0 = false;
  else if (major === '1' && minor === '0') is1x0 = true;
  else if (major !== '' || minor !== '') return undefined; // a version Go does not know: not sparse to it
  else if (text('GNU.sparse.map') !== '') is1x0 = false;
  else return undefined;
  const sizeText = text('GNU.sparse.size') || text('GNU.sparse.realsize');
  const size = sizeText === '' ? undefined : decimal(sizeText);
  if (size === undefined) throw bad(where, `GNU.sparse size ${JSON.stringify(sizeText)}`);
  const name = pax.get('GNU.sparse.name');
  const out: SparseFile = { size, ...(name && name.length > 0 ? { name } : {}) };
  if (!is1x0) {
    const fields = text('GNU.sparse.map').split(',');
    const map = fields.length === 1 && fields[0] === '' ? [] : fields.map(decimal);
    if (map.length % 2 !== 0 || map.some((n) => n === undefined)) throw bad(where, 'GNU.sparse.map');
    out.map = checked(map as number[], size, where);
  }
  return out;
}

/** The holes' bytes, made once a sparse file is read (most builds read none). */
let ZEROS: Buffer | undefined;

/** The file's bytes, holes filled with zeros, from the entry's stored bytes. */
export async function* expandSparse(body: AsyncIterable<Buffer>, file: SparseFile, where: string): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  let consumed = 0;
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    pending = pending.length > 0 ? Buffer.concat([pending, r.value]) : r.value;
    return true;
  };
  let map = file.map;
  if (!map) {
    // 1.0: decimal numbers, one a line (the count, then offset and length pairs), padded to a block.
    const numbers: number[] = [];
    while (numbers.length === 0 || numbers.length < 1 + 2 * numbers[0]!) {
      const nl = pending.indexOf(0x0a);
      if (nl < 0) {
        if (pending.length > 64 || !(await more())) throw bad(where, 'sparse map');
        continue;
      }
      const n = decimal(pending.toString('latin1', 0, nl));
      if (n === undefined) throw bad(where, 'sparse map');
      numbers.push(n);
      pending = pending.subarray(nl + 1);
      consumed += nl + 1;
    }
    let skip = (512 - (consumed % 512)) % 512;
    while (skip > 0) {
      if (pending.length === 0 && !(await more())) throw bad(where, 'sparse map');
      const n = Math.min(skip, pending.length);
      pending = pending.subarray(n);
      skip -= n;
    }
    map = checked(numbers.slice(1), file.size, where);
  }
  let at = 0;
  for (let i = 0; i < map.length; i += 2) {
    yield* zeros(map[i]! - at);
    let left = map[i + 1]!;
    while (left > 0) {
      if (pending.length === 0 && !(await more())) throw new OcipushError('EREAD', `${where}: the data of a sparse file ends early`);
      const n = Math.min(left, pending.length);
      yield pending.subarray(0, n);
      pending = pending.subarray(n);
      left -= n;
    }
    at = map[i]! + map[i + 1]!;
  }
  yield* zeros(file.size - at);
  if (pending.length > 0 || (await more())) throw new OcipushError('EREAD', `${where}: a sparse file has more data than its map holds`);
}

function* zeros(n: number): Generator<Buffer> {
  const block = (ZEROS ??= Buffer.alloc(1 << 20));
  for (let left = n; left > 0; left -= block.length) yield block.subarray(0, Math.min(left, block.length));
}

/** Go's validateSparseEntries: regions in order, apart, inside the file. */
function checked(map: number[], size: number, where: string): number[] {
  let end = 0;
  for (let i = 0; i < map.length; i += 2) {
    const offset = map[i]!;
    const length = map[i + 1]!;
    if (offset < end || offset + length > size) throw bad(where, 'sparse map');
    end = offset + length;
  }
  return map;
}

function decimal(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function bad(where: string, what: string): OcipushError {
  return new OcipushError('EREAD', `${where}: invalid tar header: bad ${what}`);
}
