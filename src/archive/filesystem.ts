import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import tar from 'tar-stream';
import { OcipushError } from '../errors.js';
import { layerCompression } from '../oci/media-types.js';
import { createDecompressor } from '../layer/compress/decompressor.js';
import { TarReader } from '../layer/tar-reader.js';
import { BLOCK } from '../layer/tar-header.js';
import type { ImageView } from '../image/view.js';
import { copyInto } from './docker-archive.js';

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
 * waits for its target, which a lower layer may hold, so the tar unpacks in one pass. Headers go
 * out as the layers have them (owners, modes, times, pax records with xattrs).
 */
export async function writeFilesystem(image: ImageView, destination: Writable): Promise<FilesystemSummary> {
  const pack = tar.pack();
  const output = copyInto(pack, destination);
  output.catch(() => {});
  const state = new Flattening(pack);
  try {
    for (let i = image.layers.length - 1; i >= 0; i--) {
      const layer = image.layers[i]!;
      await state.layer(await layer.open(), layerCompression(layer.descriptor.mediaType), `layer ${layer.descriptor.digest}`);
    }
    state.finish();
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    // The first cause wins, as in export: a failed write (a full disk) destroys the pack, and the
    // layer being read then fails with "tar entry destroyed", which is no fault of the layer.
    const written = await output.then(() => undefined, (e: unknown) => e);
    throw written ?? err;
  }
  await output;
  return state.summary;
}

/** Entries of a tar as tar-stream reads them (pax and GNU long names applied). */
type Entry = AsyncIterable<Buffer> & { header: tar.Header; resume(): void };

class Flattening {
  readonly summary: FilesystemSummary = { entries: 0, hidden: 0, whiteouts: 0, danglingLinks: 0 };
  /** Paths written by the layers above the one being read: true for a directory. */
  private readonly written = new Map<string, boolean>();
  private readonly deleted = new Set<string>();
  private readonly opaque = new Set<string>();
  /** Hard links waiting for their target (by the target's path), and the paths written so far. */
  private readonly waiting = new Map<string, tar.Header[]>();
  private readonly emitted = new Set<string>();

  constructor(private readonly pack: tar.Pack) {}

  async layer(body: Readable, compression: ReturnType<typeof layerCompression>, what: string): Promise<void> {
    const extract = tar.extract();
    const decompressor = createDecompressor(compression);
    body.on('error', (err) => decompressor.destroy(err));
    body.pipe(decompressor);
    // Fed by hand: tar-stream's extract is a streamx stream, which Node's pipe does not end cleanly.
    // The same bytes go through our own reader, which only keeps count of entries and blocks: a
    // layer whose last entry lacks its padding and end blocks (umoci 0.4 writes such layers; Go's
    // archive/tar, which umoci and containerd read with, accepts them) is completed with zeros,
    // while one that stops inside an entry stays an error.
    const blocks = new TarReader({ entry: () => undefined, end: () => {} });
    let fed = 0;
    const feeding = (async () => {
      try {
        for await (const chunk of decompressor) {
          blocks.write(chunk as Buffer);
          fed += (chunk as Buffer).length;
          if (!extract.write(chunk as Buffer)) await once(extract as unknown as NodeJS.EventEmitter, 'drain');
        }
        blocks.end();
        extract.write(Buffer.alloc((BLOCK - (fed % BLOCK)) % BLOCK + 2 * BLOCK));
        (extract as unknown as { end(): void }).end();
      } catch (err) {
        extract.destroy(err as Error);
      }
    })();
    // What this layer says about paths applies to the layers below it, once it has been read.
    const written = new Map<string, boolean>();
    const deleted = new Set<string>();
    const opaque = new Set<string>();
    try {
      for await (const entry of extract as unknown as AsyncIterable<Entry>) {
        const path = normalize(entry.header.name);
        const slash = path.lastIndexOf('/');
        const base = path.slice(slash + 1);
        const dir = slash < 0 ? '' : path.slice(0, slash);
        if (base === OPAQUE) {
          this.summary.whiteouts++;
          opaque.add(dir);
        } else if (base.startsWith(WHITEOUT)) {
          this.summary.whiteouts++;
          deleted.add(join(dir, base.slice(WHITEOUT.length)));
        } else if (this.hidden(path)) {
          this.summary.hidden++;
        } else {
          written.set(path, entry.header.type === 'directory');
          await this.emit(entry, path);
        }
        entry.resume();
      }
      await feeding;
    } catch (err) {
      body.destroy();
      if (err instanceof OcipushError) throw err;
      throw new OcipushError('EREAD', `${what}: not a readable layer (${(err as Error).message})`, { cause: err });
    }
    for (const [path, isDir] of written) this.written.set(path, isDir);
    for (const path of deleted) this.deleted.add(path);
    for (const path of opaque) this.opaque.add(path);
  }

  /** Hard links whose target never came: the tar would not unpack them. */
  finish(): void {
    for (const links of this.waiting.values()) this.summary.danglingLinks += links.length;
  }

  private hidden(path: string): boolean {
    if (this.written.has(path) || this.deleted.has(path)) return true;
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const above = path.slice(0, at);
      if (this.deleted.has(above) || this.opaque.has(above) || this.written.get(above) === false) return true;
    }
    return this.opaque.has('') && path !== '';
  }

  private async emit(entry: Entry, path: string): Promise<void> {
    const header = relative(entry.header);
    if (header.type === 'link' && header.linkname !== undefined && header.linkname !== null) {
      const target = normalize(header.linkname);
      if (!this.emitted.has(target)) {
        const links = this.waiting.get(target) ?? [];
        links.push({ ...header });
        this.waiting.set(target, links);
        return;
      }
    }
    if (header.type === 'file' || header.type === 'contiguous-file') await this.writeFile(header, entry);
    else await this.writeEntry(header);
    this.emitted.add(path);
    const links = this.waiting.get(path);
    if (links) {
      this.waiting.delete(path);
      for (const link of links) {
        await this.writeEntry(link);
        this.emitted.add(normalize(link.name));
      }
    }
  }

  private writeEntry(header: tar.Header): Promise<void> {
    this.summary.entries++;
    return new Promise((ok, fail) => {
      this.pack.entry({ ...header, size: 0 }, (err) => (err ? fail(err) : ok()));
    });
  }

  private async writeFile(header: tar.Header, body: AsyncIterable<Buffer>): Promise<void> {
    this.summary.entries++;
    let settle: (err?: Error | null) => void = () => {};
    const done = new Promise<void>((ok, fail) => { settle = (err) => (err ? fail(err) : ok()); });
    const sink = this.pack.entry(header, (err) => settle(err));
    for await (const chunk of body) {
      if (!sink.write(chunk)) await Promise.race([once(sink as unknown as NodeJS.EventEmitter, 'drain'), done]);
    }
    (sink as unknown as { end(): void }).end();
    await done;
  }
}

/**
 * The header with names relative, as docker writes layers: some layers name the root `/` (umoci's),
 * which tar unpacks only after a warning on every run.
 */
function relative(header: tar.Header): tar.Header {
  const strip = (name: string) => (name.startsWith('/') ? name.replace(/^\/+/, '') || './' : name);
  return { ...header, name: strip(header.name), ...(header.type === 'link' && header.linkname ? { linkname: strip(header.linkname) } : {}) };
}

/** A tar name as a path key: no leading `./` or `/`, no trailing `/`; the root is ''. */
function normalize(name: string): string {
  let path = name;
  while (path.startsWith('./')) path = path.slice(2);
  path = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return path === '.' ? '' : path;
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
