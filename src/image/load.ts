import { OcipushError } from '../errors.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import type { Digest } from '../oci/digest.js';
import { describePlatform, entryPlatform, platformArgument, missingEntryError, platformMatches } from '../oci/descriptor.js';
import { isIndexMediaType, isLayerMediaType, MediaType } from '../oci/media-types.js';
import { isIndex, parseImageConfig, parseManifest, platformOfConfig, type AnyManifest, type ImageManifest } from '../oci/manifest.js';
import { isBlobSourceProvider, operationOptions, type OperationOptions, type ReadOnlyStorage } from '../content/storage.js';
import { storageSource } from '../content/blob-source.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { DEFAULT_PLATFORM, exactFirst, noPlatformError, runnablePlatforms, platformImages, servesPlatform, type PlatformChoice } from './platform.js';
import type { BlobView, ImageOrIndex, ImageView, IndexView, LayerView } from './view.js';

/** How deep indexes may nest (an index of indexes) before a reference is refused as a loop or a trap. */
export const MAX_INDEX_DEPTH = 4;

export interface LoadOptions extends OperationOptions {
  /** Names the image in errors: the reference as the user wrote it. */
  name?: string;
}

export interface LoadImageOptions extends LoadOptions {
  /** The platform to narrow an index to (default linux/amd64, or the only image). */
  platform?: Platform;
  /** A single-platform image must be for `platform` too (a base image for a build). */
  requirePlatform?: boolean;
  /** With requirePlatform: one an index names may be for a lower variant (`servesPlatform`), as BuildKit's FROM takes a build's base. */
  lowerVariant?: boolean;
  /** Builds the error when an index has no image for the platform. */
  noMatch?: PlatformChoice['noMatch'];
  /** Refuse layers that are not container image layers (artifacts), as a base image must. */
  requireLayers?: boolean;
}

/** Reads manifest bytes (bounded, verified by the storage) and parses them. */
export async function readManifest(storage: ReadOnlyStorage, desc: Descriptor, options: LoadOptions = {}): Promise<{ descriptor: Descriptor; bytes: Buffer; parsed: AnyManifest }> {
  const where = `${options.name ?? 'image'}: manifest ${desc.digest}`;
  if (desc.size > MAX_MANIFEST_BYTES) throw new OcipushError('EINVALID', `${where}: ${desc.size} bytes is too large`);
  const bytes = await readSmall(await storage.fetch(desc, operationOptions(options)).catch((err: unknown) => { throw missingEntryError(err, desc, (platform) => `${options.name ?? 'the index'} names it for ${platform}`); }), MAX_MANIFEST_BYTES, where);
  const parsed = parseManifest(bytes, where, desc.mediaType);
  return { descriptor: { ...desc, mediaType: parsed.mediaType ?? desc.mediaType }, bytes, parsed };
}

/** The image or index `desc` names, as it is (an index is not narrowed). */
export async function loadImageOrIndex(storage: ReadOnlyStorage, desc: Descriptor, options: LoadOptions = {}): Promise<ImageOrIndex> {
  const { descriptor, bytes, parsed } = await readManifest(storage, desc, options);
  if (isIndex(parsed)) return indexView(descriptor, bytes, parsed);
  return imageView(storage, descriptor, bytes, parsed, options);
}

/**
 * The single-platform image `desc` names: an index is narrowed to the entry for the platform
 * (`platformManifest`: nested indexes too, a few levels deep). Errors name the image: not found,
 * no image for the platform, bytes that do not match their digest, not a container image.
 */
export async function loadImage(storage: ReadOnlyStorage, desc: Descriptor, options: LoadImageOptions = {}): Promise<ImageView> {
  const name = options.name ?? desc.digest;
  const root = await readManifest(storage, desc, options);
  let read = root;
  let index: Descriptor | undefined;
  if (isIndex(root.parsed)) {
    index = root.descriptor;
    const entry = await platformManifest(storage, root, options);
    read = await readManifest(storage, entry, options);
    if (isIndex(read.parsed)) throw new OcipushError('EINVALID', `${name}: the entry ${entry.digest} is an index, though the index that names it says ${entry.mediaType}`);
  }
  const { descriptor, bytes, parsed } = read;
  const image = await imageView(storage, descriptor, bytes, parsed as ImageManifest, options, index);
  if (options.requirePlatform && options.platform && !servesPlatform(options.platform, image.platform, index !== undefined && options.lowerVariant === true)) {
    throw new OcipushError('EUSAGE', `${name} is for ${describePlatform(image.platform)}, not ${platformArgument(options.platform)} (--platform)`, { digest: descriptor.digest });
  }
  return image;
}

export interface PlatformManifestOptions extends LoadOptions {
  /** The platform wanted; none: linux/amd64, else the only image there is. */
  platform?: Platform;
  /** Builds the error when the index has no image for the platform. */
  noMatch?: PlatformChoice['noMatch'];
  /** A single image must be for `platform` too (its config is read): what copy, pull and push write is for the platform asked for. */
  requirePlatform?: boolean;
}

/**
 * The image manifest of `root` (read with its exact bytes) for a platform, as containerd finds it:
 * an image is its own; of an index, the first entry that is exactly the platform (`platformExact`:
 * linux/amd64 is not an amd64/v3 listed first), else the first whose platform matches, else an entry without
 * a platform: an index is looked into (an index of indexes, a few levels deep), an image's config
 * says its platform; none of those: the same for each lower variant (`runnablePlatforms`: arm/v7 takes
 * an arm/v6 image). BuildKit's attestation manifests are never chosen. None: the error lists
 * every platform the index has, those of its nested indexes too.
 */
export async function platformManifest(
  storage: ReadOnlyStorage, root: { descriptor: Descriptor; bytes: Buffer }, options: PlatformManifestOptions = {},
): Promise<Descriptor> {
  const name = options.name ?? root.descriptor.digest;
  const parsed = parseManifest(root.bytes, `${name}: manifest ${root.descriptor.digest}`, root.descriptor.mediaType);
  if (!isIndex(parsed)) {
    if (!options.requirePlatform || !options.platform) return root.descriptor;
    const platform = await configPlatform(storage, parsed, { ...options, name });
    if (!platform || platformMatches(options.platform, platform)) return root.descriptor;
    throw new OcipushError('ENOTFOUND', `${name} is one image for ${describePlatform(platform)}, not for ${platformArgument(options.platform)} (--platform)`, { digest: root.descriptor.digest });
  }
  const wanted = options.platform ?? DEFAULT_PLATFORM;
  const seen = new Set<string>();
  let found: Descriptor | undefined;
  for (const platform of runnablePlatforms(wanted)) {
    found = await findPlatform(storage, parsed.manifests, platform, { ...options, name }, seen, 1);
    if (found) break;
  }
  found ??= options.platform ? undefined : await onlyImage(storage, parsed.manifests, { ...options, name }, 1);
  if (found) return found;
  throw noPlatformError({ name, ...(options.platform ? { wanted: options.platform } : {}), ...(options.noMatch ? { noMatch: options.noMatch } : {}) }, [...seen].join(', ') || 'none');
}

/** The entry under `entries` for `wanted` (see `platformManifest`); what the entries are for goes into `seen`. */
async function findPlatform(
  storage: ReadOnlyStorage, entries: readonly Descriptor[], wanted: Platform, options: LoadOptions & { name: string }, seen: Set<string>, depth: number,
): Promise<Descriptor | undefined> {
  const images = platformImages(entries);
  for (const entry of [...exactFirst(images.filter((d) => d.platform), wanted), ...images.filter((d) => !d.platform)]) {
    if (entry.platform && !platformMatches(wanted, entry.platform)) {
      seen.add(describePlatform(entry.platform));
      continue;
    }
    if (entry.platform && !isIndexMediaType(entry.mediaType)) return entry;
    const { parsed } = await readManifest(storage, entry, options);
    if (isIndex(parsed)) {
      if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `${options.name}: image indexes nested too deep`);
      const found = await findPlatform(storage, parsed.manifests, wanted, options, seen, depth + 1);
      if (found) return found;
      continue;
    }
    if (entry.platform) return entry;
    const platform = await configPlatform(storage, parsed, options);
    seen.add(platform ? describePlatform(platform) : entry.digest);
    if (platform && platformMatches(wanted, platform)) return entry;
  }
  return undefined;
}

/** With no platform asked for and none for linux/amd64: the one image the entries hold, in nested indexes too. */
async function onlyImage(storage: ReadOnlyStorage, entries: readonly Descriptor[], options: LoadOptions & { name: string }, depth: number): Promise<Descriptor | undefined> {
  const images = platformImages(entries);
  if (images.length !== 1) return undefined;
  const { parsed } = await readManifest(storage, images[0]!, options);
  if (!isIndex(parsed)) return images[0];
  if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `${options.name}: image indexes nested too deep`);
  return onlyImage(storage, parsed.manifests, options, depth + 1);
}

/** The platform an image's config declares; none for a manifest that is not a container image (an artifact). */
async function configPlatform(storage: ReadOnlyStorage, manifest: ImageManifest, options: LoadOptions & { name: string }): Promise<Platform | undefined> {
  const configType = manifest.config.mediaType;
  if (configType !== MediaType.OciConfig && configType !== MediaType.DockerConfig) return undefined;
  if (manifest.config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${options.name}: config of ${manifest.config.size} bytes is too large`);
  const where = `${options.name}: config ${manifest.config.digest}`;
  const bytes = await readSmall(await storage.fetch(manifest.config, operationOptions(options)), MAX_CONFIG_BYTES, where);
  return platformOfConfig(parseImageConfig(bytes, where));
}

function indexView(descriptor: Descriptor, bytes: Buffer, index: IndexView['index']): IndexView {
  return { kind: 'index', descriptor, manifestBytes: bytes, index, children: index.manifests };
}

async function imageView(
  storage: ReadOnlyStorage, descriptor: Descriptor, manifestBytes: Buffer, manifest: ImageManifest,
  options: LoadImageOptions, index?: Descriptor,
): Promise<ImageView> {
  const name = options.name ?? descriptor.digest;
  const configType = manifest.config.mediaType;
  if (configType !== MediaType.OciConfig && configType !== MediaType.DockerConfig) {
    throw new OcipushError('EUNSUPPORTED', `${name} is not a container image (config media type ${configType})`, { digest: descriptor.digest });
  }
  if (manifest.config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${name}: config of ${manifest.config.size} bytes is too large`);
  const configBytes = await readSmall(await storage.fetch(manifest.config, operationOptions(options)), MAX_CONFIG_BYTES, `${name}: config ${manifest.config.digest}`);
  const config = parseImageConfig(configBytes, `${name}: config ${manifest.config.digest}`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new OcipushError('EINVALID', `${name}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { digest: descriptor.digest });
  }
  if (options.requireLayers) {
    manifest.layers.forEach((layer, i) => {
      if (!isLayerMediaType(layer.mediaType)) {
        throw new OcipushError('EUNSUPPORTED', `${name}: layer ${i} has media type ${layer.mediaType}, not a container image layer`, { digest: layer.digest });
      }
    });
  }
  const layers: LayerView[] = manifest.layers.map((layer, i) => ({ ...blobView(storage, layer), diffId: diffIds[i]! as Digest }));
  return {
    kind: 'image',
    descriptor,
    manifestBytes,
    manifest,
    configBytes,
    config,
    configBlob: blobView(storage, manifest.config),
    layers,
    platform: entryPlatform(platformOfConfig(config), index ? descriptor.platform : undefined),
    format: manifest.mediaType === MediaType.DockerManifest ? 'docker' : 'oci',
    ...(index ? { index } : {}),
  };
}

/** A blob of `storage` as a view: opened through the storage, re-read through its own sources where it has them. */
export function blobView(storage: ReadOnlyStorage, descriptor: Descriptor): BlobView {
  return {
    descriptor,
    open: (options) => storage.fetch(descriptor, options),
    source: () => (isBlobSourceProvider(storage) ? storage.blobSource(descriptor) : storageSource(storage, descriptor)),
  };
}

