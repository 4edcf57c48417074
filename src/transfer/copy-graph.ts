import { setMaxListeners } from 'node:events';
import { Readable } from 'node:stream';
import { OcipushError } from '../errors.js';
import { isForeignLayer, missingEntryError, type Descriptor } from '../oci/descriptor.js';
import { isIndex, parseManifest, type AnyManifest } from '../oci/manifest.js';
import { isIndexMediaType, isManifestMediaType } from '../oci/media-types.js';
import {
  isBlobSourceProvider, isForeignLayerKeeper, isReferencePusher, isSourcePusher, isTagResolver, isUploadPlanner,
  type ReadOnlyStorage, type ReferencePusher, type SourcePusher, type Storage,
} from '../content/storage.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { storageSource, type BlobSource } from '../content/blob-source.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { blobsToSendAgain } from './unheld-blobs.js';
import { Limiter } from './limiter.js';
import { counting } from './counting.js';

export type NodeKind = 'index' | 'manifest' | 'config' | 'layer';

/** What happened to one node: sent, mounted from another repository, already there, or left out (foreign layers). */
export type CopyOutcome = 'uploaded' | 'mounted' | 'exists' | 'skipped';

export type CopyEvent =
  | { type: 'start'; descriptor: Descriptor; kind: NodeKind }
  | { type: 'progress'; descriptor: Descriptor; kind: NodeKind; bytes: number }
  | { type: 'done'; descriptor: Descriptor; kind: NodeKind; outcome: CopyOutcome }
  | { type: 'notice'; descriptor: Descriptor; kind: NodeKind; message: string };

export interface CopyOptions {
  /** Blobs transferred at once (default 4). */
  concurrency?: number;
  onEvent?: (event: CopyEvent) => void;
  /** Repositories (same registry as the destination) that may hold a blob, to mount it from. */
  mountFrom?: (desc: Descriptor) => string[] | string | undefined;
  /** Told of each repository of `mountFrom` that did not give the blob (see BlobPushOptions.onMountDeclined). */
  onMountDeclined?: (desc: Descriptor, fromRepository: string) => void;
  /**
   * The tag to give the root. A registry receives the root manifest directly under it; other
   * storages store it, then tag it.
   */
  rootReference?: string;
  /** Cancels the copy: nothing in flight completes, and a blob cut off is never committed. */
  signal?: AbortSignal;
  /**
   * Blobs and manifests known to be in the destination, not asked for: what an image changed in
   * place (`mutate`, `rebase`) keeps of itself. A lazily built layout's base layers, which it only records,
   * count as there.
   */
  present?: (desc: Descriptor) => boolean;
  /**
   * Shared by copies into one destination that run at once (`copy --all-tags --jobs`): the blob
   * transfers each has started, by digest. A blob another copy is sending is waited for and
   * counted as there, never sent twice (tags of one repository share their base layers).
   */
  inFlight?: Map<string, Promise<void>>;
}

export interface CopiedNode {
  descriptor: Descriptor;
  kind: NodeKind;
  outcome: CopyOutcome;
}

export interface CopyResult {
  root: Descriptor;
  /** Every node of the graph, each once, children before their parents (layers in manifest order, then the config); the root is last. */
  nodes: CopiedNode[];
}


/**
 * Copies the graph under `root` (index → manifests → config + layers) from `src` to `dst`, as
 * oras-go's CopyGraph: children before parents, what `dst` has already is skipped, each blob is
 * sent once even when several manifests share it, layers go in parallel (bounded) while the
 * manifest is asked for, with a small config beside them into a registry (after them otherwise),
 * and a manifest is pushed only after every blob it names is confirmed; the root goes last. The
 * first failure stops the rest: uploads into a registry are cancelled, their sessions deleted,
 * before it rejects; what a storage that ignores the signal still does is its owner's to abort.
 */
export async function copyGraph(src: ReadOnlyStorage, dst: Storage, root: Descriptor, options: CopyOptions = {}): Promise<CopyResult> {
  return new GraphCopy(src, dst, options).run(root);
}

/**
 * A config up to this size is sent with the layers: far below the smallest cap on a request body
 * met in front of registries (nginx's default client_max_body_size, 1 MiB).
 */
const CONFIG_WITH_LAYERS_BYTES = 256 * 1024;

class GraphCopy {
  private readonly limit: Limiter;
  private settled = false;
  private readonly visited = new Map<string, Promise<void>>();
  private readonly outcomes = new Map<string, CopiedNode>();
  private readonly manifests = new Map<string, { bytes: Buffer; parsed: AnyManifest }>();
  /** HEADs started before their blob's turn (a config, asked with the layers). */
  private readonly early = new Map<string, Promise<boolean>>();
  /** Stops the transfers still in flight once one has failed for good. */
  private readonly stop = new AbortController();
  /** Uploads into a registry in flight: a failed copy waits for them to delete their upload sessions. */
  private readonly uploads = new Set<Promise<unknown>>();
  private readonly signal: AbortSignal;

  constructor(private readonly src: ReadOnlyStorage, private readonly dst: Storage, private readonly options: CopyOptions) {
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new OcipushError('EUSAGE', `concurrency must be a positive whole number, not ${concurrency}`);
    }
    this.limit = new Limiter(concurrency);
    this.signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
    // Each request in flight listens to it (--concurrency 16): Node's warning past 10 is no leak here.
    setMaxListeners(0, this.signal);
  }

  async run(root: Descriptor): Promise<CopyResult> {
    this.options.signal?.throwIfAborted();
    try {
      await this.copyManifest(root, kindOf(root, 'manifest'), true);
    } catch (err) {
      // The other uploads are cancelled and waited for (each DELETE is bounded): a registry keeps
      // a session left open for days (distribution's upload purge runs weekly), and the failure
      // that stopped them is the one reported, not a sibling's cancellation.
      this.settled = true;
      this.limit.close();
      this.stop.abort();
      await Promise.allSettled([...this.uploads]);
      throw err;
    } finally {
      this.limit.close();
      // A copy that failed has said so: a transfer still in flight then (its owner aborts it)
      // reports nothing more, so that the failure is the last thing a user reads.
      this.settled = true;
    }
    return { root, nodes: this.inGraphOrder(root) };
  }

  /** Outcomes in a stable order, whatever order the transfers finished in: post-order, manifest order. */
  private inGraphOrder(root: Descriptor): CopiedNode[] {
    const ordered: CopiedNode[] = [];
    const seen = new Set<string>();
    const visit = (desc: Descriptor) => {
      if (seen.has(desc.digest)) return;
      seen.add(desc.digest);
      const parsed = this.manifests.get(desc.digest)?.parsed;
      if (parsed && isIndex(parsed)) parsed.manifests.forEach(visit);
      else if (parsed) [...parsed.layers, parsed.config].forEach(visit);
      const node = this.outcomes.get(desc.digest);
      if (node) ordered.push(node);
    };
    visit(root);
    return ordered;
  }

  private emit(event: CopyEvent): void {
    if (this.settled) return;
    this.options.onEvent?.(event);
  }

  private record(descriptor: Descriptor, kind: NodeKind, outcome: CopyOutcome): void {
    this.outcomes.set(descriptor.digest, { descriptor, kind, outcome });
    this.emit({ type: 'done', descriptor, kind, outcome });
  }

  /** Each digest is handled once; a second parent waits for the first copy. */
  private once(desc: Descriptor, work: () => Promise<void>): Promise<void> {
    let pending = this.visited.get(desc.digest);
    if (!pending) {
      pending = work();
      this.visited.set(desc.digest, pending);
    }
    return pending;
  }

  private copyNode(desc: Descriptor, kind: NodeKind): Promise<void> {
    if (isManifestDescriptor(desc)) return this.once(desc, () => this.copyManifest(desc, kindOf(desc, kind), false));
    return this.once(desc, () => this.limit.run(() => this.copyBlob(desc, kind)));
  }

  private async copyManifest(desc: Descriptor, kind: NodeKind, isRoot: boolean): Promise<void> {
    const { bytes, parsed } = await this.readManifest(desc).catch((err: unknown) => { throw isRoot ? err : missingPlatform(err, desc); });
    if (isRoot && await this.alreadyTagged(desc)) {
      // A re-push of an unchanged image: one HEAD by tag says everything is there, no PUT needed.
      await this.markPresent(parsed);
      this.record(desc, kind, 'exists');
      return;
    }
    // The manifest by digest and every child at once: a cold push asks all its HEADs in one round
    // trip. A registry holds a manifest only with all it names, so when the manifest is there its
    // children's HEADs say so too, and nothing is sent.
    let children: Promise<void>;
    if (isIndex(parsed)) {
      if (isRoot) await this.readManifestTree(parsed, new Set());
      children = Promise.all(parsed.manifests.map((child) => this.copyNode(child, 'manifest'))).then(() => {});
    } else {
      const layers = Promise.all(parsed.layers.map((layer) => this.copyNode(layer, 'layer')));
      // Awaited below; a layer that fails while the config's turn is being decided is not unhandled.
      layers.catch(() => {});
      this.askEarly(parsed.config);
      children = (async () => {
        if (await this.configWithLayers(parsed.config)) await Promise.all([layers, this.copyNode(parsed.config, 'config')]);
        else await layers.then(() => this.copyNode(parsed.config, 'config'));
      })();
    }
    const [present] = await Promise.all([this.inDestination(desc), children]);
    if (present) {
      if (isRoot) await this.putRoot(desc, bytes, 'exists', kind);
      else this.record(desc, kind, 'exists');
      return;
    }
    if (isRoot) {
      await this.putRoot(desc, bytes, 'uploaded', kind);
      return;
    }
    this.emit({ type: 'start', descriptor: desc, kind });
    await this.pushManifest(desc, bytes);
    this.record(desc, kind, 'uploaded');
  }

  /**
   * Whether a registry destination's tag already names this very manifest. Asked only where a
   * tag costs a request (a ReferencePusher); a tag that is missing or names another digest means
   * the copy goes on as usual.
   */
  private async alreadyTagged(desc: Descriptor): Promise<boolean> {
    const reference = this.options.rootReference;
    if (reference === undefined || !isReferencePusher(this.dst) || !isTagResolver(this.dst)) return false;
    try {
      return (await this.dst.resolve(reference, this.io)).digest === desc.digest;
    } catch (err) {
      if (err instanceof OcipushError && err.code === 'ENOTFOUND') return false;
      throw err;
    }
  }

  /** The root goes straight under its tag when the destination can (a registry), else push then tag. */
  private async putRoot(desc: Descriptor, bytes: Buffer, outcome: CopyOutcome, kind: NodeKind): Promise<void> {
    // Cancelled while the last blob went up: the root must not name a graph the caller gave up on.
    this.options.signal?.throwIfAborted();
    const reference = this.options.rootReference;
    const dst = this.dst;
    this.emit({ type: 'start', descriptor: desc, kind });
    if (isReferencePusher(dst)) {
      if (outcome !== 'exists' || reference !== undefined) await this.putManifest(desc, bytes, reference ?? desc.digest);
    } else {
      if (outcome !== 'exists') await this.pushManifest(desc, bytes);
      if (reference !== undefined) {
        if (!isTagResolver(dst)) throw new OcipushError('EUNSUPPORTED', `the destination cannot tag ${desc.digest} as ${reference}`);
        await dst.tag(desc, reference, this.io);
      }
    }
    this.record(desc, kind, outcome);
  }

  private async pushManifest(desc: Descriptor, bytes: Buffer): Promise<void> {
    this.options.signal?.throwIfAborted();
    if (isReferencePusher(this.dst)) await this.putManifest(desc, bytes, desc.digest);
    else await this.dst.push(desc, Readable.from([bytes]), this.io);
  }

  /**
   * A manifest PUT into a registry. Refused for blobs the registry had said it held (see
   * unheld-blobs.ts), those are uploaded from the source, without a mount, and the PUT sent again.
   */
  private async putManifest(desc: Descriptor, bytes: Buffer, reference: string): Promise<void> {
    const dst = this.dst as Storage & ReferencePusher;
    try {
      await dst.pushManifest(desc, bytes, reference, this.io);
    } catch (err) {
      const parsed = this.manifests.get(desc.digest)?.parsed;
      const blobs = parsed && !isIndex(parsed) && isSourcePusher(dst) ? blobsToSendAgain(err, [...parsed.layers, parsed.config], (d) => this.outcomes.get(d)?.outcome) : [];
      if (blobs.length === 0) throw err;
      for (const blob of blobs) {
        const { kind, outcome } = this.outcomes.get(blob.digest)!;
        const said = outcome === 'mounted' ? 'its mount was answered as done' : 'it was found there';
        this.emit({ type: 'notice', descriptor: blob, kind, message: `${blob.digest}: manifest ${desc.digest} was refused for lacking it, though ${said} (MANIFEST_BLOB_UNKNOWN): uploading it` });
        await this.upload(blob, kind, []);
      }
      await dst.pushManifest(desc, bytes, reference, this.io);
    }
  }

  /**
   * A config of the usual few kilobytes goes up to a registry beside the layers, as crane and
   * containerd send it: its two round trips (POST, PUT) were the last thing a cold push of a small
   * image waited for before its manifest. A large one, or one the registry would take in chunks,
   * goes after them, so that what they teach about the registry (a cap on request size, no PATCH)
   * applies. Into a layout or an archive (no UploadPlanner) it goes last as well: there it saves no
   * round trip, and a pull whose layer fails leaves no config behind.
   */
  private async configWithLayers(config: Descriptor): Promise<boolean> {
    if (config.size > CONFIG_WITH_LAYERS_BYTES) return false;
    return isUploadPlanner(this.dst) ? this.dst.uploadsInOneRequest(config.size) : false;
  }

  /** Starts the HEAD of a blob that is copied later (copyBlob takes its answer). */
  private askEarly(desc: Descriptor): void {
    if (this.visited.has(desc.digest) || this.early.has(desc.digest) || this.leftOut(desc)) return;
    const asked = this.inDestination(desc);
    // Its failure is reported by copyBlob, or not at all when a layer failed first.
    asked.catch(() => {});
    this.early.set(desc.digest, asked);
  }

  private inDestination(desc: Descriptor): Promise<boolean> {
    return this.options.present?.(desc) ? Promise.resolve(true) : this.dst.exists(desc, this.io);
  }

  private get io(): { signal: AbortSignal } {
    return { signal: this.signal };
  }

  /** Reports everything under an existing manifest as present, without asking the destination again. */
  private async markPresent(parsed: AnyManifest): Promise<void> {
    const children: [Descriptor, NodeKind][] = isIndex(parsed)
      ? parsed.manifests.map((d) => [d, kindOf(d, 'manifest')])
      : [...parsed.layers.map((d): [Descriptor, NodeKind] => [d, 'layer']), [parsed.config, 'config']];
    for (const [child, kind] of children) {
      if (this.visited.has(child.digest)) continue;
      this.visited.set(child.digest, Promise.resolve());
      if (isManifestDescriptor(child)) await this.markPresent((await this.readManifest(child)).parsed);
      this.record(child, kind, 'exists');
    }
  }

  private async copyBlob(desc: Descriptor, kind: NodeKind): Promise<void> {
    const shared = this.options.inFlight;
    if (!shared || this.leftOut(desc)) return this.sendBlob(desc, kind);
    const other = shared.get(desc.digest);
    // The other copy's failure is its own to report: then this one tries for itself.
    if (other && await other.then(() => true, () => false)) {
      this.record(desc, kind, 'exists');
      return;
    }
    const mine = this.sendBlob(desc, kind);
    shared.set(desc.digest, mine);
    return mine;
  }

  private async sendBlob(desc: Descriptor, kind: NodeKind): Promise<void> {
    this.options.signal?.throwIfAborted();
    if (this.leftOut(desc)) {
      this.record(desc, kind, 'skipped');
      return;
    }
    if (await (this.early.get(desc.digest) ?? this.inDestination(desc))) {
      this.record(desc, kind, 'exists');
      return;
    }
    if (isSourcePusher(this.dst)) return this.upload(desc, kind, toList(this.options.mountFrom?.(desc)));
    this.emit({ type: 'start', descriptor: desc, kind });
    const onProgress = (bytes: number) => this.emit({ type: 'progress', descriptor: desc, kind, bytes });
    const dst = this.dst;
    // A storage that takes a stream (a layout): the source's fetch verifies, and resumes a broken
    // download itself where it can (the registry transport does).
    const body = await this.src.fetch(desc, this.io);
    try {
      await dst.push(desc, counting(body, onProgress), this.io);
    } catch (err) {
      // A destination that failed before reading it all (an archive whose disk is full refuses the
      // blobs after) leaves the source's file open until garbage collection: closed here.
      body.destroy();
      throw err;
    }
    this.record(desc, kind, 'uploaded');
  }

  /** Into a registry (a SourcePusher): mounted from one of `mountFrom`, else uploaded from the source. */
  private async upload(desc: Descriptor, kind: NodeKind, mountFrom: string[]): Promise<void> {
    this.emit({ type: 'start', descriptor: desc, kind });
    const onProgress = (bytes: number) => this.emit({ type: 'progress', descriptor: desc, kind, bytes });
    const onNotice = (message: string) => this.emit({ type: 'notice', descriptor: desc, kind, message });
    const declined = this.options.onMountDeclined;
    const pushed = (this.dst as Storage & SourcePusher).pushBlob(desc, this.sourceOf(desc), {
      mountFrom, onProgress, onNotice, ...this.io, ...(declined ? { onMountDeclined: (from: string) => declined(desc, from) } : {}),
    });
    this.uploads.add(pushed);
    const outcome = await pushed.finally(() => this.uploads.delete(pushed));
    this.record(desc, kind, outcome);
  }

  /**
   * Whether a layer stays out of the copy: a foreign (non-distributable) layer lives at its `urls`,
   * and registries and layouts go without it, as crane and skopeo leave it out; a destination that
   * must hold every layer (a docker archive: docker load reads them all) gets it, from the source
   * or, as skopeo fetches it, from its `urls`.
   */
  private leftOut(desc: Descriptor): boolean {
    return isForeignLayer(desc) && !(isForeignLayerKeeper(this.dst) && this.dst.keepsForeignLayers());
  }

  /** The source's own re-readable blobs (a layout's files, lazy base layers), else its fetch, opened again per read. */
  private sourceOf(desc: Descriptor): BlobSource {
    return isBlobSourceProvider(this.src) ? this.src.blobSource(desc) : storageSource(this.src, desc);
  }

  /**
   * Every manifest under an index, read (and kept) before a blob moves: a child the source lacks
   * (a platform docker save or skopeo's index-only copy left out, a manifest deleted from the
   * registry) fails the copy with nothing written, rather than after the other platforms' layers.
   */
  private async readManifestTree(index: AnyManifest, seen: Set<string>): Promise<void> {
    if (!isIndex(index)) return;
    await Promise.all(index.manifests.filter((child) => isManifestDescriptor(child) && !seen.has(child.digest)).map(async (child) => {
      seen.add(child.digest);
      const { parsed } = await this.readManifest(child).catch((err: unknown) => { throw missingPlatform(err, child); });
      await this.readManifestTree(parsed, seen);
    }));
  }

  private async readManifest(desc: Descriptor): Promise<{ bytes: Buffer; parsed: AnyManifest }> {
    const known = this.manifests.get(desc.digest);
    if (known) return known;
    if (desc.size > MAX_MANIFEST_BYTES) throw new OcipushError('EINVALID', `manifest ${desc.digest}: ${desc.size} bytes is too large`);
    const bytes = await readSmall(await this.src.fetch(desc, this.io), MAX_MANIFEST_BYTES, `manifest ${desc.digest}`);
    const entry = { bytes, parsed: parseManifest(bytes, `manifest ${desc.digest}`, desc.mediaType) };
    this.manifests.set(desc.digest, entry);
    return entry;
  }
}

/**
 * A platform's manifest the source does not hold, under an index that names it: in a layout or an
 * archive, what `docker save` (Docker 25 and later) writes of a multi-platform image, the index
 * whole but only the platforms pulled; in a registry, a manifest deleted under its index (or an
 * index pushed alone). Said as such, with the way to copy what is there.
 */
function missingPlatform(err: unknown, desc: Descriptor): unknown {
  return missingEntryError(err, desc, (platform, code) => {
    const why = code === 'ELAYOUT' ? 'docker save keeps only the platforms it pulled' : 'deleted under its index, or the index pushed without it';
    return `the index names it for ${platform}, which the source does not hold (${why}); copy the platforms it has with --platform`;
  });
}

function isManifestDescriptor(desc: Pick<Descriptor, 'mediaType'>): boolean {
  return isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
}

function kindOf(desc: Descriptor, fallback: NodeKind): NodeKind {
  if (isIndexMediaType(desc.mediaType)) return 'index';
  if (isManifestDescriptor(desc)) return 'manifest';
  return fallback;
}

function toList(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
