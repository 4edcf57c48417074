import { OcipushError } from '../errors.js';
import { digestHex, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { bytesBlob, type ArtifactBlob } from './attach.js';
import { COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE, makeStatement, pae, STATEMENT_V1 } from './attest.js';
import type { AttachedStore } from './cosign-tags.js';
import { publicKeyHint } from './blob-bundle.js';
import { signTargets } from './sign.js';
import type { Signer } from './signer.js';
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from './sigstore-bundle.js';

/**
 * What cosign 3 writes with `--new-bundle-format` (its default) for a key and no transparency log
 * (`--tlog-upload=false`): a Sigstore bundle v0.3 whose DSSE envelope holds an in-toto statement
 * (for `sign`, cosign's sign statement about the digest; for `attest`, the attestation's), the key
 * named only by its hint, stored as the one layer of an OCI 1.1 referrer of the image whose
 * artifactType is the bundle's media type (cosign's `WriteAttestationNewBundleFormat`). The JSON
 * is protojson's, the form cosign and sigstore-go read: fields in the order the .proto declares
 * them, bytes as base64, empty fields left out.
 */

/** The layer annotations cosign's WriteAttestationNewBundleFormat puts on the referrer manifest. */
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
const CREATED_ANNOTATION = 'org.opencontainers.image.created';

/** A bundle of a DSSE envelope of an in-toto `statement` (its exact bytes), signed by `signer`. */
export async function dsseBundle(statement: Buffer, signer: Signer): Promise<Buffer> {
  const material = await signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement));
  const verifier = signer.verifier?.();
  if (!verifier) throw new OcipushError('EUNSUPPORTED', `--new-bundle-format: a Sigstore bundle names the key that signed it, and a ${signer.kind} signer has none`);
  return Buffer.from(JSON.stringify({
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: publicKeyHint(verifier.description) } },
    // DSSE's keyid is empty, which protojson leaves out.
    dsseEnvelope: { payload: statement.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: material.signature.toString('base64') }] },
  }), 'utf8');
}

/**
 * The statement `cosign sign` makes for `digest` (signDigestBundle): the digest as the one
 * subject, `-a` annotations on it (protojson writes a Struct's keys sorted, and writes it empty
 * when there is none), predicate type `https://sigstore.dev/cosign/sign/v1`, an empty predicate.
 */
export function signStatement(digest: Digest, annotations: Record<string, string> = {}): Buffer {
  const sorted = Object.fromEntries(Object.keys(annotations).sort().map((k) => [k, annotations[k]]));
  return Buffer.from(JSON.stringify({
    _type: STATEMENT_V1,
    subject: [{ digest: { sha256: digestHex(digest) }, annotations: sorted }],
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    predicate: {},
  }), 'utf8');
}

/** Where a bundle goes: a referrer of `subject` (a registry's, or a layout's), its manifest's digest back. */
export type BundleSink = (subject: Descriptor, bundle: ArtifactBlob, annotations: Record<string, string>) => Promise<Digest>;

/** The bundle as the referrer's layer, and the manifest annotations cosign gives it; `created` is RFC 3339. */
export function bundleReferrer(bundle: Buffer, predicateType: string, created: string): { blob: ArtifactBlob; annotations: Record<string, string> } {
  return {
    blob: bytesBlob(bundle, SIGSTORE_BUNDLE_MEDIA_TYPE),
    annotations: { [CREATED_ANNOTATION]: created, [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope', [BUNDLE_PREDICATE_TYPE_ANNOTATION]: predicateType },
  };
}

export interface SignedBundle {
  digest: Digest;
  /** The referrer holding the bundle. */
  signatureManifest: Digest;
  /** A bundle is always a new referrer (cosign keeps no duplicate detector for them). */
  appended: true;
  bundle: true;
}

/**
 * `sign --new-bundle-format`: the manifest `target` names (and, `recursive`, every manifest under
 * it, as sign --recursive takes them), each signed as cosign 3 signs it, its bundle handed to `sink`.
 */
export async function signImageBundles(
  repo: Pick<AttachedStore, 'fetchManifest' | 'toString'>, target: string, signer: Signer, sink: BundleSink,
  options: { recursive?: boolean; annotations?: Record<string, string>; created: string },
): Promise<SignedBundle[]> {
  const targets = await signTargets(repo, target, options.recursive);
  const signed: SignedBundle[] = [];
  for (const desc of targets) {
    const bundle = await dsseBundle(signStatement(desc.digest, options.annotations), signer);
    const { blob, annotations } = bundleReferrer(bundle, COSIGN_SIGN_PREDICATE_TYPE, options.created);
    signed.push({ digest: desc.digest, signatureManifest: await sink(desc, blob, annotations), appended: true, bundle: true });
  }
  return signed;
}

/**
 * `attest --new-bundle-format`: the statement attest makes (about `subject`, named `name`), in a
 * bundle handed to `sink`, as cosign 3 attests: no `.att`, the bundle the only copy.
 */
export async function attestImageBundle(name: string, subject: Descriptor, signer: Signer, predicateType: string, predicate: unknown, created: string, sink: BundleSink): Promise<{ digest: Digest; predicateType: string; referrer: Digest; bundle: true }> {
  const bundle = await dsseBundle(makeStatement(name, subject.digest, predicateType, predicate), signer);
  const { blob, annotations } = bundleReferrer(bundle, predicateType, created);
  return { digest: subject.digest, predicateType, referrer: await sink(subject, blob, annotations), bundle: true };
}
