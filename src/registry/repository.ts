import { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import { digestAs } from '../oci/digest.js';
import { isForeignLayer, type Descriptor } from '../oci/descriptor.js';
import { isIndexMediaType, isManifestMediaType } from '../oci/media-types.js';
import type { BlobPushOptions, BlobSourceProvider, OperationOptions, ReferencePusher, SourcePusher, Storage, TagResolver } from '../content/storage.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { blobExists, cancelUpload, fetchBlob, fetchBlobRange, fetchForeignBlob, mountBlob, type UploadSession } from './blobs.js';
import type { RegistryClient, RequestTiming } from './http.js';
import { fetchManifest, getManifestDescriptor, headManifest, putManifest, type FetchedManifest } from './manifests.js';
import { storageSource, type BlobSource } from '../content/blob-source.js';
import type { UploadOptions } from './upload.js';
import { pullScope, pushScope } from './scopes.js';
import { abortedError, interruptible } from './cancel.js';

/** The upload code, loaded by the first blob sent: a re-push, a pull or a HEAD never needs it. */
const uploads = () => import('./upload.js');

export type BlobOutcome = 'uploaded' | 'mounted' | 'exists';

const MAX_MOUNT_ATTEMPTS = 3;

/** Repositories of the same registry that may hold the blob (`mountFrom`) are tried in order before uploading. */
export type PushBlobOptions = BlobPushOptions;

export interface RepositoryOptions {
  /** Forces chunked uploads of this chunk size (`--chunk-size`). */
  chunkSize?: number;
  /** Blobs above this size go chunked by default. */
  chunkThreshold?: number;
  /**
   * The repository is written to (a push's or a copy's destination): its checks ask a push token
   * from the first, as docker and crane ask it, so one token serves the whole push and a registry
   * refusing them says that credentials are missing, not that a repository may not exist.
   */
  destination?: boolean;
}

export function isManifestDescriptor(desc: Pick<Descriptor, 'mediaType'>): boolean {
  return isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
}

/**
 * One repository of a registry (`<registry>/<name>`) as a Storage: blobs go to the blob endpoints,
 * manifests and indexes to the manifest endpoint. Manifest bytes it pushed or fetched are kept
 * (they are small), so tagging the same manifest again sends the very same bytes.
 */
export class Repository implements Storage, TagResolver, SourcePusher, ReferencePusher, BlobSourceProvider {
  private readonly manifestBytes = new Map<string, Buffer>();
  private readonly subjectsAnswered = new Map<string, string>();

  constructor(readonly client: RegistryClient, readonly name: string, private readonly options: RepositoryOptions = {}) {}

  get registry(): string {
    return this.client.registry;
  }

  get repositoryName(): string {
    return this.name;
  }

  /** `registry/name`, for messages. */
  toString(): string {
    return `${this.client.registry}/${this.name}`;
  }

  async exists(desc: Descriptor, options: OperationOptions = {}): Promise<boolean> {
    if (isManifestDescriptor(desc)) return (await headManifest(this.client, this.name, desc.digest, timing(options), this.checkScope())) !== undefined;
    return blobExists(this.client, this.name, desc, timing(options), this.checkScope());
  }

  private checkScope(): string {
    return this.options.destination ? pushScope(this.name) : pullScope(this.name);
  }

  async fetch(desc: Descriptor, options: OperationOptions = {}): Promise<Readable> {
    if (isManifestDescriptor(desc)) {
      const bytes = await this.manifestBytesOf(desc, options);
      return Readable.from([bytes]);
    }
    try {
      return await fetchBlob(this.client, this.name, desc, timing(options));
    } catch (err) {
      // A foreign layer is usually not in the registry: its bytes live at its urls.
      if (isForeignLayer(desc) && err instanceof OcipushError && err.code === 'ENOTFOUND') return fetchForeignBlob(this.client, String(this), desc, timing(options));
      throw err;
    }
  }

  /**
   * A blob as an upload source (a copy to another registry): whole through fetch (verified),
   * a chunk by a ranged GET of its own bytes. A foreign layer may live only at its URLs: its
   * chunks are cut out of the whole.
   */
  blobSource(desc: Descriptor): BlobSource {
    if (isForeignLayer(desc)) return storageSource(this, desc);
    return {
      size: desc.size,
      open: () => this.fetch(desc),
      openRange: (start, end) => fetchBlobRange(this.client, this.name, desc, start, end),
    };
  }

  /**
   * Storage.push with a stream that can be read only once: a manifest is read whole; a blob goes up
   * in one PUT and cannot be retried. Copies use pushBlob with a re-openable source instead.
   */
  async push(desc: Descriptor, content: Readable, options: OperationOptions = {}): Promise<void> {
    if (isManifestDescriptor(desc)) {
      const bytes = await readSmall(content, MAX_MANIFEST_BYTES, `manifest ${desc.digest}`);
      await this.pushManifest(desc, bytes, desc.digest, options);
      return;
    }
    let opened = false;
    const once = async (): Promise<Readable> => {
      if (opened) throw new OcipushError('EUNSUPPORTED', `blob ${desc.digest}: a one-shot stream cannot be sent again`);
      opened = true;
      return content;
    };
    const { uploadBlob } = await uploads();
    await uploadBlob(this.client, this.name, desc, { size: desc.size, open: once, openRange: async () => once() }, { chunkThreshold: Number.MAX_SAFE_INTEGER, signal: options.signal });
  }

  /**
   * Puts a blob in the repository: mounted from one of `mountFrom` when the registry allows it,
   * else uploaded (monolithic or chunked, see upload.ts). Resolves once the registry confirmed it.
   */
  async pushBlob(desc: Descriptor, source: BlobSource, options: PushBlobOptions = {}): Promise<Exclude<BlobOutcome, 'exists'>> {
    // Ctrl-C while a mount is asked: the exit waits for its answer, whose session (a declined
    // mount opens one) is deleted, as an upload's is; cut, it would stay named by no one.
    return interruptible(options.signal, (signal) => this.mountOrUpload(desc, source, { ...options, signal }));
  }

  private async mountOrUpload(desc: Descriptor, source: BlobSource, options: PushBlobOptions & { signal: AbortSignal }): Promise<Exclude<BlobOutcome, 'exists'>> {
    let session: UploadSession | undefined;
    // A few candidates at most: stale ones cost a request each before the upload starts.
    const candidates = [...new Set(options.mountFrom ?? [])].filter((from) => from !== this.name).slice(0, MAX_MOUNT_ATTEMPTS);
    for (const [i, from] of candidates.entries()) {
      if (options.signal.aborted) throw abortedError(this.client.registry, `mount blob ${desc.digest} from ${from}`);
      const result = await mountBlob(this.client, this.name, desc, from);
      if (result.kind === 'mounted') return 'mounted';
      options.onMountDeclined?.(from);
      if (result.kind === 'session') {
        // distribution answers 202 when the source lacks the blob: try the next source, or
        // upload into the session the last one opened (the upload deletes it if cancelled).
        if (i === candidates.length - 1) session = result.session;
        else await cancelUpload(this.client, this.name, result.session);
      }
    }
    const upload: UploadOptions = {
      chunkSize: this.options.chunkSize,
      chunkThreshold: this.options.chunkThreshold,
      session,
      onProgress: options.onProgress,
      onNotice: options.onNotice,
      signal: options.signal,
    };
    const { uploadBlob } = await uploads();
    await uploadBlob(this.client, this.name, desc, source, upload);
    return 'uploaded';
  }

  async uploadsInOneRequest(size: number): Promise<boolean> {
    const { sendsInOneRequest } = await uploads();
    return sendsInOneRequest(this.client, size, { chunkSize: this.options.chunkSize, chunkThreshold: this.options.chunkThreshold });
  }

  /** Cross-repository mount alone: true when the blob is now here, false when the registry declined. */
  async mount(desc: Descriptor, fromRepository: string, options: OperationOptions = {}): Promise<boolean> {
    const result = await mountBlob(this.client, this.name, desc, fromRepository, timing(options));
    if (result.kind === 'session') await cancelUpload(this.client, this.name, result.session);
    return result.kind === 'mounted';
  }

  /** PUTs manifest bytes under a tag, or under their digest when no tag is given. */
  async pushManifest(desc: Descriptor, bytes: Buffer, reference: string = desc.digest, options: OperationOptions = {}): Promise<void> {
    const actual = digestAs(desc.digest, bytes);
    if (actual !== desc.digest || bytes.length !== desc.size) {
      throw new OcipushError('EDIGEST', `manifest ${desc.digest}: the bytes to push have digest ${actual} (${bytes.length} bytes)`, { digest: desc.digest });
    }
    const answer = await putManifest(this.client, this.name, desc, bytes, reference, timing(options));
    this.manifestBytes.set(desc.digest, bytes);
    if (answer.ociSubject) this.subjectsAnswered.set(desc.digest, answer.ociSubject);
  }

  /**
   * The subject the registry named (`OCI-Subject`) when this repository pushed `digest`: a
   * registry with the referrers API lists the manifest among its subject's referrers itself.
   */
  subjectAnswered(digest: string): string | undefined {
    return this.subjectsAnswered.get(digest);
  }

  /** The descriptor a tag (or digest) points at; ENOTFOUND when there is none. */
  async resolve(reference: string, options: OperationOptions = {}): Promise<Descriptor> {
    const desc = await headManifest(this.client, this.name, reference, timing(options), this.checkScope());
    if (!desc) throw this.notFound(reference);
    return desc;
  }

  /**
   * resolve, for a reference a user names to read: a HEAD answered 404 is asked again by GET, as
   * crane digest asks (a pull-through cache, Artifactory's remote repositories, answers HEAD 404
   * for what it has not fetched yet; its GET fetches it). Not for checks of what may be missing:
   * each missing tag would cost two requests.
   */
  async resolveToRead(reference: string, options: OperationOptions = {}): Promise<Descriptor> {
    const desc = await headManifest(this.client, this.name, reference, timing(options), this.checkScope())
      ?? await getManifestDescriptor(this.client, this.name, reference, timing(options));
    if (!desc) throw this.notFound(reference);
    return desc;
  }

  /** Points another tag at a manifest already in the repository: the same bytes, PUT again (crane tag). */
  async tag(desc: Descriptor, reference: string, options: OperationOptions = {}): Promise<void> {
    const bytes = await this.manifestBytesOf(desc, options);
    await putManifest(this.client, this.name, desc, bytes, reference, timing(options));
  }

  /** A manifest by tag or digest, with its exact bytes. */
  async fetchManifest(reference: string, options: OperationOptions & { keepSchema1?: boolean } = {}): Promise<FetchedManifest> {
    try {
      const fetched = await fetchManifest(this.client, this.name, reference, timing(options), { keepSchema1: options.keepSchema1 });
      this.manifestBytes.set(fetched.descriptor.digest, fetched.bytes);
      return fetched;
    } catch (err) {
      if (err instanceof OcipushError && err.code === 'ENOTFOUND') throw this.notFound(reference);
      throw err;
    }
  }

  private async manifestBytesOf(desc: Descriptor, options: OperationOptions = {}): Promise<Buffer> {
    const cached = this.manifestBytes.get(desc.digest);
    if (cached) return cached;
    const fetched = await this.fetchManifest(desc.digest, options);
    if (fetched.bytes.length !== desc.size) {
      throw new OcipushError('EDIGEST', `${this}: manifest ${desc.digest} has ${fetched.bytes.length} bytes, expected ${desc.size}`, { digest: desc.digest });
    }
    return fetched.bytes;
  }

  private notFound(reference: string): OcipushError {
    const sep = reference.includes(':') ? '@' : ':';
    return new OcipushError('ENOTFOUND', `${this}${sep}${reference}: manifest not found`);
  }
}

/** The request settings an operation's options give: its signal (the deadline is the client's default). */
function timing(options: OperationOptions): RequestTiming {
  return options.signal ? { signal: options.signal } : {};
}
