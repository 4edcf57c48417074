import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { Digester, sha256 } from '../oci/digest.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, type Descriptor } from '../oci/descriptor.js';
import { encodeJson, type ImageManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { bufferSource, fileSource, madeSource, type BlobSource } from '../content/blob-source.js';
import { readHashing } from './blob-signature.js';
import { pushReferrer, type PushReferrerResult } from '../registry/referrers.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import type { Repository } from '../registry/repository.js';
import type { OciLayout } from '../content/layout.js';
import { recordLayoutReferrers } from '../content/layout-referrers.js';

/** The OCI 1.1 empty config (`{}`), as artifacts without a config of their own carry it. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
/** oras attach's default media type for a file. */
export const DEFAULT_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';

export interface ArtifactBlob {
  descriptor: Descriptor;
  /** A file on disk, bytes held in memory (an envelope), or bytes made again for each read (an SBOM). */
  source: BlobSource;
}

export interface AttachedArtifact extends PushReferrerResult {
  manifest: Descriptor;
  bytes: Buffer;
}

/** A file as an artifact layer (titled by its file name unless told): streamed once to hash it, then uploaded from disk. */
export async function fileBlob(path: string, mediaType = DEFAULT_FILE_MEDIA_TYPE, title = basename(path)): Promise<ArtifactBlob> {
  const digester = new Digester();
  for await (const _ of readHashing(path, digester)) { /* each chunk is hashed as it is read */ }
  const descriptor: Descriptor = { mediaType, digest: digester.digest(), size: digester.size, annotations: { [TITLE_ANNOTATION]: title } };
  return { descriptor, source: fileSource(path, descriptor) };
}

export function bytesBlob(bytes: Buffer, mediaType: string, annotations?: Record<string, string>): ArtifactBlob {
  return { descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...(annotations ? { annotations } : {}) }, source: bufferSource(bytes) };
}

/**
 * Bytes made by `make`, the same on every call (an SBOM document): made once to hash them, and
 * again for the upload, never held whole (madeSource).
 */
export function madeBlob(make: () => Iterable<Uint8Array>, mediaType: string, what: string): ArtifactBlob {
  const digester = new Digester();
  for (const chunk of make()) digester.update(chunk);
  const descriptor: Descriptor = { mediaType, digest: digester.digest(), size: digester.size };
  return { descriptor, source: madeSource(make, descriptor, what) };
}

/**
 * The OCI 1.1 artifact manifest (image-spec's guidance, as oras writes it): `artifactType`, the
 * empty config (with the annotations oras's `$config` gives it), the blobs as layers, and
 * `subject` when it refers to an image.
 */
export function artifactManifest(
  artifactType: string, blobs: readonly ArtifactBlob[], annotations: Record<string, string> = {}, subject?: Descriptor, configAnnotations: Record<string, string> = {},
): { descriptor: Descriptor; bytes: Buffer } {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: { ...EMPTY_DESCRIPTOR, ...(Object.keys(configAnnotations).length > 0 ? { annotations: configAnnotations } : {}) },
    layers: blobs.map((b) => b.descriptor),
    ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const bytes = encodeJson(manifest);
  return { descriptor: { mediaType: MediaType.OciManifest, digest: sha256(bytes), size: bytes.length }, bytes };
}

/**
 * The empty config and each blob, uploaded unless the repository has it already (asked of all at
 * once): the empty config nearly always is, and an artifact pushed again sends no file twice.
 * Several files go up at once (`concurrency`, the command's --concurrency), as oras sends them.
 */
async function pushArtifactBlobs(repo: Repository, blobs: readonly ArtifactBlob[], concurrency: number): Promise<void> {
  const byDigest = new Map<string, ArtifactBlob>();
  for (const blob of [{ descriptor: EMPTY_DESCRIPTOR, source: bufferSource(EMPTY_JSON) }, ...blobs]) {
    if (!byDigest.has(blob.descriptor.digest)) byDigest.set(blob.descriptor.digest, blob);
  }
  const all = [...byDigest.values()];
  const there = await Promise.all(all.map((b) => repo.exists(b.descriptor)));
  await eachAtMost(all.filter((_, i) => !there[i]), concurrency, async (blob) => { await repo.pushBlob(blob.descriptor, blob.source); });
}

/**
 * Pushes an OCI 1.1 artifact (a manifest with `artifactType`, the empty config, the blobs as
 * layers and `subject`) and records it as a referrer of `subject` (see registry/referrers.ts).
 */
export async function attachArtifact(
  repo: Repository, subject: Descriptor, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string> = {}, configAnnotations: Record<string, string> = {},
  concurrency = DEFAULT_CONCURRENCY,
): Promise<AttachedArtifact> {
  const { descriptor, bytes } = artifactManifest(artifactType, blobs, annotations, subject, configAnnotations);
  // Whether the registry has the manifest already (the same files attached before): one it had
  // is never deleted by a failed index update (see pushReferrers), and one listed needs no PUT.
  const [alreadyStored] = await Promise.all([repo.exists(descriptor), pushArtifactBlobs(repo, blobs, concurrency)]);
  const result = await pushReferrer(repo.client, repo.name, { descriptor, bytes, subject: subject.digest }, { alreadyStored });
  return { ...result, manifest: descriptor, bytes };
}

/** An artifact of its own (as `oras push`): its blobs, then its manifest under `reference` (a tag, or its digest). */
export async function pushArtifact(
  repo: Repository, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string>, reference?: string, configAnnotations: Record<string, string> = {},
  concurrency = DEFAULT_CONCURRENCY,
): Promise<{ manifest: Descriptor; bytes: Buffer }> {
  await pushArtifactBlobs(repo, blobs, concurrency);
  const { descriptor, bytes } = artifactManifest(artifactType, blobs, annotations, undefined, configAnnotations);
  await repo.pushManifest(descriptor, bytes, reference ?? descriptor.digest);
  return { manifest: descriptor, bytes };
}

/** The empty config and each blob, stored in the layout (verified as written) unless it is there. */
async function storeArtifactBlobs(layout: OciLayout, blobs: readonly ArtifactBlob[]): Promise<void> {
  await layout.putBytes(MediaType.OciEmpty, EMPTY_JSON);
  for (const blob of blobs) {
    if (!(await layout.exists(blob.descriptor))) await layout.push(blob.descriptor, Readable.from(await blob.source.open()));
  }
}

/**
 * `attach` into an OCI layout, as `oras attach --oci-layout`: the artifact's blobs and manifest
 * stored, and the manifest listed in index.json as a referrer of `subject` (with its
 * artifactType, untagged), where `referrers`, `artifact get`, `copy` and `push` find it.
 */
export async function attachToLayout(
  layout: OciLayout, subject: Descriptor, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string> = {}, configAnnotations: Record<string, string> = {},
): Promise<{ manifest: Descriptor; bytes: Buffer }> {
  await storeArtifactBlobs(layout, blobs);
  const { descriptor, bytes } = artifactManifest(artifactType, blobs, annotations, subject, configAnnotations);
  await layout.putBytes(descriptor.mediaType, bytes);
  await recordLayoutReferrers(layout, [{ ...descriptor, artifactType }]);
  return { manifest: descriptor, bytes };
}

/** `artifact push` into an OCI layout, as `oras push --oci-layout`: the index.json entry named `name` carries the artifactType, as oras writes it. */
export async function pushArtifactToLayout(
  layout: OciLayout, artifactType: string, blobs: ArtifactBlob[], annotations: Record<string, string>, name?: string, configAnnotations: Record<string, string> = {},
): Promise<{ manifest: Descriptor; bytes: Buffer }> {
  await storeArtifactBlobs(layout, blobs);
  const { descriptor, bytes } = artifactManifest(artifactType, blobs, annotations, undefined, configAnnotations);
  await layout.putBytes(descriptor.mediaType, bytes);
  if (name !== undefined) await layout.tag({ ...descriptor, artifactType }, name);
  return { manifest: descriptor, bytes };
}
