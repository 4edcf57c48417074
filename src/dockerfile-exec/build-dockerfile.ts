import { realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OcipushError, systemReason } from '../errors.js';
import { DEFAULT_TAG } from '../defaults.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { readStdinText } from '../read-stdin.js';
import { OciLayout } from '../content/layout.js';
import { sha256, type Digest } from '../oci/digest.js';
import { isForeignLayer, parsePlatform, platformArgument, type Platform } from '../oci/descriptor.js';
import { platformOfConfig, type ImageConfig } from '../oci/manifest.js';
import {
  hostPlatform, normalizeTarget, finalStagePlatform, parseDockerfile, planBaseImages, resolveStages, type ResolvedDockerfile, type ResolveOptions,
} from '../dockerfile/index.js';
import { orderedContainerConfig } from '../dockerfile/image-config.js';
import { storeBaseLayers, type BaseImage } from '../assemble/base.js';
import { checkCompressorOptions, zstdAvailable } from '../layer/codec.js';
import { storeImage, type StoredImage } from '../assemble/store-image.js';
import type { ImageOutputOptions } from '../assemble/output-options.js';
import { formatTime, resolveBuildTime } from '../assemble/config.js';
import type { LayerResult } from '../layer/layer.js';
import { ImageSources } from './bases.js';
import { ContextView, pathInContext } from './context.js';
import { collectGarbage } from '../runtime-flags.js';
import { CacheUse } from '../layer/cache-store.js';
import { lookupPlanned } from './layer-cache.js';
import { readDockerfileText } from './read-dockerfile.js';
import { ArchiveFiles } from './extract.js';
import { baseImageConfig, displayName, epochValue, readDockerignore } from './build-inputs.js';
import { atInstruction, checkBuildable, ShownWarnings } from './buildable.js';
import { fsEntries, hashEntries, requestArchiveFiles, writeLayer } from './layer-writer.js';
import {
  checkBuildExtras, feedBuildCache, lookUpBaseSbomSoon, newSbomRecorder, openBuildCache, recordCachedLayers, registryCacheHit, storeBuildReferrers,
  type BuiltProvenance, type BuiltSbom, type LayerOrigin, type OriginLayer,
} from '../assemble/build-extras.js';
import { checkTag, prepareTarget } from '../assemble/layout-target.js';
import { planTarget } from './plan-target.js';
import type { FsTree } from './tree.js';
import { copiesUnreadBytes, entersUnseenLink, linksUnseenFile, treesNeeded } from './base-reads.js';
import { BaseTreeCache } from './base-tree-cache.js';

/**
 * `ocipush build -f Dockerfile [CONTEXT]`: a Dockerfile built the way docker build (BuildKit)
 * builds it, without a daemon and without running anything, for every Dockerfile that needs no
 * RUN. Each COPY/ADD/WORKDIR is a layer written straight from the context (or from the layers
 * of a stage or image COPY --from names), every other instruction a config change and a
 * history entry, as BuildKit records them.
 *
 * Order of work, so that a bad Dockerfile costs nothing and changes nothing: flags, the
 * Dockerfile and .dockerignore, RUN and URL sources (before any network), the layout, the base
 * images (manifests and configs only), a plan of every stage (every layer's entries, every
 * error), then the bytes: files from archives, layers, config, manifest, tag.
 *
 * Base images' layers are referenced, not copied. A plan that writes into a base's filesystem
 * (COPY, ADD, WORKDIR) needs its tree, as BuildKit's layers hold the base's directories they
 * pass through: the layers are read once and the tree (without the files' bytes) is kept in the
 * layout for later builds on the same base (base-tree-cache.ts, base-reads.ts). The bytes are
 * read only for COPY --from a stage built on it, or `readBase`. With `lazyBase` a base stays
 * lazy unless a step needs its files (a non-root --chown or WORKDIR owner, an octal --chmod
 * other than 0755, a destination under /bin, /lib, … often symlinks; a kept tree serves all
 * but COPY --from): a path the build did not
 * make itself is then taken as absent from the base, except standard directories
 * (/usr/local/bin …), and directories the build only passes through are not written.
 */

export interface DockerfileBuildOptions extends ImageOutputOptions {
  /** The build context directory; default the current directory. */
  context?: string;
  /** The Dockerfile; default CONTEXT/Dockerfile; `-` reads it from standard input. */
  dockerfile?: string;
  /** `--build-arg` values. */
  buildArgs?: Record<string, string>;
  /** `--target`: the stage to build; default the last. */
  target?: string;
  /** `--label`: added to the image's labels (as docker build --label). */
  labels?: Record<string, string>;
  /** The platform built for (TARGETPLATFORM, and the image picked from multi-platform bases); default linux/amd64. */
  platform?: string | Platform;
  /**
   * Used when `created` is unset; default a SOURCE_DATE_EPOCH build arg, else `$SOURCE_DATE_EPOCH`,
   * else the Dockerfile's global `ARG SOURCE_DATE_EPOCH=…` default. `context` is none (a local context).
   */
  sourceDateEpoch?: string;
  /** Read the base images' layers on every build, not the tree of them a build keeps in the layout (base-tree-cache.ts). */
  readBase?: boolean;
  /**
   * Leave the base images' layers unread where the plan needs only their directories: COPY
   * layers then lack the directories they pass through, which runtimes that unpack each layer
   * apart (Docker's overlay2, podman's and CRI-O's overlay) make 0755 root over the base's.
   */
  lazyBase?: boolean;
  onInfo?: (message: string) => void;
  onProgress?: (progress: { layer: number; layers: number; source: string; bytes: number }) => void;
}

export interface DockerfileBuildResult extends StoredImage {
  /** The layers this build made (the base image's are not listed). */
  layers: { mediaType: string; digest: Digest; size: number; diffId: Digest; uncompressedSize: number; createdBy: string; source: LayerOrigin }[];
  base?: { reference: string; digest: Digest; layers: number };
  /** The stage built. */
  stage: string;
  /** With `sbom`: the SBOM stored as the image's referrer. */
  sbom?: BuiltSbom;
  /** With `provenance`: the signed attestation stored as the image's referrer. */
  provenance?: BuiltProvenance;
}

export async function buildDockerfile(options: DockerfileBuildOptions = {}): Promise<DockerfileBuildResult> {
  // The layer cache's stamps of context files are taken later: any change after this is seen.
  const cacheStartMs = (options.cacheClock ?? Date.now)();
  const warn = options.onWarning ?? (() => {});
  const info = options.onInfo ?? (() => {});
  const tag = options.tag ?? DEFAULT_TAG;
  checkTag(tag);
  const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform ?? { os: 'linux', architecture: 'amd64' };
  // With its os.version (windows/amd64:10.0.20348.887): a Windows base is chosen by it, as build --base chooses.
  const platformText = platformArgument(platform);
  // The caller's SOURCE_DATE_EPOCH, checked now; without one, the Dockerfile's global ARG default
  // (BuildKit since dockerfile 1.23), read once the stages are resolved.
  const givenEpoch = 'sourceDateEpoch' in options ? options.sourceDateEpoch : (options.buildArgs?.SOURCE_DATE_EPOCH ?? process.env.SOURCE_DATE_EPOCH);
  resolveBuildTime(options.created, epochValue(givenEpoch));
  // It is the build arg the stages' `ARG SOURCE_DATE_EPOCH` sees, as docker buildx passes
  // $SOURCE_DATE_EPOCH when no --build-arg does; `context` (no epoch for a local context) reads empty.
  const buildArgs = givenEpoch === undefined ? options.buildArgs ?? {} : { ...options.buildArgs, SOURCE_DATE_EPOCH: epochValue(givenEpoch) ?? '' };
  const compression = options.compression ?? 'gzip';
  if (compression === 'zstd' && !zstdAvailable()) {
    throw new OcipushError('EUNSUPPORTED', `--compression zstd needs Node.js >= 22.15, whose zlib has zstd (this is ${process.version}); use gzip`);
  }
  checkCompressorOptions({ compression, ...(options.level !== undefined ? { level: options.level } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}) });
  const format = options.format ?? 'oci';
  checkBuildExtras(options);

  let contextDir = resolve(options.context ?? '.');
  const contextStat = await stat(contextDir).catch((err: NodeJS.ErrnoException) => {
    throw new OcipushError('EUSAGE', `build context ${options.context ?? '.'}: ${systemReason(err)}`, { path: contextDir });
  });
  if (!contextStat.isDirectory()) throw new OcipushError('EUSAGE', `build context ${options.context ?? '.'}: not a directory`, { path: contextDir });
  // A symlinked context is followed, as docker build does (fsutil walks EvalSymlinks(root)).
  contextDir = await realpath(contextDir);
  // `-f -`: the Dockerfile comes from standard input (and only the context's .dockerignore applies).
  const fromStdin = options.dockerfile === '-';
  const dockerfilePath = fromStdin ? join(contextDir, 'Dockerfile') : resolve(options.dockerfile ?? join(contextDir, 'Dockerfile'));
  const filename = fromStdin ? 'Dockerfile' : displayName(options.dockerfile, dockerfilePath);
  const text = fromStdin ? await readStdinText() : await readDockerfileText(dockerfilePath, filename);
  const warnings = new ShownWarnings(filename, warn);
  const check = buildArgs.BUILDKIT_DOCKERFILE_CHECK;
  const parsed = warnings.around(() => parseDockerfile(text, { filename, ...(check !== undefined ? { check } : {}) }));
  const ignore = await readDockerignore(fromStdin ? undefined : dockerfilePath, contextDir);

  const resolveOptions: Omit<ResolveOptions, 'baseImageConfig'> = {
    buildArgs,
    ...(ignore ? { dockerignore: ignore.patterns } : {}),
    ...(options.target !== undefined ? { target: options.target } : {}),
    targetPlatform: {
      os: platform.os, architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}), ...(platform['os.version'] ? { osVersion: platform['os.version'] } : {}),
    },
    buildPlatform: hostPlatform(),
  };
  // What BuildKit shows before it fetches a base image: shown whatever fails after.
  const baseImages = warnings.around(() => planBaseImages(parsed, resolveOptions));
  warnings.show(baseImages.warnings);
  // RUN, and sources that need the network, fail before anything is fetched. (Without the base
  // images' configs, expansion may fail where it will not with them: that waits for them.)
  let early: ResolvedDockerfile | undefined;
  try {
    early = resolveStages(parsed, resolveOptions);
  } catch {
    early = undefined;
  }
  if (early) checkBuildable(early, filename);

  const target = await prepareTarget(resolve(options.layout ?? defaultLayoutDir()));
  const sources = new ImageSources(options.connect, () => target.layout, (image) => info(`reading the layers of ${image.reference} (${readReasons.get(image.manifestDigest) ?? 'their files are needed'})`), () => target.staging.dir);
  const readReasons = new Map<string, string>();
  const files = new ArchiveFiles(target.staging.dir);
  const written: (OriginLayer & { blob?: LayerResult['blob'] })[] = [];
  const startedOn = (options.provenance?.now ?? (() => new Date()))();
  const registryCache = await openBuildCache(options, warn);
  const cache = new CacheUse(target.root, options.cache !== false ? target.layout : undefined);
  let succeeded = false;
  try {
    const bases = new Map<number, BaseImage>();
    for (const ref of baseImages.images) {
      const from = parsed.stages[ref.stageIndex]!.from;
      bases.set(ref.stageIndex, await sources.resolve(ref.image, ref.platform ?? platformText).catch((err: unknown) => { throw atInstruction(err, from, filename); }));
    }
    const resolved = warnings.around(() => resolveStages(parsed, { ...resolveOptions, baseImageConfig: ({ stageIndex }) => baseImageConfig(bases.get(stageIndex)?.config) }));
    warnings.show(resolved.warnings);
    checkBuildable(resolved, filename);
    const time = resolveBuildTime(options.created, epochValue(givenEpoch ?? resolved.globalArgs.SOURCE_DATE_EPOCH));
    const created = formatTime(time.seconds);
    // `# check=error=true`: the warnings above fail the build, as in BuildKit, before anything is written.
    if (resolved.lintError) throw new OcipushError('EDOCKERFILE', `${filename}: ${resolved.lintError} (check error=true: build check warnings fail the build)`, { path: filename });

    // COPY --from=<image> takes the image for the build's target platform, whatever the stage's
    // FROM --platform says (BuildKit resolves it as a stage of its own, with no platform).
    const fromImages = new Map<string, { base: BaseImage; tree: FsTree }>();
    for (const stage of resolved.stages) {
      for (const instruction of stage.instructions) {
        if (instruction.keyword !== 'COPY' || instruction.fromImage === undefined || fromImages.has(instruction.fromImage)) continue;
        const base = await sources.resolve(instruction.fromImage, platformText).catch((err: unknown) => { throw atInstruction(err, instruction, filename); });
        readReasons.set(base.manifestDigest, `COPY --from=${instruction.fromImage}`);
        fromImages.set(instruction.fromImage, { base, tree: await sources.tree(base) });
      }
    }
    // Once per base digest in a build, as sources.tree reads its layers once: stages FROM the same
    // image (a builder and the final stage) share one kept tree, read and written once.
    const keptTrees = new BaseTreeCache(target.root);
    const keptReads = new Map<string, Promise<FsTree | undefined>>();
    const keptWrites = new Map<string, Promise<void>>();
    const readKept = (base: BaseImage): Promise<FsTree | undefined> => {
      if (!keptReads.has(base.manifestDigest)) keptReads.set(base.manifestDigest, keptTrees.read(base.manifestDigest, `image ${base.reference}`));
      return keptReads.get(base.manifestDigest)!;
    };
    const readTree = async (base: BaseImage, why: string): Promise<FsTree> => {
      if (!readReasons.has(base.manifestDigest)) readReasons.set(base.manifestDigest, why);
      const tree = await sources.tree(base);
      if (!keptWrites.has(base.manifestDigest)) keptWrites.set(base.manifestDigest, keptTrees.write(base.manifestDigest, tree));
      await keptWrites.get(base.manifestDigest);
      return tree;
    };
    // `kept`: the tree the layout kept, without the files' bytes (base-tree-cache.ts).
    const baseTrees = new Map<number, { base: BaseImage; tree?: FsTree; kept?: boolean }>();
    for (const [index, need] of treesNeeded(resolved, bases, options.readBase === true)) {
      const base = bases.get(index)!;
      // Foreign layers (Windows bases) live at their own URLs, outside any registry: not read for directories.
      const lazy = need.level === 'tree' && (options.lazyBase === true || base.manifest.layers.some(isForeignLayer));
      // (--lazy-base stays lazy for the directories, but a step that needs the base's layout plans
      // on a kept tree as on the layers: the same plan, nothing read.)
      const kept = need.level === 'bytes' || lazy ? undefined : await readKept(base);
      const tree = lazy ? undefined : kept ?? await readTree(base, need.level === 'tree' ? `${need.why}: its directories, kept in the layout for later builds` : need.why);
      baseTrees.set(index, { base, ...(tree ? { tree } : {}), ...(tree && tree === kept ? { kept: true } : {}) });
    }
    for (const [index, base] of bases) if (!baseTrees.has(index)) baseTrees.set(index, { base });

    const layoutInContext = pathInContext(contextDir, await realpath(target.root));
    if (layoutInContext) warn(`layout ${target.root} is inside the build context ${contextDir}: left out of the context`);
    const stageName = resolved.target.name ?? String(resolved.target.index);
    const { final, cached } = await planTarget(
      { filename, resolved, bases: baseTrees, fromImages, time: time.seconds, created, files, warn }, new ContextView(contextDir, ignore, layoutInContext),
      (layers, stats) => lookupPlanned(cache, layers, stats, {
        build: `${contextDir}\0${dockerfilePath}\0${stageName}`, startMs: cacheStartMs, ...(options.cacheClock ? { clock: options.cacheClock } : {}),
        compression, ...(options.level !== undefined ? { level: options.level } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}),
        clampMtime: time.seconds, exclude: [],
      }),
      async (planned) => {
        // A lazy plan that writes below /bin, /lib, … of its base, or one on a kept tree that
        // copies the bytes of a base file, reads the base and plans again.
        if (planned.root.kind !== 'image') return false;
        const base = planned.root.base;
        const stale = [...baseTrees].filter(([, b]) => b.base.manifestDigest === base.manifestDigest && (!b.tree || b.kept));
        const lazy = stale.some(([, b]) => !b.tree);
        const bytes = (lazy ? linksUnseenFile(planned.layers) : undefined) ?? (stale.some(([, b]) => b.kept) ? copiesUnreadBytes(planned.layers) : undefined);
        const why = bytes ?? (lazy ? entersUnseenLink(planned.layers) : undefined);
        if (!why) return false;
        // A lazy plan that needs the base's layout: a kept tree has it. Files' bytes are in the layers.
        const kept = bytes ? undefined : await readKept(base);
        const tree = kept ?? await readTree(base, why);
        for (const [index, b] of stale) baseTrees.set(index, { base: b.base, tree, ...(kept ? { kept: true } : {}) });
        return true;
      },
    );
    await lookUpBaseSbomSoon(final.root.kind === 'image' ? final.root.base : undefined, options);
    // A layer the cache holds needs none of its files: only the others' are taken out of archives.
    for (const [i, layer] of final.layers.entries()) if (!cached[i]!.hit) requestArchiveFiles(layer.entries, files);
    await files.extractAll();
    // The plan's garbage (lookups, sort keys, copies) is most of the heap: collected before the
    // layers are written, it does not add to the build's peak memory.
    if (cached.some((c) => !c.hit)) collectGarbage();
    for (const [i, layer] of final.layers.entries()) {
      options.signal?.throwIfAborted();
      const { key, hit: local } = cached[i]!;
      if (local) {
        written.push({ ...local, origin: 'local-cache' });
        continue;
      }
      // With --sbom the files are hashed as they are archived (the first tar made of the layer:
      // the registry cache's, whose hit is never in the layout): the SBOM reads no layer back.
      const recorder = options.sbom ? await newSbomRecorder() : undefined;
      // The registry cache is keyed by diff_id: the layer's tar is hashed (not compressed) to ask it.
      const hashed = registryCache.reads
        ? await hashEntries(fsEntries(layer.entries, files), { clampMtime: time.seconds, ...(options.signal ? { signal: options.signal } : {}), ...(recorder ? { observer: recorder } : {}) })
        : undefined;
      const hit = hashed ? await registryCacheHit(registryCache, hashed) : undefined;
      if (hit) {
        written.push({ ...hit, ...(recorder?.entries ? { sbomEntries: recorder.entries } : {}) });
        continue;
      }
      const built = await writeLayer(fsEntries(layer.entries, files), target.staging, {
        compression,
        clampMtime: time.seconds,
        ...(options.level !== undefined ? { level: options.level } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (bytes) => options.onProgress?.({ layer: i, layers: final.layers.length, source: `${filename}:${layer.line}`, bytes }),
        ...(recorder && !recorder.entries ? { observer: recorder } : {}),
      });
      written.push({ origin: 'built', ...built, ...(recorder?.entries ? { sbomEntries: recorder.entries } : {}) });
      if (key) cache.record(key, built);
    }
    options.signal?.throwIfAborted();

    const layout = target.layout ?? await OciLayout.open(target.root, { create: true, session: target.session });
    const base = final.root.kind === 'image' ? final.root.base : undefined;
    if (base) await storeBaseLayers(base, layout);
    for (const layer of written) {
      // Renamed over a file already there, which may be damaged (build-image.ts says why).
      if (layer.blob) await layer.blob.commitTo(layout.blobPath(layer.descriptor.digest));
    }
    await recordCachedLayers(layout, written);
    // FROM scratch: the target platform as BuildKit normalizes it (linux/arm is arm/v7, arm64/v8 is arm64),
    // its os.version kept (emptyImage). Onto a base: the platform BuildKit writes (the base's, made the
    // target's where --platform names another).
    const imagePlatform: Platform = base
      ? finalStagePlatform(platformOfConfig(base.config), options.platform === undefined ? undefined : platform)
      : { ...normalizeTarget(platform), ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}) };
    const runConfig = { ...final.image.config };
    if (options.labels && Object.keys(options.labels).length > 0) runConfig.Labels = { ...(runConfig.Labels ?? {}), ...options.labels };
    const config: ImageConfig = {
      created,
      ...(final.image.author ? { author: final.image.author } : {}),
      architecture: imagePlatform.architecture,
      os: imagePlatform.os,
      ...(imagePlatform['os.version'] ? { 'os.version': imagePlatform['os.version'] } : {}),
      ...(imagePlatform['os.features'] ? { 'os.features': imagePlatform['os.features'] } : {}),
      ...(imagePlatform.variant ? { variant: imagePlatform.variant } : {}),
      config: orderedContainerConfig(runConfig),
      rootfs: { type: 'layers', diff_ids: [...(base?.config.rootfs.diff_ids ?? []), ...written.map((l) => l.diffId)] },
      history: final.image.history,
    };
    const { image, manifest } = await storeImage(layout, {
      ...(base ? { base } : {}),
      platform: imagePlatform,
      created,
      run: {},
      layers: written.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
      history: [],
      format,
    }, config, { tag, createdGiven: time.explicit, annotations: options.annotations });
    await options.onStored?.(image);
    const referrers = await storeBuildReferrers(layout, image.manifest, manifest, {
      tag, created: new Date(time.seconds * 1000), startedOn, layers: written,
      ...(base ? { base: { uri: base.name ?? base.reference, digest: base.manifestDigest, image: base } } : {}),
      dockerfile: { uri: filename, digest: sha256(text) }, read: [...bases.values(), ...[...fromImages.values()].map((f) => f.base)],
    }, options);
    await cache.finish(layout);
    await feedBuildCache(layout, written, options, registryCache);
    succeeded = true;
    return {
      ...image,
      layers: written.map((l, i) => ({ ...manifest.layers[(base?.manifest.layers.length ?? 0) + i]!, diffId: l.diffId, uncompressedSize: l.uncompressedSize, createdBy: final.layers[i]!.createdBy, source: l.origin })) as DockerfileBuildResult['layers'],
      ...(base ? { base: { reference: base.reference, digest: base.manifestDigest, layers: base.manifest.layers.length } } : {}),
      stage: stageName,
      ...referrers,
    };
  } finally {
    for (const layer of written) await layer.blob?.discard();
    await registryCache.close();
    await files.cleanup();
    await sources.close();
    await target.finish(!succeeded);
  }
}
