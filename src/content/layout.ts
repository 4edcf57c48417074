import { mkdir, readFile, rm, rmdir, stat, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline as pipelineCallback, Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { OcipushError, fromSystemError } from '../errors.js';
import { digestAlgorithm, digestHex, sha256, type Digest } from '../oci/digest.js';
import { Annotation, assertAnnotations, assertDescriptor, type Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { byteOrderMarkNote, encodeJson, parseManifest, type AnyManifest, type ImageIndex } from '../oci/manifest.js';
import { makeDirectory, writeFileAtomic } from './atomic.js';
import type { HeldLock, LockOptions } from './lock.js';
import type { IngestSession } from './ingest.js';
import { CACHE_DIR, INDEX_LOCK, REMOTE_BLOBS_FILE } from './layout-files.js';
import { fileSource, type BlobSource } from './blob-source.js';
import type { BlobSourceProvider, Storage, TagResolver } from './storage.js';
import { MAX_MANIFEST_BYTES, readSmall, VerifyingStream, type Expected } from './verify.js';
import { readSmallBlob, SMALL_BLOB_BYTES } from './small-blob.js';
import { cosignSavedNames, imageEntries, withoutReferrersOfLeft } from './layout-referrers.js';

const LAYOUT_VERSION = '1.0.0';

export interface OpenLayoutOptions {
  /** Create the layout (and its directory) when it does not exist; a writer's session opens at once (see `open`). */
  create?: boolean;
  /** An ingest session already open on this directory (a build's): the layout writes through it and leaves closing it to its owner. */
  session?: IngestSession;
  /** Clock and stale threshold of the layout's locks and sessions (tests). */
  liveness?: LockOptions;
}

/** Bytes written to a blob that is not yet under its digest. */
export interface BlobWriter {
  readonly stream: Writable;
  /** Moves the content under its digest; with `expected`, refuses it when it differs. */
  commit(expected?: Partial<Expected>): Promise<{ digest: Digest; size: number }>;
  /** Removes the temp file. Safe to call after commit or twice. */
  abort(): Promise<void>;
}

/**
 * An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`). Blobs are written
 * into the process's ingest session (`.ocipush/ingest/…`, see ingest.ts), hashed while written and
 * renamed under their digest once complete; `index.json` is rewritten atomically under a lock, so
 * concurrent writers never lose each other's tags and no entry ever points at a missing blob.
 * A layout that writes opens a session on its first write: `close()` it when done.
 */
export class OciLayout implements Storage, TagResolver, BlobSourceProvider {
  readonly root: string;
  /** Whether `open` made the layout (it did not exist). */
  created = false;
  /** Whether `open` made the layout's directory too. */
  private createdDir = false;
  /** Takes back the signal-time discard of a layout `open` made: its owner closed it, what it holds is theirs. */
  private forgetAtSignal: (() => void) | undefined;
  private sessionPromise: Promise<IngestSession> | undefined;
  private discarded = false;
  private readonly ownsSession: boolean;
  private readonly liveness: LockOptions;

  private constructor(root: string, options: OpenLayoutOptions) {
    this.root = root;
    this.liveness = options.liveness ?? {};
    this.ownsSession = options.session === undefined;
    if (options.session) this.sessionPromise = Promise.resolve(options.session);
  }

  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const root = resolve(dir);
    const layout = new OciLayout(root, options);
    let marker: string | undefined;
    try {
      marker = await readFile(join(root, 'oci-layout'), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw await (await import('./layout-errors.js')).markerReadError(err, root, options.create === true);
    }
    if (marker === undefined) {
      if (!options.create) {
        // A mistyped or forgotten --layout is the usual cause: say which of the two is missing.
        const noDirectory = await stat(root).then(() => false, () => true);
        throw new OcipushError('ELAYOUT', `${root}: not an OCI image layout (${noDirectory ? 'no such directory' : 'no oci-layout file'})`, { path: root });
      }
      layout.created = await layout.initialise();
      if (layout.created) layout.forgetAtSignal = (await import('./created-layout.js')).discardAtSignal(root, layout.createdDir);
      return layout;
    }
    let version: unknown;
    try {
      version = (JSON.parse(marker) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new OcipushError('ELAYOUT', `${join(root, 'oci-layout')}: corrupt layout marker (not JSON${byteOrderMarkNote(marker)})`, { path: root });
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new OcipushError('ELAYOUT', `${join(root, 'oci-layout')}: unsupported imageLayoutVersion ${JSON.stringify(version)}`, { path: root });
    }
    // A destination (copy, pull) whose index.json cannot take a tag is refused before a blob moves. It is a writer
    // from the start: a blob it finds here and skips (no image names it) is not swept by a gc before its tag.
    if (options.create) await layout.readIndex().then(() => layout.session());
    return layout;
  }

  /** Makes the layout whole; resolves to whether this process wrote its `oci-layout`. Safe against other processes doing the same. */
  private async initialise(): Promise<boolean> {
    this.createdDir = !(await exists(this.root));
    await makeDirectory(join(this.root, 'blobs', 'sha256'), 'cannot create layout');
    const session = await this.session();
    const { withLock } = await import('./lock.js');
    // index.json first: a layout is only recognised once oci-layout exists, and then it is whole.
    return withLock(this.lockPath, async () => {
      if (!(await exists(this.indexPath))) {
        await writeFileAtomic(this.indexPath, encodeJson({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] } satisfies ImageIndex), session.dir);
      }
      if (await exists(join(this.root, 'oci-layout'))) return false;
      await writeFileAtomic(join(this.root, 'oci-layout'), encodeJson({ imageLayoutVersion: LAYOUT_VERSION }), session.dir);
      return true;
    }, this.liveness);
  }

  /** This process's ingest session in the layout, opened on the first write. */
  session(): Promise<IngestSession> {
    if (this.discarded) return Promise.reject(new OcipushError('EABORTED', `${this.root}: discarded after a failure; nothing more is written to it`));
    if (!this.sessionPromise) {
      // The writing code (sessions, locks, staged blobs) loads on the first write: a push never loads it.
      this.sessionPromise = import('./ingest.js').then((m) => m.IngestSession.open(this.root, this.liveness));
      this.sessionPromise.catch(() => { this.sessionPromise = undefined; });
    }
    return this.sessionPromise;
  }

  /** Ends this process's session (removing what is unfinished in it); the layout can write again later. */
  async close(): Promise<void> {
    this.forgetAtSignal?.();
    this.forgetAtSignal = undefined;
    const pending = this.sessionPromise;
    if (!pending || !this.ownsSession) return;
    this.sessionPromise = undefined;
    await (await pending.catch(() => undefined))?.close();
  }

  /**
   * Undoes `open({ create: true })` after a failure, when this process made the layout and it
   * still holds no image and no other process is writing into it: a failed pull into a new
   * directory leaves nothing behind. Ends the session.
   */
  async discardIfCreated(): Promise<void> {
    if (!this.created) return this.close();
    // A failed pull's other transfers may still run: none of them may make the layout again.
    this.discarded = true;
    const session = await this.sessionPromise?.catch(() => undefined);
    const [{ withLock }, { listSessions }] = await Promise.all([import('./lock.js'), import('./ingest.js')]);
    const removed = session && await withLock(this.lockPath, async () => {
      if ((await this.readIndex()).manifests.length > 0) return false;
      if ((await listSessions(this.root, this.liveness)).some((s) => !s.gone && s.path !== session.dir)) return false;
      // oci-layout first: from then on it is not a layout, whatever is left.
      for (const name of ['oci-layout', 'blobs', 'index.json', REMOTE_BLOBS_FILE, CACHE_DIR]) await rm(join(this.root, name), { recursive: true, force: true });
      return true;
    }, this.liveness).catch(() => false);
    await this.close();
    if (removed && this.createdDir) await rmdir(this.root).catch(() => {});
  }

  /** Runs `fn` under the layout's index lock (what gc holds while it sweeps). */
  withIndexLock<T>(fn: (lock: HeldLock) => Promise<T>, options: LockOptions = this.liveness): Promise<T> {
    return import('./lock.js').then((m) => m.withLock(this.lockPath, fn, options));
  }

  get indexPath(): string { return join(this.root, 'index.json'); }

  private get lockPath(): string { return join(this.root, INDEX_LOCK); }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  /** The blob's file, re-readable whole (verified) or by range: uploads read it in chunks, retries read it again. */
  blobSource(desc: Pick<Descriptor, 'digest' | 'size'>): BlobSource {
    return fileSource(this.blobPath(desc.digest), desc);
  }

  async exists(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    try {
      const s = await stat(this.blobPath(desc.digest));
      return s.isFile() && s.size === desc.size;
    } catch {
      return false;
    }
  }

  /**
   * Why a blob the layout should hold cannot be used: a file of another size is corrupt
   * (EDIGEST, "truncated to N bytes"), no file is missing (ELAYOUT). `what` begins the message;
   * `missingHint` ends it when the blob is missing.
   */
  async unusableBlobError(desc: Pick<Descriptor, 'digest' | 'size'>, what = `${this.root}: blob ${desc.digest}`, missingHint = ''): Promise<OcipushError> {
    const path = this.blobPath(desc.digest);
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() && st.size !== desc.size) {
      return new OcipushError('EDIGEST', `${what} is corrupt: ${st.size < desc.size ? 'truncated to' : 'grown to'} ${st.size} bytes, expected ${desc.size} (${path})`, { path, digest: desc.digest });
    }
    return new OcipushError('ELAYOUT', `${what} is missing${missingHint}`, { path, digest: desc.digest });
  }

  /** A stream of the blob that fails (EDIGEST) unless the bytes match the descriptor. */
  async fetch(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    if (desc.size <= SMALL_BLOB_BYTES) {
      const path = this.blobPath(desc.digest);
      return readSmallBlob(path, desc, `blob ${desc.digest} in ${this.root}`, () => new OcipushError('ELAYOUT', `${this.root}: blob ${desc.digest} is missing`, { path, digest: desc.digest }));
    }
    const raw = await this.openRaw(desc.digest);
    const verifier = new VerifyingStream(desc, `blob ${desc.digest} in ${this.root}`);
    // Errors of either side reach the reader; a reader that gives up early closes the file.
    return pipelineCallback(raw, verifier, () => {});
  }

  /** The blob's bytes without verification, for callers that hash them anyway. */
  async openRaw(digest: Digest): Promise<Readable> {
    const path = this.blobPath(digest);
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new OcipushError('ELAYOUT', `${this.root}: blob ${digest} is missing`, { path, digest });
      throw fromSystemError(err, path, 'cannot read');
    });
    return fh.createReadStream({ highWaterMark: 1 << 20 });
  }

  /** Reads a small blob (manifest, index, config) whole and verified. */
  async readBlob(desc: Pick<Descriptor, 'digest' | 'size'>, limit = MAX_MANIFEST_BYTES): Promise<Buffer> {
    if (desc.size > limit) throw new OcipushError('EINVALID', `blob ${desc.digest}: ${desc.size} bytes is too large to read into memory`);
    return readSmall(await this.fetch(desc), limit, `blob ${desc.digest}`);
  }

  async readManifest(desc: Descriptor): Promise<AnyManifest> {
    const bytes = await this.readBlob(desc);
    return parseManifest(bytes, `manifest ${desc.digest} in ${this.root}`, desc.mediaType);
  }

  /** Opens a temp file (in the ingest session) for a blob whose digest will be known when it is complete. */
  async ingest(algorithm = 'sha256'): Promise<BlobWriter> {
    const session = await this.session();
    const dir = join(this.root, 'blobs', algorithm);
    await makeDirectory(dir);
    const { StagedBlob } = await import('./staged-blob.js');
    const blob = await StagedBlob.create(session.dir, `layout ${this.root}`, algorithm);
    let committed = false;
    const abort = async () => {
      if (!blob.stream.destroyed) blob.stream.destroy();
      await blob.discard();
    };
    const commit = async (expected: Partial<Expected> = {}) => {
      if (committed) throw new OcipushError('EIO', `blob writer for ${this.root} already closed`);
      committed = true;
      try {
        if (blob.stream.errored) throw blob.stream.errored;
        if (!blob.stream.writableFinished) {
          // Flushes, syncs and closes the file; a write error (ENOSPC) rejects here.
          blob.stream.end();
          await finished(blob.stream);
        }
        const digest = blob.digest;
        const size = blob.size;
        if (expected.size !== undefined && expected.size !== size) {
          throw new OcipushError('EDIGEST', `blob ${expected.digest ?? digest}: got ${size} bytes, expected ${expected.size}`, { digest });
        }
        if (expected.digest !== undefined && expected.digest !== digest) {
          throw new OcipushError('EDIGEST', `blob ${expected.digest}: content has digest ${digest}`, { digest: expected.digest });
        }
        await blob.commitTo(this.blobPath(digest));
        return { digest, size };
      } catch (err) {
        await abort();
        throw err;
      }
    };
    return { stream: blob.stream, commit, abort };
  }

  /** Stores `content` under `desc.digest`, verified; a blob already present is not written again. */
  async push(desc: Pick<Descriptor, 'digest' | 'size'>, content: Readable): Promise<void> {
    await this.session().catch((err: unknown) => { content.destroy(); throw err; }); // registered before it looks: gc spares a blob found here
    if (await this.exists(desc)) {
      content.resume();
      return;
    }
    await this.store(content, digestAlgorithm(desc.digest), desc);
  }

  /**
   * Stores bytes that are made as they are read (an SBOM document, chunk by chunk), hashed as they
   * are written: each chunk is written while the next is made, and the whole is never in memory.
   */
  async putChunks(mediaType: string, chunks: Iterable<Uint8Array>, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
    // One chunk made ahead of the writer, no more.
    const { digest, size } = await this.store(Readable.from(chunks, { highWaterMark: 1 }));
    return { mediaType, digest, size, ...extra };
  }

  /** Writes `content` through an ingest, verified against `expected` when given, and stores it under its digest. */
  private async store(content: Readable, algorithm = 'sha256', expected: Partial<Expected> = {}): Promise<{ digest: Digest; size: number }> {
    let writer: BlobWriter;
    try {
      writer = await this.ingest(algorithm);
    } catch (err) {
      content.destroy();
      throw err;
    }
    try {
      // Every stage's error (the source's, the disk's) rejects here, and the other stage is destroyed.
      await pipeline(content, writer.stream);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return writer.commit(expected);
  }

  /** Stores JSON bytes (exactly these bytes) and returns their descriptor. */
  async putBytes(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
    const desc: Descriptor = { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
    const session = await this.session();
    if (!(await this.exists(desc))) {
      await mkdir(join(this.root, 'blobs', digestAlgorithm(desc.digest)), { recursive: true }).catch(() => {});
      await writeFileAtomic(this.blobPath(desc.digest), bytes, session.dir);
    }
    return desc;
  }

  async putJson(mediaType: string, value: unknown, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
    return this.putBytes(mediaType, encodeJson(value), extra);
  }

  async readIndex(): Promise<ImageIndex> {
    let text: string;
    try {
      text = await readFile(this.indexPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new OcipushError('ELAYOUT', `${this.root}: corrupt layout (index.json is missing)`, { path: this.indexPath });
      }
      throw fromSystemError(err, this.indexPath, 'cannot read');
    }
    let index: ImageIndex;
    try {
      index = JSON.parse(text) as ImageIndex;
    } catch {
      throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (index.json is not valid JSON${byteOrderMarkNote(text)})`, { path: this.indexPath });
    }
    if (index?.manifests === null) index.manifests = []; // umoci init's (and umoci rm's of the last name): Go's nil slice
    if (!index || index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
      throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (index.json is not an image index)`, { path: this.indexPath });
    }
    index.manifests.forEach((d, i) => {
      try { assertDescriptor(d, `manifests[${i}]`); assertAnnotations(d.annotations, `manifests[${i}]`); } catch (err) {
        throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (${(err as Error).message})`, { path: this.indexPath });
      }
    });
    return index;
  }

  /**
   * Read-modify-write of index.json under the layout lock. Every entry the change adds must already be stored:
   * none points at a missing blob. One there before is not judged: a blob deleted by hand fails no later write.
   * The referrer entries and cosign names of an image the change leaves unreached leave with it.
   */
  async updateIndex(mutate: (index: ImageIndex) => ImageIndex | void): Promise<ImageIndex> {
    const session = await this.session();
    const { withLock } = await import('./lock.js');
    const key = (d: Descriptor) => `${d.digest} ${d.annotations?.[Annotation.RefName] ?? ''}`;
    return withLock(this.lockPath, async (lock) => {
      const current = await this.readIndex();
      const was = [...current.manifests];
      const before = new Set(was.map(key));
      const next = mutate(current) ?? current;
      // Whichever verb moved or removed the name, what referred to an image no entry reaches now goes with it.
      next.manifests = await withoutReferrersOfLeft(this, was, next.manifests);
      for (const d of next.manifests) {
        if (!before.has(key(d)) && !(await this.exists(d))) {
          throw new OcipushError('ELAYOUT', `${this.root}: refusing to index ${d.digest}, which is not stored`, { digest: d.digest });
        }
      }
      await lock.assertHeld();
      await writeFileAtomic(this.indexPath, encodeJson(next), session.dir);
      return next;
    }, this.liveness);
  }

  /** Points `name` at `desc`, replacing only the entry that had that name. */
  async tag(desc: Descriptor, name: string): Promise<void> {
    // containerd's name (beside a bare tag, as docker save ≥ 25 writes) is the old entry's: a bare
    // tag takes its repository, as `docker tag` would; any other name goes without one.
    const { [Annotation.ContainerdImageName]: fullName, ...annotations } = desc.annotations ?? {};
    const repository = fullName !== undefined && !/[:/@]/.test(name) ? /^(.*\/[^/:@]+):[^/:@]+$/.exec(fullName)?.[1] : undefined;
    await this.updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== name);
      index.manifests.push({
        mediaType: desc.mediaType,
        digest: desc.digest,
        size: desc.size,
        ...(desc.platform ? { platform: desc.platform } : {}),
        ...(desc.artifactType ? { artifactType: desc.artifactType } : {}),
        annotations: { ...annotations, ...(repository ? { [Annotation.ContainerdImageName]: `${repository}:${name}` } : {}), [Annotation.RefName]: name },
      });
    });
  }

  async untag(name: string): Promise<boolean> {
    let removed = false;
    await this.updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== name);
      removed = index.manifests.length !== before;
    });
    return removed;
  }

  /** The names index.json gives (`org.opencontainers.image.ref.name`), each once, in its order: what umoci ls lists. */
  async names(): Promise<string[]> {
    const names = (await this.readIndex()).manifests.flatMap((d) => {
      const name = d.annotations?.[Annotation.RefName];
      return name === undefined ? [] : [name];
    });
    return [...new Set(names)];
  }

  /**
   * Finds an image by tag, or by digest (one under an index too); with no name, the only image in the layout. The error
   * lists what the layout holds, so a typo is easy to see.
   */
  async resolve(name?: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (name === undefined || name === '') {
      // Referrers (an SBOM of an image) are listed too, with their artifactType, and cosign's
      // signatures may be named beside the image: not images. Callers were given oci:DIR (no --tag).
      const images = imageEntries(index);
      const digests = new Set(images.map((d) => d.digest));
      // One image under several entries (unnamed by skopeo or a pull by digest, then named) is still the only one.
      if (digests.size === 1) return images.find((d) => d.annotations?.[Annotation.RefName] !== undefined) ?? images[0]!;
      if (images.length === 0) throw new OcipushError('ENOTFOUND', `${this.root}: the layout holds no image`);
      throw new OcipushError('EUSAGE', `${this.root}: the layout holds ${digests.size} images, name one as oci:DIR:NAME (${[...new Set(images.map((d) => d.annotations?.[Annotation.RefName] ?? d.digest))].join(', ')})`);
    }
    const byName = index.manifests.find((d) => d.annotations?.[Annotation.RefName] === name) ?? cosignSavedNames(index).get(name);
    if (byName) return byName;
    return (await import('./layout-lookup.js')).resolveUnnamed(this, index, name);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
