import type { Descriptor } from '../oci/descriptor.js';
import { cosignImage, sameAttachedLayer } from '../oci/cosign-image.js';
import { isIndex, parseManifest, type ImageManifest } from '../oci/manifest.js';
import { MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { operationOptions, type OperationOptions, type ReadOnlyStorage } from '../content/storage.js';
import { withBlobs } from '../content/with-blobs.js';

/** The cosign tags whose image is a list that `cosign sign` / `cosign attest` append to. */
const APPENDED = /\.(sig|att)$/;

/**
 * What to copy for a cosign `.sig` / `.att` tag that the destination already holds under another
 * digest (signatures made there, by another key or another run): the destination's signature
 * image with the source's layers it lacks appended, as containers/image (skopeo copy) writes
 * signatures into a registry that has some, so that a copy adds signatures and never drops one.
 * `exists`: the destination already holds every layer of the source's image, nothing to write.
 * Undefined when it is no list to merge (an `.sbom`, which cosign replaces; either side not an
 * image manifest): then the source's image is copied over the tag, as before.
 */
export async function mergedCosignTag(
  src: ReadOnlyStorage, dst: ReadOnlyStorage, tag: string, source: Descriptor, existing: Descriptor, options: OperationOptions = {},
): Promise<{ exists: Descriptor } | { source: ReadOnlyStorage; root: Descriptor } | undefined> {
  if (!APPENDED.test(tag)) return undefined;
  const [theirs, ours] = await Promise.all([readImageManifest(dst, existing, tag, options), readImageManifest(src, source, tag, options)]);
  if (!theirs || !ours) return undefined;
  const added = ours.layers.filter((layer) => !theirs.layers.some((kept) => sameAttachedLayer(kept, layer)));
  if (added.length === 0) return { exists: existing };
  const made = cosignImage([...theirs.layers, ...added]);
  // The new config and manifest from memory, the source's layers from the source; the
  // destination's own layers are found there by the copy and not sent.
  return { source: withBlobs(src, [made.config, made.manifest]), root: made.manifest.descriptor };
}

async function readImageManifest(storage: ReadOnlyStorage, desc: Descriptor, tag: string, options: OperationOptions): Promise<ImageManifest | undefined> {
  const bytes = await readSmall(await storage.fetch(desc, operationOptions(options)), MAX_MANIFEST_BYTES, `${tag} (${desc.digest})`);
  let manifest;
  try {
    manifest = parseManifest(bytes, tag, desc.mediaType);
  } catch {
    return undefined;
  }
  return isIndex(manifest) ? undefined : manifest;
}
