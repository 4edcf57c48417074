import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { OcipushError, fromSystemError } from '../errors.js';
import { Digester, digestAlgorithm, digestHex, sha256, type Digest } from '../oci/digest.js';
import { Annotation, assertDescriptor, type Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { encodeJson, parseManifest, type AnyManifest, type ImageIndex } from '../oci/manifest.js';
import { tempNameFor, writeFileAtomic } from './atomic.js';
import { trackTemp } from './cleanup.js';
import { withLock } from './lock.js';
import { fileSource, type BlobSource } from './blob-source.js';
import type { BlobSourceProvider, Storage, TagResolver } from './storage.js';
import { MAX_MANIFEST_BYTES, readSmall, VerifyingStream, type Expected } from './verify.js';

const LAYOUT_VERSION = '1.0.0';

export interface OpenLayoutOptions {
  /** Create the layout (and its directory) when it does not exist. */
  create?: boolean;
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
 * to a hidden temp name beside their final place, hashed while written and renamed once complete;
 * `index.json` is rewritten atomically under a lock, so concurrent writers never lose each other's
 * tags and no entry ever points at a missing blob.
 */
export class OciLayout implements Storage, TagResolver, BlobSourceProvider {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const root = resolve(dir);
    const layout = new OciLayout(root);
    let marker: string | undefined;
    try {
      marker = await readFile(join(root, 'oci-layout'), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw fromSystemError(err, join(root, 'oci-layout'), 'cannot read');
    }
    if (marker === undefined) {
      if (!options.create) throw new OcipushError('ELAYOUT', `${root}: not an OCI image layout (no oci-layout file)`, { path: root });
      await layout.initialise();
      return layout;
    }
    let version: unknown;
    try {
      version = (JSON.parse(marker) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new OcipushError('ELAYOUT', `${join(root, 'oci-layout')}: corrupt layout marker (not JSON)`, { path: root });
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new OcipushError('ELAYOUT', `${join(root, 'oci-layout')}: unsupported imageLayoutVersion ${JSON.stringify(version)}`, { path: root });
    }
    return layout;
  }

  private async initialise(): Promise<void> {
    try {
      await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    } catch (err) {
      throw fromSystemError(err, this.root, 'cannot create layout');
    }
    // index.json first: a layout is only recognised once oci-layout exists, and then it is whole.
    await withLock(this.lockPath, async () => {
      if (!(await exists(this.indexPath))) {
        await writeFileAtomic(this.indexPath, encodeJson(emptyIndex()));
      }
      if (!(await exists(join(this.root, 'oci-layout')))) {
        await writeFileAtomic(join(this.root, 'oci-layout'), encodeJson({ imageLayoutVersion: LAYOUT_VERSION }));
      }
    });
  }

  get indexPath(): string {
    return join(this.root, 'index.json');
  }

  private get lockPath(): string {
    return join(this.root, '.index.json.lock');
  }

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

  /** A stream of the blob that fails (EDIGEST) unless the bytes match the descriptor. */
  async fetch(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const raw = await this.openRaw(desc.digest);
    const verifier = new VerifyingStream(desc, `blob ${desc.digest} in ${this.root}`);
    raw.on('error', (err) => verifier.destroy(err));
    // A reader that gives up early (an upload cut off) destroys the verifier: close the file too.
    verifier.once('close', () => { if (!raw.destroyed) raw.destroy(); });
    return raw.pipe(verifier);
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

  /** Opens a temp file for a blob whose digest will be known when it is complete. */
  async ingest(algorithm = 'sha256'): Promise<BlobWriter> {
    const dir = join(this.root, 'blobs', algorithm);
    await mkdir(dir, { recursive: true }).catch((err) => { throw fromSystemError(err, dir, 'cannot create'); });
    const tmp = tempNameFor(join(dir, 'ingest'));
    const untrack = trackTemp(tmp);
    const digester = new Digester(algorithm);
    const file = createWriteStream(tmp, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 });
    const { Transform } = await import('node:stream');
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) { digester.update(chunk); cb(null, chunk); },
    });
    hasher.pipe(file);
    hasher.on('error', (err) => file.destroy(err));
    let settled = false;
    const finished = new Promise<void>((ok, fail) => {
      file.once('close', ok);
      file.once('error', (err) => fail(fromSystemError(err, tmp, 'cannot write blob')));
    });
    finished.catch(() => {});
    const abort = async () => {
      if (!settled) {
        settled = true;
        hasher.destroy();
        file.destroy();
      }
      await rm(tmp, { force: true }).catch(() => {});
      untrack();
    };
    const commit = async (expected: Partial<Expected> = {}) => {
      if (settled) throw new OcipushError('EIO', `blob writer for ${this.root} already closed`);
      try {
        if (!hasher.writableEnded) hasher.end();
        await finished;
        settled = true;
        const digest = digester.digest();
        const size = digester.size;
        if (expected.size !== undefined && expected.size !== size) {
          throw new OcipushError('EDIGEST', `blob ${expected.digest ?? digest}: got ${size} bytes, expected ${expected.size}`, { digest });
        }
        if (expected.digest !== undefined && expected.digest !== digest) {
          throw new OcipushError('EDIGEST', `blob ${expected.digest}: content has digest ${digest}`, { digest: expected.digest });
        }
        await syncFile(tmp);
        await rename(tmp, this.blobPath(digest)).catch((err) => { throw fromSystemError(err, this.blobPath(digest), 'cannot store blob'); });
        untrack();
        return { digest, size };
      } catch (err) {
        await abort();
        throw err;
      }
    };
    return { stream: hasher, commit, abort };
  }

  /** Stores `content` under `desc.digest`, verified; a blob already present is not written again. */
  async push(desc: Pick<Descriptor, 'digest' | 'size'>, content: Readable): Promise<void> {
    if (await this.exists(desc)) {
      content.resume();
      return;
    }
    const writer = await this.ingest(digestAlgorithm(desc.digest));
    try {
      await pipeline(content, writer.stream);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    await writer.commit(desc);
  }

  /** Stores JSON bytes (exactly these bytes) and returns their descriptor. */
  async putBytes(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
    const desc: Descriptor = { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
    if (!(await this.exists(desc))) await writeFileAtomic(this.blobPath(desc.digest), bytes);
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
      throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (index.json is not valid JSON)`, { path: this.indexPath });
    }
    if (!index || index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
      throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (index.json is not an image index)`, { path: this.indexPath });
    }
    index.manifests.forEach((d, i) => {
      try { assertDescriptor(d, `manifests[${i}]`); } catch (err) {
        throw new OcipushError('ELAYOUT', `${this.indexPath}: corrupt layout (${(err as Error).message})`, { path: this.indexPath });
      }
    });
    return index;
  }

  /**
   * Read-modify-write of index.json under the layout lock. Every descriptor the new index names
   * must already be stored: an entry never points at a missing blob.
   */
  async updateIndex(mutate: (index: ImageIndex) => ImageIndex | void): Promise<ImageIndex> {
    return withLock(this.lockPath, async () => {
      const current = await this.readIndex();
      const next = mutate(current) ?? current;
      for (const d of next.manifests) {
        if (!(await this.exists(d))) {
          throw new OcipushError('ELAYOUT', `${this.root}: refusing to index ${d.digest}, which is not stored`, { digest: d.digest });
        }
      }
      await writeFileAtomic(this.indexPath, encodeJson(next));
      return next;
    });
  }

  /** Points `name` at `desc`, replacing only the entry that had that name. */
  async tag(desc: Descriptor, name: string): Promise<void> {
    await this.updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== name);
      index.manifests.push({
        mediaType: desc.mediaType,
        digest: desc.digest,
        size: desc.size,
        ...(desc.platform ? { platform: desc.platform } : {}),
        ...(desc.artifactType ? { artifactType: desc.artifactType } : {}),
        annotations: { ...(desc.annotations ?? {}), [Annotation.RefName]: name },
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

  /**
   * Finds an image by tag, or by digest; with no name, the only image in the layout. The error
   * lists what the layout holds, so a typo is easy to see.
   */
  async resolve(name?: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (name === undefined || name === '') {
      // Referrers (an SBOM of an image) are listed too, with their artifactType: not images.
      const images = index.manifests.filter((d) => d.artifactType === undefined);
      if (images.length === 1) return images[0]!;
      if (images.length === 0) throw new OcipushError('ENOTFOUND', `${this.root}: the layout holds no image`);
      throw new OcipushError('ENOTFOUND', `${this.root}: the layout holds ${images.length} images, name one with --tag (${listNames(index)})`);
    }
    const byName = index.manifests.find((d) => d.annotations?.[Annotation.RefName] === name);
    if (byName) return byName;
    const byDigest = index.manifests.find((d) => d.digest === name);
    if (byDigest) return byDigest;
    throw new OcipushError('ENOTFOUND', `${this.root}: no image tagged "${name}" (the layout has: ${listNames(index) || 'none'})`);
  }
}

function listNames(index: ImageIndex): string {
  return index.manifests.map((d) => d.annotations?.[Annotation.RefName] ?? d.digest.slice(0, 19)).join(', ');
}

function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
