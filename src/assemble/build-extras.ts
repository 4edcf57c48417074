import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { ImageManifest } from '../oci/manifest.js';
import type { OciLayout } from '../content/layout.js';
import { updatePendingCacheEntries } from '../content/pending-cache-entries.js';
import { recordRemoteBlobs } from '../content/remote-blobs.js';
import type { LayerEntries, SbomFormat } from '../supply-chain/sbom/index.js';
import type { LayerFilesRecorder } from '../supply-chain/sbom/layer-entries.js';
import type { BaseImage } from './base.js';
import type { BuiltProvenance, ProvenanceOptions } from './build-provenance.js';
import type { BuiltSbom } from './build-sbom.js';
import type { ImageOutputOptions } from './output-options.js';
import type { CacheSettings, RegistryLayerCache } from './registry-cache.js';

/**
 * What every build (`buildImage`, `buildDockerfile`) does around its layers besides making them:
 * the registry layer cache (asked before a layer is compressed, fed after), and the SBOM and
 * signed provenance stored as the image's referrers. One place, so both builds behave alike.
 *
 * The registry cache, the SBOM and the provenance are loaded when a build asks for them: a build
 * without them (most rebuilds) does not load the registry client, the SBOM scanners and signing.
 */

/** Where a layer of the image came from. */
export type LayerOrigin = 'built' | 'local-cache' | 'registry-cache';

/** A layer as the extras see it: its blob is in the layout (`built`, `local-cache`) or in a registry (`remote`). */
export interface OriginLayer {
  descriptor: Descriptor;
  diffId: Digest;
  uncompressedSize: number;
  origin: LayerOrigin;
  /** `registry/repository` holding the blob, for a registry cache hit. */
  remote?: string;
  /** The tar's entries as the build wrote them (with --sbom): the SBOM reads no layer back for them. */
  sbomEntries?: LayerEntries;
}

/** The registry cache of a build, when it names one: opened once, closed with `close`. */
export interface BuildCache {
  cache?: RegistryLayerCache;
  /**
   * Whether layers are looked up in `cache`: not with --no-cache (as `docker build --no-cache`
   * ignores --cache-from), which still writes it, nor once the cache registry has failed (each
   * layer's tar would be read once more, to ask nobody).
   */
  readonly reads: boolean;
  settings: CacheSettings;
  close(): Promise<void>;
}

export async function openBuildCache(options: ImageOutputOptions, warn: (message: string) => void): Promise<BuildCache> {
  const settings: CacheSettings = { compression: options.compression ?? 'gzip', ...(options.level !== undefined ? { level: options.level } : {}) };
  let cache: RegistryLayerCache | undefined;
  if (options.cacheRepo !== undefined) {
    const { RegistryLayerCache } = await import('./registry-cache.js');
    const connect = options.connect ?? (await import('../transfer/lazy-blobs.js')).defaultConnect;
    cache = await RegistryLayerCache.open(options.cacheRepo, { connect, warn, ...(options.now ? { now: options.now } : {}) });
  }
  return {
    ...(cache ? { cache } : {}),
    get reads() { return cache !== undefined && options.cache !== false && cache.answering; },
    settings,
    close: async () => { await cache?.close(); },
  };
}

/** A layer found in the registry cache by its diff_id (computed by the caller without compressing), else undefined. */
export async function registryCacheHit(cache: BuildCache, hashed: { diffId: Digest; uncompressedSize: number }): Promise<OriginLayer | undefined> {
  const hit = cache.cache && cache.reads ? await cache.cache.lookup(hashed.diffId, cache.settings, hashed.uncompressedSize) : undefined;
  if (!hit) return undefined;
  return { descriptor: hit.descriptor, diffId: hashed.diffId, uncompressedSize: hashed.uncompressedSize, origin: 'registry-cache', remote: hit.repository };
}

/** Before the image is tagged: the layout records where the registry cache's layers live (as a base's). */
export async function recordCachedLayers(layout: OciLayout, layers: OriginLayer[]): Promise<void> {
  const remote: { digest: Digest; repository: string }[] = [];
  for (const layer of layers) {
    if (layer.remote && !(await layout.exists(layer.descriptor))) remote.push({ digest: layer.descriptor.digest, repository: layer.remote });
  }
  await recordRemoteBlobs(layout.root, remote);
}

/**
 * After the image is stored: the layers this build made go to the registry cache now
 * (`cacheWrite`), or are noted for the push that takes them to a registry. With `cacheWrite`, a
 * layer reused from the layout's own cache goes too when the registry cache lacks it (it was
 * built without --cache-repo, or while the cache registry was down): else a fresh runner would
 * never find it, however often this one builds.
 */
export async function feedBuildCache(layout: OciLayout, layers: OriginLayer[], options: ImageOutputOptions, cache: BuildCache): Promise<void> {
  if (options.cacheRepo === undefined) return;
  let pending = layers.filter((l) => l.origin === 'built');
  if (cache.cache && options.cacheWrite) {
    const registryCache = cache.cache;
    const reused = [];
    for (const layer of layers) if (layer.origin === 'local-cache' && !(await registryCache.holds(layer.diffId, cache.settings, layer.uncompressedSize))) reused.push(layer);
    const unstored = [];
    for (const layer of [...pending, ...reused]) {
      if (!(await registryCache.store(layer.diffId, cache.settings, layer.descriptor, layer.uncompressedSize, layout.blobSource(layer.descriptor)))) unstored.push(layer);
    }
    // The cache failed (a lookup found it down, or it refused a store): what it did not take is
    // left to the push, as without --cache-write, not lost for every runner after this one.
    pending = unstored;
  }
  await updatePendingCacheEntries(layout.root, new Map(pending.map((l) => [l.descriptor.digest, {
    cacheRepo: options.cacheRepo!, diffId: l.diffId, uncompressedSize: l.uncompressedSize, ...cache.settings,
  }])));
}

/** A recorder of the files a layer's tar holds, for the SBOM (with --sbom: loaded then). */
export async function newSbomRecorder(): Promise<LayerFilesRecorder> {
  const { LayerFilesRecorder } = await import('../supply-chain/sbom/layer-entries.js');
  // The code that makes the document is loaded and compiled while the layer is written, not in
  // the build's last, serial step (storeBuildReferrers imports the same module: a failure shows there).
  import('./build-sbom.js').catch(() => {});
  return new LayerFilesRecorder();
}

/**
 * The SBOM and provenance options, checked before anything is built (the CLI's flags cannot be
 * wrong so, a script in plain JavaScript can): an SBOM of no known format would be stored as a
 * referrer without a media type, which every later push of the image refuses.
 */
export function checkBuildExtras(options: ImageOutputOptions): void {
  const sbom: unknown = options.sbom;
  if (sbom !== undefined && sbom !== 'spdx' && sbom !== 'cyclonedx') {
    throw new OcipushError('EUSAGE', `\`sbom\` ${JSON.stringify(sbom)}: expected "spdx" or "cyclonedx" (the SBOM's format)`);
  }
  const provenance: unknown = options.provenance;
  if (provenance !== undefined && typeof (provenance as Partial<ProvenanceOptions> | null)?.signer?.sign !== 'function') {
    throw new OcipushError('EUSAGE', '`provenance` needs `signer` (a KeySigner, or any Signer) and `externalParameters`');
  }
}

/**
 * With --sbom and a base that lives in a registry: the base's own SBOM is looked up while the
 * layers are written (assemble/base-sbom.ts lookUpBaseSbomEarly), not after them.
 */
export async function lookUpBaseSbomSoon(base: BaseImage | undefined, options: ImageOutputOptions): Promise<void> {
  if (!options.sbom || base?.source.kind !== 'registry') return;
  const { lookUpBaseSbomEarly } = await import('./base-sbom.js');
  lookUpBaseSbomEarly(base, { prefer: options.sbom, ...(options.connect ? { connect: options.connect } : {}), ...(options.signal ? { signal: options.signal } : {}) });
}

/** The SBOM and the signed provenance a build was asked for, stored as the image's referrers. */
export async function storeBuildReferrers(
  layout: OciLayout, image: Descriptor, manifest: ImageManifest,
  inputs: {
    tag: string; created: Date; startedOn: Date; base?: { uri: string; digest: Digest; image?: BaseImage }; layers: OriginLayer[]; dockerfile?: { uri: string; digest: Digest };
    /** Every image the build read (each stage's FROM, COPY --from=IMAGE), the base among them. */
    read?: BaseImage[];
  },
  options: ImageOutputOptions,
): Promise<{ sbom?: BuiltSbom; provenance?: BuiltProvenance }> {
  const sbom = options.sbom
    ? await (await import('./build-sbom.js')).storeBuildSbom(layout, image, manifest, {
      format: options.sbom, name: inputs.tag, created: inputs.created, built: inputs.layers, ...(options.signal ? { signal: options.signal } : {}),
      ...(inputs.base?.image ? { base: inputs.base.image } : {}), ...(options.connect ? { connect: options.connect } : {}), ...(options.onWarning ? { warn: options.onWarning } : {}),
    })
    : undefined;
  const provenance = options.provenance
    ? await (await import('./build-provenance.js')).storeBuildProvenance(layout, image, inputs.tag, options.provenance, {
      startedOn: inputs.startedOn,
      ...(inputs.base ? { base: inputs.base } : {}),
      ...(inputs.dockerfile ? { dockerfile: inputs.dockerfile } : {}),
      images: otherImages(inputs.read ?? [], inputs.base?.digest),
      layers: inputs.layers.map((l, i) => ({ uri: `layer:${i}`, digest: l.diffId })),
    })
    : undefined;
  return { ...(sbom ? { sbom } : {}), ...(provenance ? { provenance } : {}) };
}

/** The images besides the base whose files are in the image (a builder stage, COPY --from=IMAGE), once each, by digest. */
function otherImages(read: BaseImage[], base: Digest | undefined): { uri: string; digest: Digest }[] {
  const seen = new Set(base ? [base] : []);
  return read.filter((b) => !seen.has(b.manifestDigest) && seen.add(b.manifestDigest)).map((b) => ({ uri: b.name ?? b.reference, digest: b.manifestDigest }));
}

export type { SbomFormat, ProvenanceOptions, BuiltSbom, BuiltProvenance };
