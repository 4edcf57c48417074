import { EMPTY_JSON, type Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { encodeJson, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import type { OciLayout } from './layout.js';
import { MAX_MANIFEST_BYTES } from './verify.js';

/**
 * OCI 1.1 referrers kept in a layout (an SBOM a build made, say), as oras keeps them: untagged
 * `index.json` entries that carry their `artifactType`, whose manifests name a `subject`. They
 * are not images: a layout's "only image" and its tags never count them.
 */

export function isReferrerEntry(entry: Descriptor): boolean {
  return entry.artifactType !== undefined;
}

/** The image entries of an index (referrer entries left out). */
export function imageEntries(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((d) => !isReferrerEntry(d));
}

export interface LayoutReferrer {
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: ImageManifest;
}

/** The referrers of `subject` the layout holds, oldest first. */
export async function layoutReferrers(layout: OciLayout, subject: Pick<Descriptor, 'digest'>): Promise<LayoutReferrer[]> {
  const found: LayoutReferrer[] = [];
  for (const entry of (await layout.readIndex()).manifests) {
    if (!isReferrerEntry(entry) || !(await layout.exists(entry))) continue;
    const bytes = await layout.readBlob(entry, MAX_MANIFEST_BYTES);
    const manifest = JSON.parse(bytes.toString('utf8')) as ImageManifest;
    if (manifest.subject?.digest === subject.digest) found.push({ descriptor: entry, bytes, manifest });
  }
  return found;
}

/** A blob of a referrer: its bytes, or chunks made as they are written (a large SBOM). */
export type ReferrerBlob = { mediaType: string; annotations?: Record<string, string> } & ({ bytes: Buffer } | { chunks: Iterable<Uint8Array> });

/**
 * Stores an artifact that refers to `subject` — the empty config, `blobs` as its layers — and
 * lists it in index.json. Referrer entries of images no longer in the index go at the same time:
 * a rebuilt tag does not accumulate the SBOMs of the images it replaced.
 */
export async function storeLayoutReferrer(
  layout: OciLayout, subject: Descriptor, artifactType: string,
  blobs: ReferrerBlob[], annotations: Record<string, string> = {},
): Promise<Descriptor> {
  const config = await layout.putBytes(MediaType.OciEmpty, EMPTY_JSON);
  const layers: Descriptor[] = [];
  for (const blob of blobs) {
    const extra = blob.annotations ? { annotations: blob.annotations } : {};
    layers.push('bytes' in blob ? await layout.putBytes(blob.mediaType, blob.bytes, extra) : await layout.putChunks(blob.mediaType, blob.chunks, extra));
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const stored = await layout.putBytes(MediaType.OciManifest, encodeJson(manifest));
  const entry: Descriptor = { mediaType: stored.mediaType, digest: stored.digest, size: stored.size, artifactType };
  const subjects = new Map<string, Descriptor['digest'] | undefined>();
  for (const d of (await layout.readIndex()).manifests) {
    if (!isReferrerEntry(d) || !(await layout.exists(d))) continue;
    subjects.set(d.digest, (JSON.parse((await layout.readBlob(d, MAX_MANIFEST_BYTES)).toString('utf8')) as ImageManifest).subject?.digest);
  }
  await layout.updateIndex((index) => {
    const images = new Set(imageEntries(index).map((d) => d.digest));
    index.manifests = index.manifests.filter((d) => {
      if (d.digest === entry.digest) return false;
      if (!isReferrerEntry(d)) return true;
      const of = subjects.get(d.digest);
      return of === undefined || of === subject.digest || images.has(of);
    });
    index.manifests.push(entry);
  });
  return entry;
}
