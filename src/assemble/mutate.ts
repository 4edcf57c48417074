import { describePlatform, formatPlatform, platformArgument, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { OcipushError } from '../errors.js';
import { encodeJson } from '../oci/manifest.js';
import { layerCompression, MediaType, type ImageFormat } from '../oci/media-types.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { configMediaType, convertLayer, mergeContainerConfig } from './compose.js';
import type { RunConfig } from './config.js';
import { describeBytes, imagePlatform, readImageConfig, rewriteImages, type ImageRewrite, type ImageToRewrite, type RewrittenImages } from './rewrite-images.js';

export type { MadeBlob } from './rewrite-images.js';

/**
 * What `mutate` changes: the run config of every image (as `build --base` would), the root's
 * annotations, and the family of media types (`skopeo copy --format`): the same config and
 * layer bytes named as OCI or as Docker v2 schema 2.
 */
export interface ImageChanges {
  run: RunConfig;
  annotations?: Record<string, string>;
  format?: ImageFormat;
  /** Only the images of an index for these platforms change; the others keep their bytes. */
  platforms?: Platform[];
}

export type MutatedImage = RewrittenImages;

/**
 * The image `root` names with its configs and annotations changed, as crane mutate does, but
 * for every image of an index, not one platform: each image's run config gets `changes.run` the
 * way `build --base` applies flags to a base (labels and ports merged, env replaced in place,
 * an entrypoint resets an inherited cmd), the root manifest or index gets `changes.annotations`.
 * Layers, history and the creation time stay as they are, so no layer moves and the result is
 * the same bytes each time; a change that is already so keeps the digest.
 */
export async function mutateImage(storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, changes: ImageChanges, name: string): Promise<MutatedImage> {
  const { platforms } = changes;
  const seen: Platform[] = [];
  let matched = 0;
  const rewrite = async (image: ImageToRewrite): Promise<ImageRewrite | undefined> => {
    if (platforms) {
      const platform = imagePlatform(image, await readImageConfig(storage, image, name));
      seen.push(platform);
      if (!platforms.some((p) => platformMatches(p, platform))) return undefined;
      matched++;
    }
    const changed = hasRunChanges(changes.run) ? await changeConfig(storage, image, changes.run, name) : undefined;
    return changes.format ? convert(storage, image, changed, changes.format, name) : changed;
  };
  const mutated = await rewriteImages(storage, root, rootBytes, name, rewrite, {
    verb: 'mutate', ...(changes.annotations ? { annotations: changes.annotations } : {}), ...(changes.format ? { format: changes.format } : {}),
  });
  if (platforms && matched === 0) {
    throw new OcipushError('ENOTFOUND', `${name} has no image for ${platforms.map(platformArgument).join(', ')} (it has: ${seen.map(describePlatform).join(', ') || 'none'}); nothing changed`);
  }
  return mutated;
}


async function changeConfig(storage: ReadOnlyStorage, image: ImageToRewrite, changes: RunConfig, name: string): Promise<ImageRewrite | undefined> {
  const config = image.manifest.config;
  const parsed = await readImageConfig(storage, image, name);
  const run = mergeContainerConfig(parsed.config ?? {}, changes, parsed.os);
  if (JSON.stringify(run) === JSON.stringify(parsed.config ?? {})) return undefined;
  const bytes = encodeJson({ ...parsed, config: run });
  const descriptor = describeBytes(config, bytes);
  return { manifest: { ...image.manifest, config: descriptor }, blobs: [{ descriptor, bytes }], platform: imagePlatform(image, parsed) };
}

/** The image (changed or not) under the media types of `format`; undefined when it has them already. */
async function convert(
  storage: ReadOnlyStorage, image: ImageToRewrite, changed: ImageRewrite | undefined, format: ImageFormat, name: string,
): Promise<ImageRewrite | undefined> {
  const manifest = changed?.manifest ?? image.manifest;
  const mediaType = format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
  if (manifest.mediaType === mediaType) return changed;
  const platform = changed?.platform ?? imagePlatform(image, await readImageConfig(storage, image, name));
  // mutate names layers, it does not compress them again: the advice is not build's (--compression).
  const zstd = format === 'docker' ? manifest.layers.find((l) => layerCompression(l.mediaType) === 'zstd') : undefined;
  if (zstd) {
    throw new OcipushError('EUSAGE', `${name} (${formatPlatform(platform)}): layer ${zstd.digest} is zstd-compressed, which Docker media types cannot name, and mutate does not compress layers again; it stays an OCI image`, { digest: image.descriptor.digest });
  }
  return {
    manifest: {
      ...manifest,
      mediaType,
      config: { ...manifest.config, mediaType: configMediaType(format) },
      layers: manifest.layers.map((layer) => convertLayer(layer, format)),
    },
    blobs: changed?.blobs ?? [],
    platform,
  };
}

export function hasChanges(changes: ImageChanges): boolean {
  return hasRunChanges(changes.run) || Object.keys(changes.annotations ?? {}).length > 0 || changes.format !== undefined;
}

function hasRunChanges(run: RunConfig): boolean {
  const env = run.env === undefined ? 0 : Array.isArray(run.env) ? run.env.length : Object.keys(run.env).length;
  return env > 0 || run.entrypoint !== undefined || run.cmd !== undefined || run.workdir !== undefined || run.user !== undefined
    || Object.keys(run.labels ?? {}).length > 0 || (run.expose ?? []).length > 0;
}
