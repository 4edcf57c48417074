import { OcipushError } from '../errors.js';
import type { OciLayout } from '../content/layout.js';
import { MAX_CONFIG_BYTES } from '../content/verify.js';
import { formatPlatform, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { isIndex, parseImageConfig, parseManifest, type ImageConfig, type ImageManifest } from '../oci/manifest.js';

/** One single-platform image of a layout, with the exact bytes of its manifest and config. */
export interface LoadedImage {
  /** The manifest's descriptor (the platform entry when the layout named an index). */
  descriptor: Descriptor;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  config: ImageConfig;
  configBytes: Buffer;
}

const MAX_INDEX_DEPTH = 4;

/**
 * Reads the image a layout entry points at. An index is narrowed to the manifest for `platform`,
 * as `docker pull --platform` does; a manifest is taken as it is.
 */
export async function loadImage(layout: OciLayout, entry: Descriptor, platform: Platform, name: string): Promise<LoadedImage> {
  let descriptor = entry;
  for (let depth = 0; ; depth++) {
    const manifestBytes = await layout.readBlob(descriptor);
    const parsed = parseManifest(manifestBytes, `manifest ${descriptor.digest} of "${name}"`, descriptor.mediaType);
    if (isIndex(parsed)) {
      if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `"${name}": image indexes nested too deep`);
      descriptor = pickPlatform(parsed.manifests, platform, name);
      continue;
    }
    const manifest = parsed;
    const configMediaType = manifest.config.mediaType;
    if (configMediaType !== MediaType.OciConfig && configMediaType !== MediaType.DockerConfig) {
      throw new OcipushError('EUNSUPPORTED', `"${name}" is not a container image (config media type ${configMediaType})`, { digest: descriptor.digest });
    }
    const configBytes = await layout.readBlob(manifest.config, MAX_CONFIG_BYTES);
    const config = parseImageConfig(configBytes, `config ${manifest.config.digest} of "${name}"`);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new OcipushError('EINVALID', `"${name}": the config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`, { digest: descriptor.digest });
    }
    return { descriptor: { ...descriptor, mediaType: manifest.mediaType }, manifest, manifestBytes, config, configBytes };
  }
}

function pickPlatform(manifests: Descriptor[], platform: Platform, name: string): Descriptor {
  const match = manifests.find((d) => platformMatches(platform, d.platform));
  if (match) return match;
  const available = manifests.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
  throw new OcipushError('ENOTFOUND', `"${name}" has no image for ${formatPlatform(platform)} (it has: ${available || 'none'}); choose one with --platform`);
}
