import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { OcipushError } from '../errors.js';
import { DEFAULT_TAG } from '../defaults.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { OciLayout } from '../content/layout.js';
import type { Digest } from '../oci/digest.js';
import { formatPlatform, parsePlatform, type Platform } from '../oci/descriptor.js';
import { builtPlatform, servesPlatform } from '../image/platform.js';
import { layerMediaType } from '../oci/media-types.js';
import type { HistoryEntry } from '../oci/manifest.js';
import { resolveBaseImage, stageBaseImage, type BaseImage, type StagedBase } from './base.js';
import { composeConfig, layerMediaTypeIn } from './compose.js';
import { storeImage, type StoredImage } from './store-image.js';
import type { ImageOutputOptions } from './output-options.js';
import { checkNotAdded, removalSet, whiteoutEntries } from '../layer/whiteout.js';
import { checkCompressorOptions, zstdAvailable } from '../layer/codec.js';
import { containerConfig, formatTime, parseOwner, resolveBuildTime, resolveWorkdir, type RunConfig } from './config.js';
import { checkTag, prepareTarget } from './layout-target.js';
import type { LayerEntries } from '../supply-chain/sbom/index.js';
import { buildLayer, hashLayer, type LayerProgress, type LayerResult } from '../layer/layer.js';
import { prefetchStartedMs } from '../layer/xattrs.js';
import { inspectSource, type LayerSource } from '../layer/layer-source.js';
import { layerKey, sourceId, TreeKeyHasher, type LayerKey, type LayerKeyOptions } from '../layer/cache-key.js';
import { CacheUse, type CachedLayer } from '../layer/cache-store.js';
import {
  checkBuildExtras, feedBuildCache, lookUpBaseSbomSoon, newSbomRecorder, openBuildCache, recordCachedLayers, registryCacheHit, storeBuildReferrers,
  type BuiltProvenance, type BuiltSbom, type LayerOrigin,
} from './build-extras.js';

export interface BuildOptions extends RunConfig, ImageOutputOptions {
  /** One layer per entry, bottom first: a directory, or a tar / tar.gz / tar.zst file used as it is. */
  rootfs: string[];
  /** `os/arch[/variant]` or a Platform; default the base's, else linux/amd64. Picks the image of a multi-platform base. */
  platform?: string | Platform;
  /**
   * The image to build onto: a registry reference (`localhost:5000/alpine:3.18`), a layout
   * (`oci:DIR[:tag]`) or one resolveBaseImage() returned. Its layers come first and its config is
   * inherited; a registry base's layers are referenced, not downloaded.
   */
  base?: string | BaseImage;
  /** Paths deleted from the layers below, as OCI whiteouts in the top layer (or in a layer of their own). */
  remove?: string[];
  /** `UID:GID` given to every file (e.g. `0:0`); default: the ids on disk. */
  owner?: string | { uid: number; gid: number };
  onProgress?: (progress: BuildProgress) => void;
}

export interface BuildProgress extends LayerProgress {
  /** 0-based index of the layer being built. */
  layer: number;
  layers: number;
  source: string;
}

export interface BuiltLayer {
  mediaType: string;
  digest: Digest;
  size: number;
  diffId: Digest;
  uncompressedSize: number;
  /** Taken from the layout's layer cache: the tree was not read. */
  cached?: boolean;
  /** Where the layer came from: built here, the layout's cache, or the registry cache (not compressed). */
  source: LayerOrigin;
}

/** A layer of this build: staged now, or found in a cache (no blob to commit then). */
type NewLayer = Omit<LayerResult, 'blob'> & { blob?: LayerResult['blob']; cached?: boolean; origin: LayerOrigin; remote?: string; sbomEntries?: LayerEntries };

export interface BuildResult extends StoredImage {
  /** The new layers (the base's come before them in the manifest). */
  layers: BuiltLayer[];
  /** The base image built onto. */
  base?: { reference: string; name?: string; digest: Digest; layers: number };
  /** With `sbom`: the SBOM stored as the image's referrer. */
  sbom?: BuiltSbom;
  /** With `provenance`: the signed attestation stored as the image's referrer. */
  provenance?: BuiltProvenance;
}

/**
 * rootfs directories / tar files → layers → image config → manifest → a tag in an OCI image
 * layout. Every blob is staged under a temp name and moves under its digest only once the whole
 * image is built; then the manifest is tagged. A failed or interrupted build leaves the layout
 * exactly as it was, and builds running at once into one layout never corrupt it.
 */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const startedOn = (options.provenance?.now ?? (() => new Date()))();
  const removals = removalSet(options.remove ?? []);
  if (options.rootfs.length === 0 && options.base === undefined && removals.length === 0) {
    throw new OcipushError('EUSAGE', 'name at least one rootfs (a directory or a tar file), or a --base to build onto');
  }
  const tag = options.tag ?? DEFAULT_TAG;
  checkTag(tag);
  const wantedPlatform = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform;
  const format = options.format ?? 'oci';
  if (format !== 'oci' && format !== 'docker') throw new OcipushError('EUSAGE', `--format "${String(format)}": expected oci or docker`);
  checkBuildExtras(options);
  layerMediaTypeIn(layerMediaType(options.compression ?? 'gzip'), format);
  const time = resolveBuildTime(options.created, 'sourceDateEpoch' in options ? options.sourceDateEpoch : process.env.SOURCE_DATE_EPOCH);
  const owner = options.owner === undefined ? undefined : parseOwner(options.owner);
  const created = formatTime(time.seconds);
  // Every flag is checked before any work: a typo never costs a build, nor touches the layout.
  containerConfig(options);
  if (options.compression === 'zstd' && !zstdAvailable()) {
    throw new OcipushError('EUNSUPPORTED', `--compression zstd needs Node.js >= 22.15, whose zlib has zstd (this is ${process.version}); use gzip`);
  }
  checkCompressorOptions({
    compression: options.compression ?? 'gzip',
    ...(options.level !== undefined ? { level: options.level } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });

  const sources: LayerSource[] = [];
  for (const arg of options.rootfs) sources.push(await inspectSource(arg));
  const top = sources.at(-1);
  // Whiteouts go into the top layer when it is a directory; a tar file is stored as it is, so
  // they get a layer of their own then (and when there is no rootfs at all).
  const ownWhiteoutLayer = removals.length > 0 && top?.kind !== 'directory';
  if (removals.length > 0 && top?.kind === 'directory') await checkNotAdded(removals, top.path);
  const base = typeof options.base === 'string'
    ? await resolveBaseImage(options.base, { ...(wantedPlatform ? { platform: wantedPlatform } : {}), ...(options.connect ? { connect: options.connect } : {}) })
    : options.base;
  if (base && wantedPlatform && !servesPlatform(wantedPlatform, base.platform, base.index !== undefined)) {
    throw new OcipushError('EUSAGE', `base image ${base.reference} is for ${formatPlatform(base.platform)}, not ${formatPlatform(wantedPlatform)} (--platform)`);
  }
  // BuildKit's: an arm/v6 base taken for --platform linux/arm/v7 makes an arm/v7 image.
  const platform = base ? builtPlatform(base.platform, wantedPlatform) : wantedPlatform ?? { os: 'linux', architecture: 'amd64' };
  if (platform.os === 'windows') await checkWindowsLayers(sources, options.rootfs, removals.length > 0, base ? `base image ${base.reference} is ${formatPlatform(platform)}` : `the image is for ${formatPlatform(platform)}`);
  // The workdir by the image's OS (C:\app in a Windows one), before anything is written.
  if (options.workdir) resolveWorkdir(base?.config.config?.WorkingDir, options.workdir, platform.os);
  await lookUpBaseSbomSoon(base, options);
  const target = await prepareTarget(resolve(options.layout ?? defaultLayoutDir()));
  const layoutReal = await realpathOfTarget(target.root);
  const warn = options.onWarning ?? (() => {});
  for (const source of sources) {
    if (source.kind === 'directory' && isInside(layoutReal, source.path)) {
      warn(`layout ${target.root} is inside rootfs ${source.path}: left out of the layer`);
    }
    // A tar file is stored as it is: its owners stay, which a user normalising them must know.
    if (owner && source.kind === 'tar') warn(`--owner ${owner.uid}:${owner.gid} does not apply to rootfs ${source.path}: a tar file is used as it is, its entries keep their owners`);
  }

  const layers: NewLayer[] = [];
  // A new layout has nothing to reuse yet, but its layers are recorded for the next build; so
  // are those of a build told not to read the cache (no layout to look in: nothing is found).
  const cache = new CacheUse(target.root, options.cache !== false ? target.layout : undefined);
  const registryCache = await openBuildCache(options, warn);
  let emptyDir: string | undefined;
  let stagedBase: StagedBase | undefined;
  let succeeded = false;
  try {
    // A layout base's layers are copied (verified) first: a damaged base fails before any compression.
    if (base) stagedBase = await stageBaseImage(base, target.staging, target.layout);
    if (ownWhiteoutLayer) {
      emptyDir = await mkdtemp(join(tmpdir(), 'ocipush-whiteouts-'));
      sources.push({ kind: 'directory', path: emptyDir });
    }
    const names = [...options.rootfs, ...(ownWhiteoutLayer ? ['--remove'] : [])];
    for (const [i, source] of sources.entries()) {
      const isTop = i === sources.length - 1;
      const prepend = isTop && removals.length > 0 ? whiteoutEntries(removals, time.seconds) : undefined;
      const keyOptions: LayerKeyOptions = {
        compression: options.compression ?? 'gzip',
        ...(options.level !== undefined ? { level: options.level } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        clampMtime: time.seconds,
        ...(owner ? { owner } : {}),
        ...(prepend ? { prepend } : {}),
        exclude: [layoutReal],
      };
      // A layer of whiteouts alone (its directory is new every time) costs nothing to build.
      const cached = source.path !== emptyDir ? await findCached(cache, source, keyOptions, options.cacheClock) : undefined;
      if (cached?.hit) {
        layers.push({ ...cached.hit, cached: true, origin: 'local-cache' });
        continue;
      }
      const layerOptions = {
        ...(prepend ? { prepend } : {}),
        clampMtime: time.seconds,
        ...(owner ? { owner } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        exclude: [layoutReal],
      };
      // With --sbom the files are hashed as they are archived: the SBOM reads no layer back. The
      // first tar this layer makes is watched: the registry cache's (a hit is never in the layout).
      const recorder = options.sbom ? await newSbomRecorder() : undefined;
      // The registry cache is keyed by diff_id: the tar is hashed (not compressed) to ask it.
      // Its warnings (a socket left out, getfattr missing) are the layer's: said on a hit, else by the build.
      const hashWarnings: string[] = [];
      const hashed = registryCache.reads && source.path !== emptyDir
        ? await hashLayer(source, { ...layerOptions, onWarning: (message) => { hashWarnings.push(message); }, ...(recorder ? { observer: recorder } : {}) })
        : undefined;
      const remote = hashed ? await registryCacheHit(registryCache, hashed) : undefined;
      if (remote) {
        for (const message of hashWarnings) warn(message);
        layers.push({ ...remote, ...(recorder?.entries ? { sbomEntries: recorder.entries } : {}) });
        continue;
      }
      // A directory's key comes from the build's own walk: it describes exactly the entries
      // archived, and a cold build walks the tree once. A tar file's is its stat, taken before.
      // Its xattrs may come from a scan started ahead (the CLI's prefetch): the key is unsure of
      // every change since that scan began, not only since this walk.
      const scanStarted = source.kind === 'directory' ? prefetchStartedMs(source.path) : undefined;
      const hasher = cached && source.kind === 'directory'
        ? new TreeKeyHasher(cached.source, options.cacheClock, scanStarted === undefined ? undefined : Math.min(scanStarted, (options.cacheClock ?? Date.now)()))
        : undefined;
      // A build that warned (a socket left out, getfattr missing) is not cached: the warning
      // would be lost on a hit, and getfattr may be installed by the next build.
      let warned = false;
      const layer = await buildLayer(source, target.staging, {
        ...layerOptions,
        ...(options.compression ? { compression: options.compression } : {}),
        ...(options.level !== undefined ? { level: options.level } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        onWarning: (message) => { warned = true; warn(message); },
        ...(hasher ? { onStats: hasher.onStats } : {}),
        ...(recorder && !recorder.entries ? { observer: recorder } : {}),
        onProgress: (p) => options.onProgress?.({ ...p, layer: i, layers: sources.length, source: names[i]! }),
      });
      layers.push({ ...layer, origin: 'built', ...(recorder?.entries ? { sbomEntries: recorder.entries } : {}) });
      const key = hasher ? hasher.finish() : cached?.key;
      if (key && !warned) cache.record(key, layer);
    }
    options.signal?.throwIfAborted();

    const layout = target.layout ?? await OciLayout.open(target.root, { create: true, session: target.session });
    await stagedBase?.commit(layout);
    for (const layer of layers) {
      const desc = layer.descriptor;
      // Renamed over a file already there: the layer was hashed as it was made, the file (which a
      // cache hit trusts by its size) may be damaged; so --no-cache repairs it.
      if (layer.blob) await layer.blob.commitTo(layout.blobPath(desc.digest));
    }
    await recordCachedLayers(layout, layers);
    const history: HistoryEntry[] = sources.map((s, i) => ({
      created,
      // No path here: the same tree built from another directory gives the same digest.
      created_by: ownWhiteoutLayer && i === sources.length - 1
        ? 'ocipush build (remove)'
        : `ocipush build (${s.kind === 'directory' ? 'directory' : 'tar file'})`,
    }));
    const composition = {
      ...(base ? { base } : {}),
      platform, created, run: options, history, format,
      layers: layers.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
    };
    const { image, manifest } = await storeImage(layout, composition, composeConfig(composition), { tag, createdGiven: time.explicit, annotations: options.annotations });
    await options.onStored?.(image);
    const { sbom, provenance } = await storeBuildReferrers(layout, image.manifest, manifest, {
      tag, created: new Date(time.seconds * 1000), startedOn, layers,
      ...(base ? { base: { uri: base.name ?? base.reference, digest: base.manifestDigest, image: base } } : {}),
    }, options);
    await cache.finish(layout);
    await feedBuildCache(layout, layers, options, registryCache);
    succeeded = true;
    return {
      ...image,
      layers: layers.map((l) => ({ ...l.descriptor, mediaType: layerMediaTypeIn(l.descriptor.mediaType, format), diffId: l.diffId, uncompressedSize: l.uncompressedSize, ...(l.cached ? { cached: true } : {}), source: l.origin })),
      ...(base ? { base: { reference: base.reference, ...(base.name ? { name: base.name } : {}), digest: base.manifestDigest, layers: base.manifest.layers.length } } : {}),
      ...(sbom ? { sbom } : {}),
      ...(provenance ? { provenance } : {}),
    };
  } finally {
    for (const layer of layers) await layer.blob?.discard();
    await stagedBase?.discard();
    await registryCache.close();
    if (emptyDir) await rm(emptyDir, { recursive: true, force: true }).catch(() => {});
    await target.finish(!succeeded);
  }
}

/**
 * Looks a source up in the cache. A directory is only walked for its key when its source (path
 * and options) has an entry at all: a cold build then skips that walk and takes the key from the
 * build's own.
 */
async function findCached(cache: CacheUse, source: LayerSource, options: LayerKeyOptions, clock?: () => number): Promise<{ source: string; key?: LayerKey; hit?: CachedLayer }> {
  const id = sourceId(source, options);
  if (source.kind === 'directory' && !(cache.reads && await cache.cache.hasSource(id))) return { source: id };
  const key = await layerKey(source, options, clock);
  const hit = await cache.lookup(key);
  return { source: id, key, ...(hit ? { hit } : {}) };
}

/** The layout's real path; for one not made yet, its real parent joined with its name. */
async function realpathOfTarget(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch {
    return join(await realpath(dirname(root)), basename(root));
  }
}

function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** The top of a Windows layer: its files, and the registry hives a Windows host loads. */
const WINDOWS_LAYER_TOP = new Set(['Files', 'Hives']);

/**
 * A Windows layer holds its files under Files/ (and registry hives under Hives/), with Windows
 * attributes (BuildKit's winlayers), which build -f refuses to write too: a directory laid out
 * for Linux would give a layer no Windows host runs. A directory already laid out so, and a tar
 * file (stored as it is), are the user's own Windows layer; whiteouts (--remove) never are.
 */
async function checkWindowsLayers(sources: LayerSource[], names: string[], removes: boolean, what: string): Promise<void> {
  const refuse = (subject: string) => new OcipushError('EUNSUPPORTED', `${subject}: ${what}, and ocipush cannot write the layers of a Windows image (their files go under Files/, with Windows attributes); only its config (--env, --label, --cmd, --workdir, …) can be built onto it, with no rootfs`);
  if (removes) throw refuse('--remove');
  for (const [i, source] of sources.entries()) {
    if (source.kind !== 'directory') continue;
    const top = await readdir(source.path).catch(() => []);
    const linux = top.filter((name) => !WINDOWS_LAYER_TOP.has(name));
    if (linux.length > 0) throw refuse(`rootfs ${names[i]} (${linux.slice(0, 3).join(', ')}${linux.length > 3 ? ', …' : ''} at its top, not Files/)`);
  }
}
