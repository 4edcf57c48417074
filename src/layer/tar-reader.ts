import { BLOCK, padded } from './tar-header.js';
import type { ContentSink, ObservedEntry, TarObserver } from './tar.js';

/**
 * Reads a tar as its bytes go by, chunk by chunk, with no stream per entry: each entry goes to a
 * TarObserver as if a TarProducer were writing it (headers of ustar, pax `x` records for path,
 * linkpath and size, GNU `L`/`K` long names; a regular file's content handed on as views of the
 * chunks). A layer's SBOM facts come from it whether the build reads a tar file or an existing
 * layer is streamed back, so both give the same entries.
 */
export class TarReader {
  private readonly block = Buffer.alloc(BLOCK);
  private filled = 0;
  /** Bytes of the current entry's data still to come, then the padding to skip. */
  private remaining = 0;
  private padding = 0;
  private sink: ContentSink | undefined;
  /** The data of a pax or GNU long-name entry, being collected. */
  private meta: { type: number; chunks: Buffer[] } | undefined;
  private pax: Map<string, Buffer> | undefined;
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;

  constructor(private readonly observer: TarObserver) {}

  /** Feeds the next bytes; throws (a plain Error) on what is not a tar. */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - at);
        const piece = chunk.subarray(at, at + n);
        if (this.meta) this.meta.chunks.push(Buffer.from(piece));
        else this.sink?.update(piece);
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.entryDone();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - at);
        this.padding -= n;
        at += n;
        continue;
      }
      const n = Math.min(BLOCK - this.filled, chunk.length - at);
      chunk.copy(this.block, this.filled, at, at + n);
      this.filled += n;
      at += n;
      if (this.filled === BLOCK) {
        this.filled = 0;
        this.header(this.block);
      }
    }
  }

  /** The input has ended: the observer learns it has seen every entry, unless the tar stopped mid-entry. */
  end(): void {
    if (this.remaining > 0 || this.filled > 0 || this.meta) throw new Error('unexpected end of data: the tar stops inside an entry');
    this.observer.end();
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) return; // end-of-archive blocks (and anything after them is ignored the same way)
    if (!checksumHolds(block)) throw new Error('invalid tar header: its checksum does not match');
    const type = block[156]!;
    let size = number(block, 124, 12);
    if (type === X_PAX || type === G_PAX || type === GNU_LONG_NAME || type === GNU_LONG_LINK) {
      if (size > MAX_META_BYTES) throw new Error(`invalid tar header: an extended header of ${size} bytes`);
      this.meta = { type, chunks: [] };
      this.start(size);
      return;
    }
    const pax = this.pax;
    const name = this.longName ?? pax?.get('path') ?? ustarName(block);
    const linkname = this.longLink ?? pax?.get('linkpath') ?? field(block, 157, 100);
    const paxSize = pax?.get('size');
    if (paxSize) size = Number(paxSize.toString('latin1'));
    this.pax = this.longName = this.longLink = undefined;
    let kind = TYPES[type] ?? 'other';
    // Old tars mark a directory by its name alone.
    if ((type === 0 || type === 0x30) && name.length > 0 && name[name.length - 1] === 0x2f) kind = 'dir';
    const entry: ObservedEntry = { name, type: kind, mode: number(block, 100, 8), size, ...(linkname.length > 0 ? { linkname } : {}) };
    const sink = this.observer.entry(entry);
    this.sink = kind === 'file' ? sink : undefined;
    this.start(size);
  }

  private start(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error('invalid tar header: bad size');
    this.remaining = size;
    this.padding = padded(size) - size;
    if (size === 0) this.entryDone();
  }

  private entryDone(): void {
    const meta = this.meta;
    if (!meta) {
      this.sink?.end();
      this.sink = undefined;
      return;
    }
    this.meta = undefined;
    const data = Buffer.concat(meta.chunks);
    if (meta.type === X_PAX) this.pax = paxRecords(data);
    else if (meta.type === GNU_LONG_NAME) this.longName = untilNul(data);
    else if (meta.type === GNU_LONG_LINK) this.longLink = untilNul(data);
    // A global pax header (`g`) sets defaults no layer writer relies on for names: ignored.
  }
}

/** Pax records and GNU long names are names and a few numbers: far below this. */
const MAX_META_BYTES = 16 * 1024 * 1024;
const X_PAX = 0x78; // 'x'
const G_PAX = 0x67; // 'g'
const GNU_LONG_NAME = 0x4c; // 'L'
const GNU_LONG_LINK = 0x4b; // 'K'

const TYPES: Record<number, ObservedEntry['type']> = {
  0: 'file', 0x30: 'file', 0x37: 'file', // '\0', '0', '7' (contiguous)
  0x31: 'hardlink', 0x32: 'symlink', 0x33: 'char', 0x34: 'block', 0x35: 'dir', 0x36: 'fifo',
};

function untilNul(buf: Buffer): Buffer {
  const end = buf.indexOf(0);
  return end < 0 ? buf : buf.subarray(0, end);
}

function field(block: Buffer, at: number, len: number): Buffer {
  return Buffer.from(untilNul(block.subarray(at, at + len)));
}

/** POSIX ustar: `prefix/name` (GNU's magic has no prefix field there). */
function ustarName(block: Buffer): Buffer {
  const name = field(block, 0, 100);
  if (block.toString('latin1', 257, 263) !== 'ustar\0') return name;
  const prefix = field(block, 345, 155);
  return prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
}

/** Octal, or GNU base-256 when the first byte has its high bit set. */
function number(block: Buffer, at: number, len: number): number {
  if (block[at]! & 0x80) {
    let value = block[at]! & 0x7f;
    for (let i = at + 1; i < at + len; i++) value = value * 256 + block[i]!;
    return value;
  }
  const text = block.toString('latin1', at, at + len).replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function checksumHolds(block: Buffer): boolean {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  return number(block, 148, 8) === sum;
}

/** `LEN key=value\n` records; values kept as bytes (a path need not be UTF-8). */
function paxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number.parseInt(data.toString('latin1', at, space), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) break;
    const record = data.subarray(space + 1, at + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) out.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    at += len;
  }
  return out;
}
