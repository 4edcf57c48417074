import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { OcipushError, fromWriteError } from '../errors.js';
import type { ForeignLayerKeeper, Storage, TagResolver } from '../content/storage.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, VerifyingStream, readSmall } from '../content/verify.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from '../oci/media-types.js';
import { encodeJson, isIndex, parseManifest, type AnyManifest, type ImageIndex } from '../oci/manifest.js';
import { blobPathInArchive } from './archive-storage.js';
import { addBuffer, addDirectory, addStream, copyInto } from './tar-pack.js';
import { normaliseRepoTag } from './names.js';
import { openFileSink, type ArchiveSink } from './sink.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

/**
 * A copy's destination that is a tar file written as the copy goes: `oci-archive:` (a tar of an
 * OCI layout) or `docker-archive:` (what `docker load` / `podman load` read). Blobs become
 * entries `blobs/sha256/<hex>` in the order they arrive (one at a time: a tar is sequential),
 * each verified on the way; `finish` adds index.json, or manifest.json naming the config and
 * layers of the image, and only then does the file appear under its name. Nothing is unpacked
 * or staged on disk.
 */
export class ArchiveWriter implements Storage, TagResolver, ForeignLayerKeeper {
  private readonly written = new Set<string>();
  private readonly small = new Map<string, Buffer>();
  private readonly names: { desc: Descriptor; name: string }[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly pack = tar.pack();
  private readonly pumped: Promise<void>;
  private failed?: unknown;

  private constructor(readonly path: string, readonly format: ArchiveFormat, private readonly sink: ArchiveSink) {
    this.pumped = copyInto(this.pack, sink.stream);
    this.pumped.catch((err) => { this.failed ??= err; });
  }

  static async create(path: string, format: ArchiveFormat): Promise<ArchiveWriter> {
    const writer = new ArchiveWriter(path, format, await openFileSink(path, `${format}:${path}`));
    if (format === 'oci-archive') await writer.serial(() => addBuffer(writer.pack, 'oci-layout', encodeJson({ imageLayoutVersion: '1.0.0' })));
    await writer.serial(async () => {
      await addDirectory(writer.pack, 'blobs/');
      await addDirectory(writer.pack, 'blobs/sha256/');
    });
    return writer;
  }

  /** docker load reads a file for every layer manifest.json names; an OCI layout may go without a foreign one. */
  keepsForeignLayers(): boolean {
    return this.format === 'docker-archive';
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.written.has(desc.digest);
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const bytes = this.small.get(desc.digest);
    if (!bytes) throw new OcipushError('EUNSUPPORTED', `${this.path}: blob ${desc.digest} cannot be read back while the archive is written`);
    const { Readable } = await import('node:stream');
    return Readable.from([bytes]);
  }

  async push(desc: Descriptor, content: Readable): Promise<void> {
    const what = `blob ${desc.digest} for ${this.path}`;
    if (isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType) || desc.size <= 64 * 1024) {
      const bytes = await readSmall(verifying(content, desc, what), Math.max(MAX_MANIFEST_BYTES, MAX_CONFIG_BYTES), what);
      this.small.set(desc.digest, bytes);
      await this.serial(() => addBuffer(this.pack, blobPathInArchive(desc.digest), bytes));
    } else {
      await this.serial(() => addStream(this.pack, blobPathInArchive(desc.digest), desc.size, verifying(content, desc, what), what));
    }
    this.written.add(desc.digest);
  }

  async tag(desc: Descriptor, name: string): Promise<void> {
    this.names.push({ desc, name });
  }

  async resolve(name: string): Promise<Descriptor> {
    const found = this.names.find((n) => n.name === name);
    if (!found) throw new OcipushError('ENOTFOUND', `${this.path}: no image named "${name}"`);
    return found.desc;
  }

  /** Writes the index (or manifest.json) for `root`, closes the tar and renames it into place. */
  async finish(root: Descriptor): Promise<void> {
    try {
      if (this.format === 'oci-archive') {
        const manifests: Descriptor[] = this.names.length === 0
          ? [strip(root)]
          : this.names.map(({ desc, name }) => ({ ...strip(desc), annotations: { ...(desc.annotations ?? {}), [Annotation.RefName]: name } }));
        const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
        await this.serial(() => addBuffer(this.pack, 'index.json', encodeJson(index)));
      } else {
        const bytes = this.small.get(root.digest);
        if (!bytes) throw new OcipushError('EINVALID', `${this.path}: manifest ${root.digest} was not written`);
        const manifest = parseManifest(bytes, `manifest ${root.digest}`, root.mediaType);
        if (isIndex(manifest)) throw new OcipushError('EUSAGE', `${this.path}: a docker archive holds one platform's image; choose one with --platform`);
        checkDockerArchiveImage(manifest, `${this.path}: manifest ${root.digest}`);
        const repoTags = this.names.map(({ name }) => normaliseRepoTag(name, `image name "${name}"`));
        const entry = { Config: blobPathInArchive(manifest.config.digest), RepoTags: repoTags, Layers: manifest.layers.map((l) => blobPathInArchive(l.digest)) };
        await this.serial(() => addBuffer(this.pack, 'manifest.json', encodeJson([entry])));
      }
      await this.serial(async () => { this.pack.finalize(); });
      await this.pumped;
      await this.sink.commit();
    } catch (err) {
      await this.abort();
      throw fromWriteError(err, this.path);
    }
  }

  /** Removes the partial file. */
  async abort(): Promise<void> {
    this.pack.destroy();
    await this.sink.abort();
  }

  /** One entry at a time, in order; a failed pack fails everything after it. */
  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => {
      if (this.failed) throw this.failed;
      return work();
    }).catch(async (err: unknown) => { throw await this.cause(err); });
    this.queue = next.catch((err) => { this.failed ??= err; });
    return next;
  }

  /**
   * A tar entry that failed because the pack was destroyed ("tar entry destroyed") is explained by
   * what destroyed it: the file's write (a full disk), which the pump then reports; the first
   * cause wins, as in export. A source's failure (an OcipushError) is its own cause.
   */
  private async cause(err: unknown): Promise<unknown> {
    const pack = this.pack as unknown as { destroying: boolean; destroyed: boolean };
    if (err instanceof OcipushError || !(pack.destroying || pack.destroyed)) return err;
    const written = await this.pumped.then(() => undefined, (e: unknown) => e);
    return written === undefined ? err : fromWriteError(written, this.path);
  }
}

/**
 * docker load and podman load read the config as an image's (its rootfs, its history): an
 * artifact's (the empty `{}`, a Helm chart's) makes an archive neither can load, so none is written.
 */
export function checkDockerArchiveImage(manifest: AnyManifest, name: string): void {
  if (isIndex(manifest)) return;
  const type = manifest.config.mediaType;
  if (type !== MediaType.OciConfig && type !== MediaType.DockerConfig) {
    throw new OcipushError('EUNSUPPORTED', `${name} is not a container image (config media type ${type}); a docker archive holds only images`);
  }
}

/**
 * `content` checked against `desc`. pipe() does not pass a source's error on: a source blob that
 * fails (wrong bytes in a layout, a broken download) must fail the copy, not go unheard and crash
 * the process as an unhandled 'error'.
 */
function verifying(content: Readable, desc: Descriptor, what: string): VerifyingStream {
  const verified = content.pipe(new VerifyingStream(desc, what));
  content.on('error', (err) => verified.destroy(err));
  return verified;
}

function strip(desc: Descriptor): Descriptor {
  return { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, ...(desc.platform ? { platform: desc.platform } : {}) };
}
