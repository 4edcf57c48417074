import type { Descriptor } from '../oci/descriptor.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { IN_TOTO_PAYLOAD_TYPE } from './attest.js';
import type { AttachedLayer } from './cosign-tags.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from './simple-signing.js';
import { bundleEnvelopeLayer, isSigstoreBundle } from './sigstore-bundle.js';

/**
 * The artifactType of the OCI 1.1 referrer `cosign sign --registry-referrers-mode=oci-1-1` writes
 * (its `ArtifactType("sig")`; cosign before the artifactType field put it in config.mediaType,
 * which a registry lists as the artifactType): cosign's `.sig` image as a referrer, the same
 * simple-signing layers with their signature annotations.
 */
export const COSIGN_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** cosign's `ArtifactType("att")`, which its OCI 1.1 reader looks attestations up by. */
export const COSIGN_ATTESTATION_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.att.v1+json';

/** What the referrers of an image hold that verify and verify-attestation read. */
export interface ReferredSignatures {
  /** DSSE envelopes: attestations (as `.att` layers), and those of the Sigstore bundles too. */
  attestations: AttachedLayer[];
  /** The envelopes of cosign 3's Sigstore bundles. */
  bundles: AttachedLayer[];
  /** Simple-signing layers of cosign's OCI 1.1 signature referrers (as `.sig` layers). */
  signatures: AttachedLayer[];
}

type Kind = 'attestation' | 'bundle' | 'signature';

/**
 * Whether a referrer of this artifactType carries signatures or attestations, and which of its
 * layers: DSSE envelopes (ocipush's and oras's `application/vnd.dsse.envelope.v1+json`,
 * cosign's `WriteAttestationsReferrer` in-toto type, cosign's `att` type), Sigstore bundles, or
 * cosign's simple-signing signatures.
 */
export function signedReferrerKind(artifactType: string | undefined): Kind | undefined {
  if (artifactType === DSSE_MEDIA_TYPE || artifactType === IN_TOTO_PAYLOAD_TYPE || artifactType === COSIGN_ATTESTATION_ARTIFACT_TYPE) return 'attestation';
  if (isSigstoreBundle(artifactType)) return 'bundle';
  if (artifactType === COSIGN_SIGNATURE_ARTIFACT_TYPE) return 'signature';
  return undefined;
}

/** The layers of a referrer of `kind` that hold what is checked. */
export function signedLayers(kind: Kind, layers: readonly Descriptor[]): Descriptor[] {
  if (kind === 'attestation') return layers.filter((l) => l.mediaType === DSSE_MEDIA_TYPE);
  if (kind === 'bundle') return layers.filter((l) => isSigstoreBundle(l.mediaType));
  return layers.filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE);
}

/** The layers read from each referrer (signedLayers, with their payloads), sorted into what verify and verify-attestation take. */
export function sortReferred(read: readonly { kind: Kind; layers: AttachedLayer[] }[]): ReferredSignatures {
  const dsse = read.filter((r) => r.kind === 'attestation').flatMap((r) => r.layers);
  const bundles = read.filter((r) => r.kind === 'bundle').flatMap((r) => r.layers.map(bundleEnvelopeLayer).filter((l): l is AttachedLayer => l !== undefined));
  const signatures = read.filter((r) => r.kind === 'signature').flatMap((r) => r.layers);
  return { attestations: [...dsse, ...bundles], bundles, signatures };
}
