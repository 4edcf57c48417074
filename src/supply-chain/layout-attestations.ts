import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import type { ImageManifest } from '../oci/manifest.js';
import { isSigstoreBundle } from './sigstore-bundle.js';
import type { OciLayout } from '../content/layout.js';
import { MAX_MANIFEST_BYTES } from '../content/verify.js';
import type { Repository } from '../registry/repository.js';
import { PREDICATE_TYPE_ANNOTATION, signedAttestation, type AttestResult } from './attest.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { attachToLayout } from './attach.js';
import type { Signer } from './signer.js';
import { appendAttached, readAttached, readLayer, type AttachedLayer, type AttachedTarget } from './cosign-tags.js';
import { dropLayoutReferrersOfType, layersOfType } from './replace-attestations.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import { SIGNATURE_ANNOTATION } from './simple-signing.js';
import { signedLayers, signedReferrerKind, sortReferred, type ReferredSignatures } from './referrer-signatures.js';

/**
 * DSSE attestations among a layout's referrers of `subject` (a build's provenance), appended to
 * the registry's `sha256-<hex>.att` as cosign stores them, so `cosign verify-attestation` and
 * `ocipush verify-attestation` find them as well as the OCI 1.1 referrer.
 */
export async function appendLayoutAttestations(layout: OciLayout, repository: Repository, subject: Descriptor): Promise<number> {
  // A Sigstore bundle (cosign 3) is no `.att` layer: it stays a referrer, which the push carries.
  const { attestations, bundles } = await layoutReferrerEnvelopes(layout, subject);
  const layers = attestations.filter((l) => !bundles.includes(l) && !l.oversized);
  for (const { descriptor, payload } of layers) {
    const predicateType = descriptor.annotations?.[PREDICATE_TYPE_ANNOTATION] ?? '';
    await appendAttached(repository, subject.digest, 'att', {
      mediaType: DSSE_MEDIA_TYPE, payload, annotations: { [SIGNATURE_ANNOTATION]: '', [PREDICATE_TYPE_ANNOTATION]: predicateType },
    });
  }
  return layers.length;
}

/**
 * A copy out of a layout is a push: the attestations among the OCI 1.1 referrers it carried (a
 * build's signed provenance) also go to each subject's `sha256-<hex>.att`, as push puts them.
 * Only a subject whose OCI 1.1 referrers came along (`copied` without a cosign tag) can have one.
 */
export async function appendCopiedAttestations(
  layout: OciLayout, repository: Repository, subjects: readonly Descriptor[], copied: readonly { subject: string; tag?: string }[],
): Promise<void> {
  for (const subject of subjects) {
    if (copied.some((r) => r.tag === undefined && r.subject === subject.digest)) await appendLayoutAttestations(layout, repository, subject);
  }
}

/**
 * A layout as cosign's tags are kept in a registry: the manifest a name (`sha256-<hex>.sig`)
 * gives, blobs, verified, and new ones stored under their names. `verify` and
 * `verify-attestation` check a layout so, offline (as cosign's `--local-image`), before it is
 * copied anywhere; `sign` signs in it, and `copy` and `push` take the signatures along.
 */
export function layoutAttachedStore(layout: OciLayout, name: string): AttachedTarget {
  return {
    fetchManifest: async (reference) => {
      const descriptor = await layout.resolve(reference);
      return { descriptor, bytes: await layout.readBlob(descriptor, MAX_MANIFEST_BYTES) };
    },
    fetch: (desc) => layout.fetch(desc),
    pushBlob: async (desc, source) => layout.push(desc, Readable.from(await source.open())),
    pushManifest: async (desc, bytes, reference) => {
      await layout.putBytes(desc.mediaType, bytes);
      await layout.tag(desc, reference);
    },
    toString: () => name,
  };
}

/**
 * What the layout's referrers of `subject` hold that verify and verify-attestation read (as a
 * registry's, `registryReferrerEnvelopes`): DSSE envelopes (a build's provenance) as the layers
 * cosign's `.att` would hold, the envelopes of cosign 3's Sigstore bundles (`bundles`) and the
 * signatures of cosign's OCI 1.1 signature referrers (`signatures`), which a copy brought; one
 * larger than an attestation can be is an error.
 */
export async function layoutReferrerEnvelopes(layout: OciLayout, subject: Descriptor): Promise<ReferredSignatures> {
  const found: Parameters<typeof sortReferred>[0][number][] = [];
  const listed = await layoutReferrers(layout, subject);
  const unlisted = await cosignSavedBundleReferrers(layout, subject, new Set(listed.map((r) => r.descriptor.digest)));
  for (const manifest of [...listed.map((r) => r.manifest), ...unlisted]) {
    const kind = signedReferrerKind(manifest.artifactType ?? manifest.config?.mediaType);
    if (!kind) continue;
    const layers: AttachedLayer[] = [];
    for (const layer of signedLayers(kind, manifest.layers)) layers.push(await readLayer(layer, (limit) => layout.readBlob(layer, limit)));
    found.push({ kind, layers });
  }
  return sortReferred(found);
}

/** A referrer manifest is a few hundred bytes: a blob larger than this is not read to find one. */
const SAVED_REFERRER_MAX_BYTES = 64 * 1024;

/**
 * The Sigstore bundle referrers of `subject` that cosign 3's `save` leaves in the blobs of its
 * layout without an index.json entry: it writes each referrer of the image as an image of its
 * own, each write starting index.json anew, so only the saved image stays listed (`kind`
 * dev.cosignproject.cosign/image); `cosign verify --local-image` finds them by reading
 * blobs/sha256 for manifests whose subject is that image, and so are they found here. Only in
 * such a layout, and only blobs small enough to be a manifest are read.
 */
async function cosignSavedBundleReferrers(layout: OciLayout, subject: Descriptor, listed: ReadonlySet<string>): Promise<ImageManifest[]> {
  const saved = (await layout.readIndex()).manifests.some((m) => m.digest === subject.digest && COSIGN_SAVED_IMAGE_KINDS.has(m.annotations?.kind ?? ''));
  if (!saved) return [];
  const dir = join(layout.root, 'blobs', 'sha256');
  const found: ImageManifest[] = [];
  for (const hex of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!/^[0-9a-f]{64}$/.test(hex) || listed.has(`sha256:${hex}`)) continue;
    const info = await stat(join(dir, hex)).catch(() => undefined);
    if (!info?.isFile() || info.size > SAVED_REFERRER_MAX_BYTES) continue;
    let manifest: ImageManifest;
    try {
      manifest = JSON.parse((await layout.readBlob({ digest: `sha256:${hex}`, size: info.size }, SAVED_REFERRER_MAX_BYTES)).toString('utf8')) as ImageManifest;
    } catch {
      continue; // a layer, a config, a blob that is not JSON: no referrer
    }
    if (manifest?.subject?.digest === subject.digest && Array.isArray(manifest.layers) && manifest.layers.some((l) => isSigstoreBundle(l?.mediaType))) found.push(manifest);
  }
  return found;
}

const COSIGN_SAVED_IMAGE_KINDS = new Set(['dev.cosignproject.cosign/image', 'dev.cosignproject.cosign/imageIndex']);

/** The attestations among the layout's referrers (layoutReferrerEnvelopes), for verify-attestation. */
export async function layoutAttestationLayers(layout: OciLayout, subject: Descriptor): Promise<AttachedLayer[]> {
  return (await layoutReferrerEnvelopes(layout, subject)).attestations;
}

/**
 * `attest` in a layout: the attestation under cosign's `.att` name and as a referrer entry, as a
 * registry keeps it, so verify-attestation reads it offline and push and copy take it along.
 */
export async function attestInLayout(
  layout: OciLayout, name: string, subject: Descriptor, signer: Signer, predicateType: string, predicate: unknown, replace = false,
): Promise<AttestResult> {
  const made = await signedAttestation(name, subject, signer, predicateType, predicate);
  const store = layoutAttachedStore(layout, name);
  const drop = replace ? layersOfType((await readAttached(store, subject.digest, 'att')).layers, predicateType) : undefined;
  const stored = await appendAttached(store, subject.digest, 'att', made.attached, undefined, drop);
  const referrer = await attachToLayout(layout, subject, DSSE_MEDIA_TYPE, [made.blob], made.referrerAnnotations);
  const referrers = replace ? await dropLayoutReferrersOfType(layout, subject, predicateType, referrer.manifest.digest) : 0;
  return { digest: subject.digest, predicateType, tag: stored.tag, referrer: referrer.manifest.digest, ...(drop ? { replaced: { att: drop.size, referrers } } : {}) };
}
