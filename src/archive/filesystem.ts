import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { OcipushError } from '../errors.js';
import { decompressedLayer } from '../layer/compress/decompressor.js';
import { TarReader } from '../layer/tar-reader.js';
import { headerNumber, headerField } from '../layer/tar-fields.js';
import { END_OF_ARCHIVE, encodedHeaderSize, padded, record, writeHeader, type TarHeader, type TarTypeFlag } from '../layer/tar-header.js';
import { TYPE_FLAGS, type ContentSink, type ObservedEntry } from '../layer/tar.js';
import type { ImageView } from '../image/view.js';
import { formatPlatform } from '../oci/descriptor.js';

export interface FilesystemSummary {
  /** Entries written. */
  entries: number;
  /** Entries of lower layers not written: replaced, deleted or under an opaque directory above. */
  hidden: number;
  /** Whiteout entries read (not written: they only say what is gone). */
  whiteouts: number;
  /** Hard links whose target no layer left in the filesystem, left out. */
  danglingLinks: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * The filesystem an image's layers make, as one tar stream (what `crane export` writes, what a
 * container would see): layers are read top first, each streamed and decompressed once, never
 * unpacked; an entry goes out unless a layer above wrote the same path, deleted it (a `.wh.`
 * whiteout) or made a directory above it opaque (`.wh..wh..opq`), or replaced a directory above it
 * with something else. What a layer says applies to the layers below it only, so a path a layer
 * holds twice is written twice and the later wins, as when the layer is unpacked. A hard link
 * waits for its target, which a lower layer may hold, so the tar unpacks in one pass. A hard link
 * whose target a layer above it replaced or deleted keeps the file its layer linked to, as an
 * unpacked image does (only a name was unlinked): it is written as that file, read again from its
 * layer when the target came before the link.
 *
 * Headers are read and written as bytes by the build's own tar code, never decoded as text: a
 * name that is not UTF-8, a binary xattr such as `security.capability`, an id above 262143 or a
 * time after 2038 go out as the layer has them (owners, modes, times, pax records with xattrs).
 * `name` (the image as the user named it) names a layer that cannot be read.
 */
export async function writeFilesystem(image: ImageView, destination: Writable, name?: string): Promise<FilesystemSummary> {
  // Windows applies its layers itself: each layer's Hives/*_Delta are registry deltas onto the
  // base layer's hives, under the same names in every layer, so a merge by path would keep the top
  // layer's deltas and silently drop the others'. Refused before a byte is written.
  if (image.platform.os === 'windows' && image.layers.length > 1) {
    throw new OcipushError('EUNSUPPORTED', `${name ?? image.descriptor.digest} (${formatPlatform(image.platform)}) is a Windows image: its layers are applied by Windows (registry deltas onto the base layer), and ocipush cannot merge them into one filesystem; nothing written`, { digest: image.descriptor.digest });
  }
  const out = new Output(destination);
  const state = new Flattening(out);
  // A layer that cannot be read is named with its image and platform, as validate names it.
  const of = name === undefined ? '' : `${name} ${formatPlatform(image.platform)} `;
  for (let i = image.layers.length - 1; i >= 0; i--) {
    const layer = image.layers[i]!;
    await state.layer(() => layer.open(), `${of}layer ${layer.descriptor.digest}`);
  }
  state.finish();
  out.push(END_OF_ARCHIVE);
  await out.end();
  return state.summary;
}

/** The destination, written a decompressed chunk's worth at a time, its backpressure heeded. */
class Output {
  /** The destination's own failure (a full disk): the first cause, whatever a layer says next. */
  failure: Error | undefined;
  private readonly failed: Promise<never>;
  private queue: Buffer[] = [];

  constructor(private readonly destination: Writable) {
    this.failed = new Promise<never>((_, fail) => destination.once('error', (err: Error) => { this.failure ??= err; fail(err); }));
    this.failed.catch(() => {});
  }

  push(bytes: Buffer): void {
    this.queue.push(bytes);
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.queue.length === 0) return;
    // Always a copy: the queue holds views of the decompressor's chunks, whose buffers the
    // source may reuse once the next chunk is asked for.
    const bytes = Buffer.concat(this.queue);
    this.queue = [];
    if (!this.destination.write(bytes)) await Promise.race([once(this.destination, 'drain'), this.failed]);
  }

  async end(): Promise<void> {
    await this.flush();
    this.destination.end();
    await Promise.race([finished(this.destination), this.failed]);
  }
}

/** One layer's word on the paths below it: applied once the whole layer has been read. */
interface LayerPaths {
  written: Map<string, boolean>;
  deleted: Set<string>;
  opaque: Set<string>;
  /** Files (symlinks, fifos, nodes) of this layer the layers above hid: a hard link of this layer may need one. */
  hiddenFiles: Set<string>;
  /** Such files written under a link's name from this layer: this layer's later links to them link to that name. */
  materialized: Map<string, Buffer>;
  /** This layer's hard links, by path: the file each names, through the links it names. */
  links: Map<string, string>;
}

/** A hard link to be written as it is, or as the file it names. */
interface Link {
  path: string;
  header: TarHeader;
}

type EntryHandler = (entry: ObservedEntry, block: Buffer, pax: Map<string, Buffer> | undefined) => ContentSink | undefined;

class Flattening {
  readonly summary: FilesystemSummary = { entries: 0, hidden: 0, whiteouts: 0, danglingLinks: 0 };
  /** Paths (latin1 of their bytes) written by the layers above the one being read: true for a directory. */
  private readonly written = new Map<string, boolean>();
  private readonly deleted = new Set<string>();
  private readonly opaque = new Set<string>();
  /** Hard links waiting for their target (by the target's path): their encoded headers. */
  private readonly waiting = new Map<string, { path: string; bytes: Buffer }[]>();
  /** Hard links whose target the layers above them hid, by the target's path: written as its file. */
  private readonly orphans = new Map<string, Link[]>();
  private readonly emitted = new Set<string>();

  constructor(private readonly out: Output) {}

  async layer(open: () => Promise<Readable>, what: string): Promise<void> {
    const paths: LayerPaths = { written: new Map(), deleted: new Set(), opaque: new Set(), hiddenFiles: new Set(), materialized: new Map(), links: new Map() };
    await this.read(open, what, (entry, block, pax) => this.entry(entry, block, pax, paths));
    // Links of this layer to a file it held before them, which the layers above hid: read again for that file.
    const wanted = new Set([...this.orphans.keys()].filter((target) => paths.hiddenFiles.has(target)));
    if (wanted.size > 0) {
      await this.read(open, what, (entry, block, pax) => {
        const path = normalize(entry.name.toString('latin1'));
        if (!linkable(entry) || !wanted.delete(path)) return undefined;
        return this.materialize(path, entry, block, pax, paths);
      });
    }
    for (const [path, isDir] of paths.written) this.written.set(path, isDir);
    for (const path of paths.deleted) this.deleted.add(path);
    for (const path of paths.opaque) this.opaque.add(path);
  }

  private async read(open: () => Promise<Readable>, what: string, handle: EntryHandler): Promise<void> {
    let body: Readable;
    let decompressor: Readable;
    try {
      body = await open();
      ({ stream: decompressor } = await decompressedLayer(body));
    } catch (err) {
      if (err instanceof OcipushError) throw named(err, what);
      throw new OcipushError('EREAD', `${what}: not a readable layer (${(err as Error).message})`, { cause: err });
    }
    // A layer whose last entry lacks its padding and end blocks (umoci 0.4 writes such layers; Go's
    // archive/tar, which umoci and containerd read with, accepts them) is read whole; one that
    // stops inside an entry is an error.
    const reader = new TarReader({ entry: (entry, block, pax) => handle(entry, block!, pax), end: () => {} });
    try {
      for await (const chunk of decompressor) {
        reader.write(chunk as Buffer);
        await this.out.flush();
      }
      reader.end();
    } catch (err) {
      body.destroy();
      decompressor.destroy();
      if (this.out.failure) throw this.out.failure;
      if (err instanceof OcipushError) throw named(err, what);
      throw new OcipushError('EREAD', `${what}: not a readable layer (${(err as Error).message})`, { cause: err });
    }
  }

  /** Hard links whose target never came: the tar would not unpack them. */
  finish(): void {
    for (const links of this.waiting.values()) this.summary.danglingLinks += links.length;
    for (const links of this.orphans.values()) this.summary.danglingLinks += links.length;
  }

  private entry(entry: ObservedEntry, block: Buffer, pax: Map<string, Buffer> | undefined, paths: LayerPaths): ContentSink | undefined {
    const path = normalize(entry.name.toString('latin1'));
    // A link to a name this layer made a link (Python's tarfile writes them) names that link's file,
    // which is there whatever the layers above did to the link's name.
    const linked = entry.type === 'hardlink' && entry.linkname ? linkedFile(normalize(entry.linkname.toString('latin1')), paths.links) : undefined;
    if (linked !== undefined) paths.links.set(path, linked.target);
    else paths.links.delete(path);
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    const dir = slash < 0 ? '' : path.slice(0, slash);
    if (base === OPAQUE) {
      this.summary.whiteouts++;
      paths.opaque.add(dir);
      return undefined;
    }
    if (base.startsWith(WHITEOUT)) {
      const gone = base.slice(WHITEOUT.length);
      // The OCI spec makes such a layer invalid; containerd refuses it, umoci empties the directory.
      if (gone === '' || gone === '.' || gone === '..') throw new Error(`invalid whiteout ${JSON.stringify(entry.name.toString())}: it names no entry of its directory`);
      this.summary.whiteouts++;
      paths.deleted.add(join(dir, gone));
      return undefined;
    }
    if (this.hidden(path)) {
      this.summary.hidden++;
      // Hidden here, a file or a link still replaced a directory of the layers below, and what it
      // held with it: a directory a layer above made again at that path starts empty.
      if (entry.type !== 'dir') paths.deleted.add(path);
      if (!linkable(entry)) return undefined;
      // A link above (or earlier in this layer) to this file, hidden from the layers above it.
      if (this.orphans.has(path)) return this.materialize(path, entry, block, pax, paths);
      paths.hiddenFiles.add(path);
      return undefined;
    }
    paths.written.set(path, entry.type === 'dir');
    const header = headerOf(entry, block, pax);
    if (linked?.through) header.linkname = Buffer.from(linked.target, 'latin1');
    const bytes = encode(header);
    if (linked !== undefined) {
      const target = linked.target;
      if (this.hidden(target)) {
        const kept = paths.materialized.get(target);
        if (kept) {
          this.summary.entries++;
          this.out.push(encode({ ...header, linkname: kept }));
          this.landed(path);
          return undefined;
        }
        const links = this.orphans.get(target) ?? [];
        links.push({ path, header });
        this.orphans.set(target, links);
        return undefined;
      }
      if (!this.emitted.has(target)) {
        const links = this.waiting.get(target) ?? [];
        links.push({ path, bytes });
        this.waiting.set(target, links);
        return undefined;
      }
    }
    this.summary.entries++;
    this.out.push(bytes);
    if (entry.type !== 'file') {
      this.landed(path);
      return undefined;
    }
    return this.content(header.size, () => this.landed(path));
  }

  /** A file's bytes and padding, then `done`. */
  private content(size: number, done: () => void): ContentSink {
    return {
      update: (piece) => this.out.push(piece),
      end: () => {
        if (size % 512 !== 0) this.out.push(Buffer.alloc(padded(size) - size));
        done();
      },
    };
  }

  /**
   * The file `target` (this entry) written under the name of the first hard link to it that the
   * layers above hid it from; the other such links to it follow as hard links to that name.
   */
  private materialize(target: string, entry: ObservedEntry, block: Buffer, pax: Map<string, Buffer> | undefined, paths: LayerPaths): ContentSink | undefined {
    const [first, ...rest] = this.orphans.get(target)!;
    this.orphans.delete(target);
    paths.materialized.set(target, first!.header.name);
    const header: TarHeader = { ...headerOf(entry, block, pax), name: first!.header.name };
    this.summary.entries++;
    this.out.push(encode(header));
    const links = (): void => {
      this.landed(first!.path);
      for (const link of rest) {
        this.summary.entries++;
        this.out.push(encode({ ...link.header, linkname: first!.header.name }));
        this.landed(link.path);
      }
    };
    if (entry.type === 'file') return this.content(header.size, links);
    links();
    return undefined;
  }

  /** `path` is in the tar: the hard links waiting for it follow, and those waiting for them (a link of an upper layer to a link of a lower one). */
  private landed(path: string): void {
    this.emitted.add(path);
    const links = this.waiting.get(path);
    if (!links) return;
    this.waiting.delete(path);
    for (const link of links) {
      this.summary.entries++;
      this.out.push(link.bytes);
      this.landed(link.path);
    }
  }

  private hidden(path: string): boolean {
    if (this.written.has(path) || this.deleted.has(path)) return true;
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const above = path.slice(0, at);
      if (this.deleted.has(above) || this.opaque.has(above) || this.written.get(above) === false) return true;
    }
    return this.opaque.has('') && path !== '';
  }
}

/**
 * A storage's failure to give a layer (missing, bytes not of its digest) named with the image,
 * platform and layer it is of, as validate names it: the storage's words name only the blob.
 */
function named(err: OcipushError, what: string): OcipushError {
  return err.message.startsWith(what) ? err : new OcipushError(err.code, `${what}: ${err.message}`, { ...err.details, cause: err });
}

/** What a hard link may name: a file, or a symlink, fifo or device node (GNU tar links those too). */
function linkable(entry: ObservedEntry): boolean {
  return entry.type !== 'dir' && entry.type !== 'hardlink';
}

/** The file a hard link to `name` links to: through the links of its layer that `name` is (`through`). */
function linkedFile(name: string, links: Map<string, string>): { target: string; through: boolean } {
  // Each link was resolved when it was read, so one step reaches a file.
  const target = links.get(name);
  return target === undefined ? { target: name, through: false } : { target, through: true };
}

/** Pax records the header writer makes again from the entry's fields. */
const MAX_USTAR_MTIME = 0o77777777777;
const REMADE = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'hdrcharset']);

/**
 * The entry as it will be written: names relative, as docker writes layers (some layers name the
 * root `/`, umoci's, which tar unpacks only after a warning on every run); the rest as the layer has it.
 */
function headerOf(entry: ObservedEntry, block: Buffer, pax: Map<string, Buffer> | undefined): TarHeader {
  const number = (key: string, at: number, len: number): number => {
    const value = pax?.get(key);
    const n = value ? Math.floor(Number(value.toString('latin1'))) : headerNumber(block, at, len);
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  };
  // A time before 1970 in GNU base-256 (no pax record) is kept, written back in pax; one in a pax
  // record is kept there, fraction and all, the ustar field saying 0.
  const gnuTime = headerNumber(block, 136, 12);
  const type = entry.type === 'other' ? String.fromCharCode(block[156]!) as TarTypeFlag : TYPE_FLAGS[entry.type];
  const header: TarHeader = {
    name: inRoot(entry.name, entry.type === 'dir'),
    type,
    mode: headerNumber(block, 100, 8),
    uid: number('uid', 108, 8),
    gid: number('gid', 116, 8),
    size: entry.type === 'file' ? entry.size : 0,
    mtime: !pax?.has('mtime') && gnuTime < 0 && Number.isSafeInteger(gnuTime) ? gnuTime : number('mtime', 136, 12),
  };
  if (entry.linkname) header.linkname = entry.type === 'hardlink' ? inRoot(entry.linkname, false) : entry.linkname;
  if (entry.type === 'char' || entry.type === 'block') {
    header.devmajor = headerNumber(block, 329, 8);
    header.devminor = headerNumber(block, 337, 8);
  }
  const uname = headerField(block, 265, 32);
  const gname = headerField(block, 297, 32);
  if (uname.length > 0) header.uname = uname;
  if (gname.length > 0) header.gname = gname;
  if (pax) {
    const kept: Buffer[] = [];
    // An mtime past the ustar field the writer puts in pax itself (and an earlier one went there to keep its fraction).
    const remadeMtime = header.mtime > MAX_USTAR_MTIME;
    for (const [key, value] of pax) if (!REMADE.has(key) && !(remadeMtime && key === 'mtime')) kept.push(record(Buffer.from(key, 'latin1'), value));
    if (kept.length > 0) header.paxExtra = Buffer.concat(kept);
  }
  return header;
}

function encode(header: TarHeader): Buffer {
  const bytes = Buffer.alloc(encodedHeaderSize(header));
  writeHeader(header, bytes, 0);
  return bytes;
}

/** A name without its leading slashes (the root, `/`, becomes `./`). */
function relative(name: Buffer): Buffer {
  let at = 0;
  while (at < name.length && name[at] === 0x2f) at++;
  if (at === 0) return name;
  return at === name.length ? Buffer.from('./') : name.subarray(at);
}

/**
 * A tar name as a path key: `.`, `..` and empty components resolved as under a root, so no key
 * is above it (`x/../a/f` is `a/f`, `../../etc/x` is `etc/x`: where umoci and containerd unpack
 * them); the root is ''.
 */
function normalize(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '' && part !== '.') parts.push(part);
  }
  return parts.join('/');
}

/**
 * The name an entry is written under: as the layer has it, without leading slashes, unless a
 * `..` component could take it out of the directory the tar is unpacked in (or make it another
 * entry's path than the one it is in the image): then the path it has in the image.
 */
function inRoot(name: Buffer, dir: boolean): Buffer {
  const text = name.toString('latin1');
  if (!text.split('/').includes('..')) return relative(name);
  const path = normalize(text);
  return Buffer.from(path === '' ? './' : dir ? `${path}/` : path, 'latin1');
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
