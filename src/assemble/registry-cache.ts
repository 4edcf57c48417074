import { OcipushError } from '../errors.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, type Descriptor } from '../oci/descriptor.js';
import { digestAlgorithm, digestHex, sha256, type Digest } from '../oci/digest.js';
import { layerCompression, layerMediaType, MediaType, type Compression } from '../oci/media-types.js';
import { encodeJson, isIndex, parseManifest, type ImageManifest } from '../oci/manifest.js';
import { parseReference } from '../oci/reference.js';
import { bufferSource, type BlobSource } from '../content/blob-source.js';
import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import { VERSION } from '../version.js';
import { effectiveLevel } from '../layer/codec.js';

/** The artifact type of a cache entry: an OCI manifest whose one layer is a compressed layer blob. */
export const CACHE_ENTRY_TYPE = 'application/vnd.ocipush.layer-cache.v1';

export const CacheAnnotation = {
  DiffId: 'dev.ocipush.cache.diff-id',
  UncompressedSize: 'dev.ocipush.cache.uncompressed-size',
  Compression: 'dev.ocipush.cache.compression',
  Level: 'dev.ocipush.cache.level',
  Version: 'dev.ocipush.version',
  Created: 'org.opencontainers.image.created',
} as const;

/** What decides a layer's compressed bytes besides its tar: the entry is found only with the same. */
export interface CacheSettings {
  compression: Compression;
  /** undefined: the codec's default level. */
  level?: number;
}

/** A layer found in the registry cache: its compressed descriptor and the tar's size. */
export interface CacheHit {
  descriptor: Descriptor;
  uncompressedSize: number;
  /** `registry/repository`, where the blob lives (recorded in the layout, as a base layer's is). */
  repository: string;
}

/** `sha256-<hex>.gzip-6`: a valid tag, one per diff_id and compression settings. */
export function cacheTag(diffId: Digest, settings: CacheSettings): string {
  return `${digestAlgorithm(diffId)}-${digestHex(diffId)}.${settings.compression}-${levelName(settings)}`;
}

/** The level as the entry names it: the number the layer was made at, never "default" (defaults change). */
function levelName(settings: CacheSettings): string {
  return String(effectiveLevel(settings.compression, settings.level) ?? 'default');
}


/**
 * A layer cache that lives in a registry repository (`--cache-repo`), so that fresh CI runners
 * share it as BuildKit's `type=registry` cache and kaniko's `--cache-repo` do: an entry is a small
 * OCI artifact tagged by the layer's diff_id and compression settings, whose one layer
 * descriptor is the compressed blob (the registry's garbage collector keeps the blob while the
 * entry exists). An entry is trusted only if its blob is in the repository with the recorded
 * size and the media type this build would write; anything else is a miss. The cache is an
 * optimisation: a registry that is down or refuses is a warning, never a failed build.
 */
export class RegistryLayerCache {
  /** Set after the registry failed once: one warning, then a plain build. */
  private down = false;

  private constructor(
    readonly repository: Repository,
    private readonly client: RegistryClient,
    private readonly warn: (message: string) => void,
    private readonly now: () => Date,
  ) {}

  /** False once the registry has failed: nothing more is asked of it. */
  get answering(): boolean {
    return !this.down;
  }

  get name(): string {
    return `${this.repository.registry}/${this.repository.name}`;
  }

  /** Connects to `REGISTRY/REPO`; undefined (after one warning) when it cannot. */
  static async open(reference: string, options: { connect: ConnectRegistry; warn: (message: string) => void; now?: () => Date }): Promise<RegistryLayerCache | undefined> {
    const ref = parseReference(reference);
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new OcipushError('EUSAGE', `--cache-repo ${reference}: a repository, without tag or digest`);
    }
    try {
      const client = await options.connect(ref.registry);
      const { Repository } = await import('../registry/repository.js');
      return new RegistryLayerCache(new Repository(client, ref.repository), client, options.warn, options.now ?? (() => new Date()));
    } catch (err) {
      options.warn(`layer cache ${reference}: ${(err as Error).message}; building without it`);
      return undefined;
    }
  }

  /**
   * The entry for this layer (its tar's diff_id and, when known, size: an entry naming a tar of
   * another size describes another layer, whatever its diff_id says), if usable; else undefined.
   */
  async lookup(diffId: Digest, settings: CacheSettings, uncompressedSize?: number): Promise<CacheHit | undefined> {
    const tag = cacheTag(diffId, settings);
    if (this.down) return undefined;
    try {
      const entry = await this.readEntry(tag, diffId, settings, uncompressedSize);
      if (entry.state !== 'usable') {
        this.warn(entry.state === 'other-layer'
          ? `layer cache ${this.name}: entry ${tag} does not describe this layer; rebuilding it`
          : `layer cache ${this.name}: the blob of entry ${tag} is gone; rebuilding it`);
        return undefined;
      }
      return { ...entry.layer, repository: this.name };
    } catch (err) {
      if (err instanceof OcipushError && err.code === 'ENOTFOUND') return undefined;
      if (err instanceof OcipushError && err.code === 'EDIGEST') {
        this.warn(`layer cache ${this.name}: entry ${tag} is refused (${err.message}); rebuilding the layer`);
        return undefined;
      }
      // An entry the registry took but that is no cache entry ocipush reads (a hand-made or damaged
      // manifest, another tool's artifact under the tag): a miss for this layer alone, and one that
      // --cache-write replaces; the rest of the cache still answers.
      if (err instanceof OcipushError && (err.code === 'EINVALID' || err.code === 'EUNSUPPORTED')) {
        this.warn(`layer cache ${this.name}: entry ${tag} cannot be read (${err.message}); rebuilding the layer`);
        return undefined;
      }
      this.down = true;
      this.warn(`layer cache ${this.name}: ${(err as Error).message}; building without it`);
      return undefined;
    }
  }

  /**
   * Whether the cache has a usable entry for this layer (its blob there too). Asked for a layer a
   * build reused from its own layout, which --cache-write stores only when the cache lacks it. A
   * registry that fails is one warning, and then nothing is written.
   */
  async holds(diffId: Digest, settings: CacheSettings, uncompressedSize?: number): Promise<boolean> {
    if (this.down) return true;
    try {
      return (await this.readEntry(cacheTag(diffId, settings), diffId, settings, uncompressedSize)).state === 'usable';
    } catch (err) {
      if (err instanceof OcipushError && (err.code === 'ENOTFOUND' || err.code === 'EDIGEST' || err.code === 'EINVALID' || err.code === 'EUNSUPPORTED')) return false;
      this.down = true;
      this.warn(`layer cache ${this.name}: ${(err as Error).message}; not writing to it`);
      return true;
    }
  }

  /** The entry under `tag` as this build would use it; a missing, unreadable or refused one throws (ENOTFOUND, EINVALID, EDIGEST). */
  private async readEntry(tag: string, diffId: Digest, settings: CacheSettings, uncompressedSize: number | undefined): Promise<
    { state: 'usable'; layer: { descriptor: Descriptor; uncompressedSize: number } } | { state: 'other-layer' | 'blob-gone' }
  > {
    const { bytes, descriptor } = await this.repository.fetchManifest(tag);
    const layer = checkEntry(parseManifest(bytes, `cache entry ${tag}`, descriptor.mediaType), diffId, settings, uncompressedSize);
    if (!layer) return { state: 'other-layer' };
    return (await this.repository.exists(layer.descriptor)) ? { state: 'usable', layer } : { state: 'blob-gone' };
  }

  /**
   * Puts a built layer in the cache: the blob (mounted from `mountFrom` where the registry can,
   * else uploaded from `source`), then the entry that names it. A failure is a warning, and the
   * cache is then written no more by this process (each later store returns false at once).
   */
  async store(diffId: Digest, settings: CacheSettings, layer: Descriptor, uncompressedSize: number, source: BlobSource, mountFrom: string[] = []): Promise<boolean> {
    const tag = cacheTag(diffId, settings);
    if (this.down) return false;
    try {
      if (!(await this.repository.exists(layer))) await this.repository.pushBlob(layer, source, { mountFrom });
      if (!(await this.repository.exists(EMPTY_DESCRIPTOR))) await this.repository.pushBlob(EMPTY_DESCRIPTOR, bufferSource(EMPTY_JSON));
      const entry: ImageManifest & { artifactType: string } = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: CACHE_ENTRY_TYPE,
        config: { ...EMPTY_DESCRIPTOR },
        // The blob's type in OCI's names, whatever the image calls it: a push of a --format docker
        // image hands Docker's, which a build (its layers typed as OCI's) would refuse as another layer.
        layers: [{ mediaType: layerMediaType(layerCompression(layer.mediaType)), digest: layer.digest, size: layer.size }],
        annotations: {
          [CacheAnnotation.DiffId]: diffId,
          [CacheAnnotation.UncompressedSize]: String(uncompressedSize),
          [CacheAnnotation.Compression]: settings.compression,
          [CacheAnnotation.Level]: levelName(settings),
          [CacheAnnotation.Version]: VERSION,
          [CacheAnnotation.Created]: this.now().toISOString(),
        },
      };
      const bytes = encodeJson(entry);
      await this.repository.pushManifest({ mediaType: MediaType.OciManifest, digest: sha256(bytes), size: bytes.length }, bytes, tag);
      return true;
    } catch (err) {
      // What refused one entry (a pull-only token, a registry gone, a full disk) refuses the next:
      // one line, not one per layer, and no more requests that would only fail the same way.
      this.down = true;
      this.warn(`layer cache ${this.name}: could not store ${tag} (${(err as Error).message}); writing nothing more to it`);
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}

/** The entry's layer when it is what this build would make: the diff_id, the tar's size (when known), compression and media type agree. */
function checkEntry(manifest: ReturnType<typeof parseManifest>, diffId: Digest, settings: CacheSettings, tarSize: number | undefined): { descriptor: Descriptor; uncompressedSize: number } | undefined {
  if (isIndex(manifest) || manifest.layers.length !== 1) return undefined;
  const annotations = manifest.annotations ?? {};
  const layer = manifest.layers[0]!;
  const uncompressedSize = Number(annotations[CacheAnnotation.UncompressedSize]);
  if (annotations[CacheAnnotation.DiffId] !== diffId) return undefined;
  // Docker's name for the same bytes is the same layer: entries an older ocipush wrote from the push of a --format docker image.
  if (layer.mediaType !== layerMediaType(settings.compression) && layer.mediaType !== layerMediaType(settings.compression, 'docker')) return undefined;
  if (!Number.isSafeInteger(uncompressedSize) || uncompressedSize < 0 || !Number.isSafeInteger(layer.size) || layer.size < 0) return undefined;
  if (tarSize !== undefined && uncompressedSize !== tarSize) return undefined;
  return { descriptor: { mediaType: layerMediaType(settings.compression), digest: layer.digest, size: layer.size }, uncompressedSize };
}
