import { OcipushError } from '../errors.js';
import { Annotation, formatPlatform, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { sha256 } from '../oci/digest.js';
import { encodeJson, isIndex, parseManifest } from '../oci/manifest.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { withBlobs } from '../content/with-blobs.js';
import { loadImage } from '../image/load.js';
import { listPlatforms, platformImages } from '../image/platform.js';

export interface FilteredRoot {
  descriptor: Descriptor;
  bytes: Buffer;
  /** Whether the root had to change (the index had entries for other platforms). */
  changed: boolean;
}

/**
 * The root with only the images for `platforms`, as `crane index filter` keeps them: an index
 * keeps its entries for those platforms (and the BuildKit attestation manifests of the images it
 * keeps), in their order, with its media type and annotations; one missing platform is an error.
 * An index that holds nothing else stays as it is, bytes and digest; so does a single image for
 * one of the platforms.
 */
export async function filterPlatforms(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<FilteredRoot> {
  const parsed = parseManifest(rootBytes, name, root.mediaType);
  const { offered, available } = await platformsOffered(storage, root, rootBytes, platforms, name);
  if (!isIndex(parsed)) {
    if (offered.length === 0) {
      throw new OcipushError('ENOTFOUND', `${name} is one image for ${available}, not for ${platforms.map(formatPlatform).join(', ')} (--platform)`, { digest: root.digest });
    }
    return { descriptor: root, bytes: rootBytes, changed: false };
  }
  const missing = platforms.find((p) => !offered.includes(p));
  if (missing) throw new OcipushError('ENOTFOUND', `${name} has no image for ${formatPlatform(missing)} (it has: ${available})`, { digest: root.digest });
  const images = platformImages(parsed.manifests);
  const kept = new Set(images.filter((d) => platforms.some((p) => platformMatches(p, d.platform))).map((d) => d.digest as string));
  const manifests = parsed.manifests.filter((d) => kept.has(d.digest)
    || (d.annotations?.[Annotation.ReferenceType] !== undefined && kept.has(d.annotations[Annotation.ReferenceDigest] ?? '')));
  if (manifests.length === parsed.manifests.length) return { descriptor: root, bytes: rootBytes, changed: false };
  const bytes = encodeJson({ ...parsed, manifests });
  return { descriptor: { mediaType: root.mediaType, digest: sha256(bytes), size: bytes.length }, bytes, changed: true };
}

/**
 * Which of `platforms` a root has an image for, and every platform it has (`linux/amd64, …`, an
 * index entry without one by its digest), for a line that says so.
 */
export async function platformsOffered(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<{ offered: Platform[]; available: string }> {
  const parsed = parseManifest(rootBytes, name, root.mediaType);
  const images = isIndex(parsed) ? platformImages(parsed.manifests) : [{ ...root, platform: (await loadImage(storage, root, { name })).platform }];
  return {
    offered: platforms.filter((p) => images.some((d) => platformMatches(p, d.platform))),
    available: listPlatforms(images),
  };
}

/**
 * `storage` seen with its root narrowed to `platforms` (`filterPlatforms`): an index made anew is
 * added in memory, for a copy to write from there; `changed` false when the root stays as it is.
 */
export async function narrowToPlatforms(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<{ storage: ReadOnlyStorage; root: Descriptor; rootBytes: Buffer; changed: boolean }> {
  const filtered = await filterPlatforms(storage, root, rootBytes, platforms, name);
  if (!filtered.changed) return { storage, root, rootBytes, changed: false };
  return { storage: withBlobs(storage, [{ descriptor: filtered.descriptor, bytes: filtered.bytes }]), root: filtered.descriptor, rootBytes: filtered.bytes, changed: true };
}
