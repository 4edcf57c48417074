import type { OciLayout } from '../content/layout.js';
import type { Digest } from '../oci/digest.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import type { ImageConfig, ImageManifest } from '../oci/manifest.js';
import { composeManifest, configMediaType, manifestMediaType, type ComposeInput } from './compose.js';
import { sortedRecord } from './config.js';

/** What `build` and `build -f` report about the image they wrote. */
export interface StoredImage {
  digest: Digest;
  size: number;
  mediaType: string;
  tag: string;
  /** Absolute path of the layout. */
  layout: string;
  manifest: Descriptor;
  config: Descriptor;
}

/**
 * The last steps of every build, once its layers are in the layout: the config, the manifest
 * (with the `created` annotation only when a time was given) and the tag, in that order, so the
 * tag never names an image whose blobs are not all stored.
 */
export async function storeImage(
  layout: OciLayout,
  composition: ComposeInput,
  config: ImageConfig,
  options: { tag: string; createdGiven: boolean; annotations?: Record<string, string> },
): Promise<{ image: StoredImage; manifest: ImageManifest }> {
  const configDesc = await layout.putJson(configMediaType(composition.format), config);
  const annotations = sortedRecord({
    ...(options.createdGiven ? { [Annotation.Created]: composition.created } : {}),
    ...(options.annotations ?? {}),
  });
  const manifest = composeManifest(composition, configDesc, annotations);
  const manifestDesc = await layout.putJson(manifestMediaType(composition.format), manifest);
  await layout.tag({ ...manifestDesc, platform: composition.platform }, options.tag);
  const image: StoredImage = {
    digest: manifestDesc.digest,
    size: manifestDesc.size,
    mediaType: manifestDesc.mediaType,
    tag: options.tag,
    layout: layout.root,
    manifest: manifestDesc,
    config: configDesc,
  };
  return { image, manifest };
}
