import { OcipushError } from '../errors.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { sha256, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { parseManifest, isIndex, type ImageManifest } from '../oci/manifest.js';
import { cosignImage, sameAnnotations } from '../oci/cosign-image.js';
import { bufferSource, type BlobSource } from '../content/blob-source.js';
import { readSmall } from '../content/verify.js';
import type { Readable } from 'node:stream';
import { SIGNATURE_ANNOTATION } from './simple-signing.js';

/** Signatures (`.sig`), attestations (`.att`) and SBOMs (`.sbom`), as cosign tags them. */
export type CosignSuffix = 'sig' | 'att' | 'sbom';

/**
 * The largest payload read (whole: a DSSE envelope is JSON, checked as one): cosign's own limit on
 * what it downloads of an attachment (COSIGN_MAX_ATTACHMENT_SIZE's default, 128 MiB). A signature
 * payload is ~250 bytes, but an SBOM attestation (`attest --type spdxjson` of a large image) holds
 * the whole SBOM, often several MiB.
 */
export const MAX_PAYLOAD_BYTES = 128 * 1024 * 1024;

/** Why a layer above MAX_PAYLOAD_BYTES is not checked, for verify's and verify-attestation's line. */
export function oversizedReason(layer: Descriptor): string {
  return `a payload of ${layer.size} bytes, above the ${MAX_PAYLOAD_BYTES / 1024 / 1024} MiB read`;
}

/** `sha256-<hex>.sig`: the tag cosign keeps an image's signatures under. */
export function cosignTag(digest: Digest, suffix: CosignSuffix): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

/**
 * Where cosign's tags are read from: a registry repository, or a layout that holds them under
 * their names (a copy from a registry keeps them; `layoutAttachedStore`).
 */
export interface AttachedStore {
  /** A manifest by tag, with its exact bytes; ENOTFOUND when there is none. */
  fetchManifest(reference: string): Promise<{ descriptor: Descriptor; bytes: Buffer }>;
  fetch(desc: Descriptor): Promise<Readable>;
  /** How messages name it. */
  toString(): string;
}

/** Where cosign's tags are written: a registry repository, or a layout (`layoutAttachedStore`). */
export interface AttachedTarget extends AttachedStore {
  pushBlob(desc: Descriptor, source: BlobSource): Promise<unknown>;
  /** Stores the manifest under `reference` (the cosign tag). */
  pushManifest(desc: Descriptor, bytes: Buffer, reference: string): Promise<void>;
}

export interface AttachedLayer {
  descriptor: Descriptor;
  payload: Buffer;
  /** Larger than MAX_PAYLOAD_BYTES: not read (the payload is empty), counted and named as such, not passed over. */
  oversized?: boolean;
}

/** A layer read, or one marked as too large to read. */
export async function readLayer(layer: Descriptor, read: (limit: number) => Promise<Buffer>): Promise<AttachedLayer> {
  if (layer.size > MAX_PAYLOAD_BYTES) return { descriptor: layer, payload: Buffer.alloc(0), oversized: true };
  return { descriptor: layer, payload: await read(MAX_PAYLOAD_BYTES) };
}

/**
 * The layers of the image cosign keeps at `sha256-<hex>.<suffix>`, each with its payload
 * (digest-verified). None when the tag does not exist.
 */
export async function readAttached(repo: AttachedStore, digest: Digest, suffix: CosignSuffix): Promise<{ manifest?: ImageManifest; descriptor?: Descriptor; layers: AttachedLayer[] }> {
  const { manifest, descriptor } = await readAttachedManifest(repo, digest, suffix);
  if (!manifest) return { layers: [] };
  // Every payload at once (a `.sig` that CI runs appended to holds one per run): a round trip
  // for all of them, not one each.
  const layers: AttachedLayer[] = [];
  await eachAtMost(manifest.layers, DEFAULT_CONCURRENCY, async (layer, i) => {
    layers[i] = await readLayer(layer, async (limit) => readSmall(await repo.fetch(layer), limit, `${repo}: payload ${layer.digest}`));
  });
  return { manifest, descriptor, layers };
}

/** The manifest at `sha256-<hex>.<suffix>`, without its payloads; none when the tag is absent. */
async function readAttachedManifest(repo: AttachedStore, digest: Digest, suffix: CosignSuffix): Promise<{ manifest?: ImageManifest; descriptor?: Descriptor }> {
  const tag = cosignTag(digest, suffix);
  let fetched;
  try {
    fetched = await repo.fetchManifest(tag);
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return {};
    throw err;
  }
  const manifest = parseManifest(fetched.bytes, `${repo}:${tag}`, fetched.descriptor.mediaType);
  if (isIndex(manifest)) throw new OcipushError('EINVALID', `${repo}:${tag}: is an index, cosign keeps an image manifest there`);
  return { manifest, descriptor: fetched.descriptor };
}

export interface AppendResult {
  tag: string;
  manifest: Descriptor;
  /** False when an identical layer (same payload, same annotations) was already there. */
  appended: boolean;
}

/**
 * Adds one layer (payload + annotations) to the image at `sha256-<hex>.<suffix>`, keeping the
 * layers already there, as `cosign sign` appends to existing signatures. An identical layer is
 * not added twice.
 */
export async function appendAttached(
  repo: AttachedTarget, digest: Digest, suffix: CosignSuffix, layer: { mediaType: string; payload: Buffer; annotations: Record<string, string> },
  signedBySameKey?: (existing: AttachedLayer) => boolean,
  /** Layers left out of the new image (`attest --replace`: the attestations of the same predicate type). */
  drop: ReadonlySet<string> = new Set(),
  /** Blobs sent at once (the command's --concurrency): 1 sends the payload, then the config. */
  concurrency = DEFAULT_CONCURRENCY,
): Promise<AppendResult> {
  const tag = cosignTag(digest, suffix);
  // Appending needs the layers' digests and annotations, not their payloads.
  const existing = await readAttachedManifest(repo, digest, suffix);
  const payloadDigest = sha256(layer.payload);
  const descriptor: Descriptor = { mediaType: layer.mediaType, size: layer.payload.length, digest: payloadDigest, annotations: layer.annotations };
  const all = existing.manifest?.layers ?? [];
  const layers = all.filter((l) => !drop.has(l.digest) || l.digest === payloadDigest);
  const same = layers.find((l) => l.digest === payloadDigest && sameAnnotations(l.annotations ?? {}, layer.annotations));
  // cosign's duplicate detector: the same payload and annotations, signed by the same key, is that
  // signature again (an ECDSA signature differs each time): a re-run does not grow the image.
  // A layer of the same digest holds the same bytes: the payload in hand is checked, none fetched.
  const again = signedBySameKey && layers.find((l) => l.digest === payloadDigest && l.mediaType === layer.mediaType
    && sameAnnotations(withoutSignature(l.annotations ?? {}), withoutSignature(layer.annotations)) && signedBySameKey({ descriptor: l, payload: layer.payload }));
  if ((same || again) && existing.descriptor && layers.length === all.length) return { tag, manifest: existing.descriptor, appended: false };
  const made = cosignImage(same || again ? layers : [...layers, descriptor]);
  // Both blobs at once unless --concurrency says otherwise: two round trips each to a registry, for a few hundred bytes.
  const blobs: [Descriptor, Buffer][] = [[{ mediaType: layer.mediaType, digest: payloadDigest, size: layer.payload.length }, layer.payload], [made.config.descriptor, made.config.bytes]];
  await eachAtMost(blobs, concurrency, async ([desc, bytes]) => { await repo.pushBlob(desc, bufferSource(bytes)); });
  await repo.pushManifest(made.manifest.descriptor, made.manifest.bytes, tag);
  return { tag, manifest: made.manifest.descriptor, appended: true };
}

function withoutSignature(annotations: Record<string, string>): Record<string, string> {
  const { [SIGNATURE_ANNOTATION]: _, ...rest } = annotations;
  return rest;
}
