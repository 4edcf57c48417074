import { digestHex, type Digest } from '../oci/digest.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { checkEnvelope, COSIGN_SIGN_PREDICATE_TYPE } from './attest.js';
import { oversizedReason, type AttachedLayer } from './cosign-tags.js';
import type { VerifyOutcome } from './sign.js';
import type { Verifier } from './signer.js';

/**
 * Sigstore bundles, as cosign 3 stores what it signs by default (`--new-bundle-format`): the
 * bundle JSON is the one layer of an OCI 1.1 referrer of the image whose artifactType is the
 * bundle's media type (cosign's `WriteAttestationNewBundleFormat`). For `cosign sign` the bundle's
 * DSSE envelope holds an in-toto statement whose subject is the image digest, of predicate type
 * `https://sigstore.dev/cosign/sign/v1`, `-a` annotations on the subject; for `cosign attest` the
 * statement of the attestation. Only the key's signature over the envelope is checked here (as
 * for cosign's `.sig` and `.att`): a bundle's transparency-log entries and certificates are not.
 */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The media types bundles have had: `…bundle.v0.3+json`, and `…bundle+json;version=0.1|0.2|0.3`. */
export function isSigstoreBundle(mediaType: string | undefined): boolean {
  return mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE || /^application\/vnd\.dev\.sigstore\.bundle\+json;\s*version=0\.[1-3]$/.test(mediaType ?? '');
}

/**
 * The DSSE envelope a bundle holds, as the JSON a `.att` layer holds (protobuf's JSON of the
 * envelope has the same fields: payload and sig base64, payloadType, keyid), under the bundle
 * layer's descriptor; undefined for a bundle of a message signature or one that does not parse.
 */
export function bundleEnvelopeLayer(layer: AttachedLayer): AttachedLayer | undefined {
  if (layer.oversized) return { ...layer, descriptor: { ...layer.descriptor, mediaType: DSSE_MEDIA_TYPE } };
  let bundle: { dsseEnvelope?: unknown };
  try {
    bundle = JSON.parse(layer.payload.toString('utf8')) as { dsseEnvelope?: unknown };
  } catch {
    return undefined;
  }
  const envelope = bundle?.dsseEnvelope;
  if (envelope === null || typeof envelope !== 'object') return undefined;
  return { descriptor: { ...layer.descriptor, mediaType: DSSE_MEDIA_TYPE }, payload: Buffer.from(JSON.stringify(envelope), 'utf8') };
}

/**
 * Whether the envelope's statement is of a predicate type other than cosign's sign statement.
 * Its signature is not checked: this only keeps an attestation out of the count of signatures,
 * and a statement of another type is never accepted as one whoever signed it.
 */
function isOtherStatement(envelope: Buffer): boolean {
  try {
    const { payload } = JSON.parse(envelope.toString('utf8')) as { payload?: unknown };
    if (typeof payload !== 'string') return false;
    const { predicateType } = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType?: unknown };
    return typeof predicateType === 'string' && predicateType !== COSIGN_SIGN_PREDICATE_TYPE;
  } catch {
    return false;
  }
}

/**
 * Adds to `outcome` the signatures cosign 3 stored as bundles (`envelopes`, from
 * bundleEnvelopeLayer): each signed by the key over a cosign sign statement about `digest`, with
 * each of `annotations` among its subject's annotations (`cosign sign -a`).
 */
export function checkBundleSignatures(outcome: VerifyOutcome, envelopes: AttachedLayer[], digest: Digest, verifier: Verifier, identity: string, annotations: Record<string, string> = {}): void {
  for (const { descriptor, payload, oversized } of envelopes) {
    // A bundle of an attestation (cosign 3 attest) is no signature, as a cosign sign statement is no attestation for verify-attestation.
    if (!oversized && isOtherStatement(payload)) continue;
    outcome.total++;
    if (oversized) {
      outcome.rejected.push(oversizedReason(descriptor));
      continue;
    }
    const checked = checkEnvelope(payload, digest, verifier, COSIGN_SIGN_PREDICATE_TYPE);
    if (typeof checked === 'string') {
      outcome.rejected.push(checked);
      continue;
    }
    const subject = checked.statement.subject.find((s) => s?.digest?.sha256 === digestHex(digest)) as { annotations?: Record<string, unknown> } | undefined;
    const claims = subject?.annotations && typeof subject.annotations === 'object' ? subject.annotations : null;
    const differs = Object.entries(annotations).filter(([key, value]) => claims?.[key] !== value);
    if (differs.length > 0) {
      outcome.rejected.push(`signed by this key without the annotation${differs.length === 1 ? '' : 's'} ${differs.map(([k, v]) => `${k}=${v}`).join(', ')}`);
      continue;
    }
    outcome.verified.push({ layer: descriptor.digest, dockerReference: identity, dockerManifestDigest: digest, optional: claims, bundle: true });
  }
}
