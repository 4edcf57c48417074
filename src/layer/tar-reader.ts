import { BLOCK, padded } from './tar-header.js';
import { headerChecksumHolds, headerField, headerNumber, paxRecords, untilNul, ustarName } from './tar-fields.js';
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
  /** An old GNU sparse entry whose map is still being read from its extension blocks. */
  private sparse: { entry: ObservedEntry; block: Buffer; pax: Map<string, Buffer>; map: number[]; realSize: number } | undefined;
  /** Zero blocks in a row: two end the archive, and what follows them is not read (Go's archive/tar stops there). */
  private zeroBlocks = 0;

  /** Tar bytes before the chunk being read. */
  private position = 0;

  /**
   * `onGlobalHeader`: told where each pax global header (`g`) lies, from its header block to the
   * end of its data, in bytes from the start of the tar.
   */
  constructor(private readonly observer: TarObserver, private readonly onGlobalHeader?: (start: number, end: number) => void) {}

  /** Bytes of a header block read in part: not yet known to be any entry's. */
  get partialBlock(): number {
    return this.filled;
  }

  /** Feeds the next bytes; throws (a plain Error) on what is not a tar. */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.zeroBlocks < 2) {
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
        if (this.sparse) this.sparseExtension(this.block);
        else this.header(this.block, this.position + at - BLOCK);
      }
    }
    this.position += chunk.length;
  }

  /** The input has ended: the observer learns it has seen every entry, unless the tar stopped mid-entry. */
  end(): void {
    if (this.zeroBlocks < 2 && (this.remaining > 0 || this.filled > 0 || this.meta || this.sparse)) throw new Error('unexpected end of data: the tar stops inside an entry');
    this.observer.end();
  }

  private header(block: Buffer, start: number): void {
    if (block.every((b) => b === 0)) {
      this.zeroBlocks++;
      return;
    }
    // As in Go's archive/tar (umoci, containerd): a zero block is the end, or a damaged archive.
    if (this.zeroBlocks > 0) throw new Error('invalid tar header: a zero block followed by a header');
    if (!headerChecksumHolds(block)) throw new Error('invalid tar header: its checksum does not match');
    const type = block[156]!;
    let size = headerNumber(block, 124, 12);
    if (type === X_PAX || type === G_PAX || type === GNU_LONG_NAME || type === GNU_LONG_LINK) {
      if (size > MAX_META_BYTES) throw new Error(`invalid tar header: an extended header of ${size} bytes`);
      this.meta = { type, chunks: [] };
      if (type === G_PAX) this.onGlobalHeader?.(start, start + BLOCK + padded(size));
      this.start(size);
      return;
    }
    let pax = this.pax;
    // A GNU sparse file (pax 0.1, 1.0) names itself in GNU.sparse.name: the header's name is a placeholder.
    const name = this.longName ?? pax?.get('GNU.sparse.name') ?? pax?.get('path') ?? ustarName(block);
    const linkname = this.longLink ?? pax?.get('linkpath') ?? headerField(block, 157, 100);
    const paxSize = pax?.get('size');
    if (paxSize) size = Number(paxSize.toString('latin1'));
    this.pax = this.longName = this.longLink = undefined;
    let kind = TYPES[type] ?? 'other';
    // Old tars mark a directory by its name alone.
    if ((type === 0 || type === 0x30) && name.length > 0 && name[name.length - 1] === 0x2f) kind = 'dir';
    const entry: ObservedEntry = { name, type: kind, mode: headerNumber(block, 100, 8), size, linkname: linkname.length > 0 ? linkname : undefined };
    if (type === GNU_SPARSE) {
      // Old GNU sparse ('S'): its map is in the header and the extension blocks that follow it.
      // Told as the pax 0.1 sparse file it is (the same data, the map in pax records), which
      // Go's archive/tar (umoci, containerd) unpacks and an 'S' entry it does not.
      entry.type = 'file';
      pax = new Map(pax);
      this.sparse = { entry, block: Buffer.from(block), pax, map: [], realSize: headerNumber(block, 483, 12) };
      this.sparseEntries(block, 386, 4);
      if (block[482] === 0) this.sparseDone();
      return;
    }
    this.emit(entry, block, pax);
  }

  private emit(entry: ObservedEntry, block: Buffer, pax: Map<string, Buffer> | undefined): void {
    const sink = this.observer.entry(entry, block, pax);
    this.sink = entry.type === 'file' ? sink : undefined;
    this.start(entry.size);
  }

  /** `count` (offset, length) pairs of 12-byte numbers at `at`, up to the first empty one. */
  private sparseEntries(block: Buffer, at: number, count: number): void {
    for (let i = 0; i < count; i++) {
      const where = at + 24 * i;
      if (block[where] === 0) break;
      this.sparse!.map.push(headerNumber(block, where, 12), headerNumber(block, where + 12, 12));
    }
  }

  /** An extension block of an old GNU sparse header: 21 more pairs, then whether another follows. */
  private sparseExtension(block: Buffer): void {
    this.sparseEntries(block, 0, 21);
    if (block[504] === 0) this.sparseDone();
  }

  private sparseDone(): void {
    const { entry, block, pax, map, realSize } = this.sparse!;
    this.sparse = undefined;
    pax.set('GNU.sparse.size', Buffer.from(String(realSize)));
    pax.set('GNU.sparse.numblocks', Buffer.from(String(map.length / 2)));
    pax.set('GNU.sparse.map', Buffer.from(map.join(',')));
    this.emit(entry, block, pax);
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
const GNU_SPARSE = 0x53; // 'S'

const TYPES: Record<number, ObservedEntry['type']> = {
  0: 'file', 0x30: 'file', 0x37: 'file', // '\0', '0', '7' (contiguous)
  0x31: 'hardlink', 0x32: 'symlink', 0x33: 'char', 0x34: 'block', 0x35: 'dir', 0x36: 'fifo',
};
