import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { Reference } from '../oci/reference.js';
import { appendAttached, type AttachedLayer, type AttachedStore, type AttachedTarget, oversizedReason, readAttached } from './cosign-tags.js';
import { parseSimpleSigningPayload, SIGNATURE_ANNOTATION, signedIdentity, SIMPLE_SIGNING_MEDIA_TYPE, simpleSigningPayload } from './simple-signing.js';
import type { Signer, Verifier } from './signer.js';
import { checkBundleSignatures } from './sigstore-bundle.js';
import type { ReferredSignatures } from './referrer-signatures.js';

export interface SignOptions {
  /** Sign every manifest of an index too (cosign sign --recursive). */
  recursive?: boolean;
  /** `optional` claims of the payload (cosign sign -a K=V). */
  annotations?: Record<string, string>;
  /** Blobs sent at once to a registry (the command's --concurrency). */
  concurrency?: number;
  /** Where the image is read, when its signatures are kept in another repository (cosign's COSIGN_REPOSITORY). */
  from?: Pick<AttachedStore, 'fetchManifest' | 'toString'>;
}

export interface SignedManifest {
  digest: Digest;
  /** The tag the signature went to (`sha256-<hex>.sig`). */
  tag: string;
  /** The digest of the signature image's manifest after this signature. */
  signatureManifest: Digest;
  /** False when this key had already signed the same payload with the same annotations (cosign's duplicate detector). */
  appended: boolean;
  /** The repository the payload names (critical.identity.docker-reference). */
  identity: string;
}

/**
 * Signs the manifest `reference` resolves to, always by digest, and stores the signature as
 * cosign does: a layer of the image at `sha256-<hex>.sig`, after the signatures already there.
 * Several repositories (`--sign-container-identity a,b`): one signature each, as cosign signs a
 * payload per identity.
 */
export async function signImage(
  repo: AttachedTarget, reference: Pick<Reference, 'registry' | 'repository'> | readonly Pick<Reference, 'registry' | 'repository'>[], target: string, signer: Signer, options: SignOptions = {},
): Promise<SignedManifest[]> {
  const targets = await signTargets(options.from ?? repo, target, options.recursive);
  const identities = (Array.isArray(reference) ? reference : [reference]).map((r: Pick<Reference, 'registry' | 'repository'>) => signedIdentity(r));
  const verifier = signer.verifier?.();
  const sameKey = verifier && ((l: AttachedLayer) => {
    const b64 = signatureOf(l.descriptor);
    return b64 !== undefined && verifier.verify(l.payload, Buffer.from(b64, 'base64'), {});
  });
  const signed: SignedManifest[] = [];
  for (const desc of targets) {
    for (const identity of identities) {
      const payload = simpleSigningPayload(identity, desc.digest, options.annotations);
      const material = await signer.sign(payload);
      const annotations = { [SIGNATURE_ANNOTATION]: material.signature.toString('base64'), ...material.annotations };
      const result = await appendAttached(repo, desc.digest, 'sig', { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, payload, annotations }, sameKey, undefined, options.concurrency);
      signed.push({ digest: desc.digest, tag: result.tag, signatureManifest: result.manifest.digest, appended: result.appended, identity });
    }
  }
  return signed;
}

/**
 * The manifest `target` names, and with `recursive` every manifest under it, an index among them
 * followed into in turn (an index before its own, as cosign's walk.SignedEntity signs them), each
 * digest once.
 */
export async function signTargets(repo: Pick<AttachedStore, 'fetchManifest' | 'toString'>, target: string, recursive?: boolean): Promise<Descriptor[]> {
  const fetched = await repo.fetchManifest(target);
  const targets: Descriptor[] = [fetched.descriptor];
  if (recursive) await addChildren(repo, fetched, `${repo}:${target}`, targets);
  return targets;
}

async function addChildren(repo: Pick<AttachedStore, 'fetchManifest' | 'toString'>, fetched: { bytes: Uint8Array; descriptor: Descriptor }, where: string, targets: Descriptor[]): Promise<void> {
  const manifest = parseManifest(fetched.bytes, where, fetched.descriptor.mediaType);
  if (!isIndex(manifest)) return;
  for (const child of manifest.manifests) {
    if (targets.some((t) => t.digest === child.digest)) continue;
    targets.push(child);
    if (isIndexMediaType(child.mediaType)) await addChildren(repo, await repo.fetchManifest(child.digest), `${repo}@${child.digest}`, targets);
  }
}

export interface VerifiedSignature {
  /** The payload layer's digest in the signature image. */
  layer: Digest;
  dockerReference: string;
  dockerManifestDigest: string;
  optional: Record<string, unknown> | null;
  /** Stored as cosign 3 stores it: a Sigstore bundle referring to the image. */
  bundle?: boolean;
  /** The simple-signing payload's bytes as signed (not for a bundle): what `cosign verify -o text` prints. */
  payload?: Buffer;
  /** The signature layer's annotations (cosign's Rekor bundle among them, which `cosign verify -o json` shows). */
  annotations?: Record<string, string>;
}

export interface VerifyOutcome {
  digest: Digest;
  verified: VerifiedSignature[];
  /** Why each other signature was not accepted, for the one-line message. */
  rejected: string[];
  /** How many signature layers the `.sig` image holds. */
  total: number;
}

/** Why nothing verified, for verify's one line: none there (`where`: where it looked, when not beside the image), or why each was refused. */
export function unverifiedReason(outcome: Pick<VerifyOutcome, 'total' | 'rejected'>, what: 'signature' | 'attestation', where = ''): string {
  return outcome.total === 0
    ? `no ${what}s found${where}`
    : `none of ${outcome.total} ${what}${outcome.total === 1 ? '' : 's'} verifies: ${[...new Set(outcome.rejected)].join('; ')}`;
}

/**
 * Checks every signature at `sha256-<hex>.sig` against the key, then its payload against the
 * digest (cosign's order: a signature by another key says nothing about its payload); with
 * `referred`, what the image's referrers hold too: the signatures cosign stores as an OCI 1.1
 * referrer (`--registry-referrers-mode=oci-1-1`), checked as `.sig`'s, one kept both ways counted
 * once, and the envelopes of the Sigstore bundles cosign 3 stores as referrers.
 */
export async function verifyImage(
  repo: AttachedStore, digest: Digest, verifier: Verifier, annotations?: Record<string, string>,
  referred?: { found: Pick<ReferredSignatures, 'bundles' | 'signatures'> | Promise<Pick<ReferredSignatures, 'bundles' | 'signatures'>>; identity: string },
): Promise<VerifyOutcome> {
  // The referrers are read beside .sig; what keeps them from being read fails verify only when .sig has no valid signature.
  const [{ layers }, found] = await Promise.all([readAttached(repo, digest, 'sig'), Promise.resolve(referred?.found ?? { bundles: [], signatures: [] }).catch((err: unknown) => err as Error)]);
  if (found instanceof Error) {
    const outcome = checkSignatures(layers, digest, verifier, `${repo}@${digest}`, annotations);
    if (outcome.verified.length === 0) throw found;
    return outcome;
  }
  const signature = (l: AttachedLayer) => `${l.descriptor.digest} ${l.descriptor.annotations?.[SIGNATURE_ANNOTATION] ?? ''}`;
  const tagged = new Set(layers.map(signature));
  const outcome = checkSignatures([...layers, ...found.signatures.filter((l) => !tagged.has(signature(l)))], digest, verifier, `${repo}@${digest}`, annotations);
  // cosign 3's default: the signature as a Sigstore bundle among the image's referrers.
  if (referred) checkBundleSignatures(outcome, found.bundles, digest, verifier, referred.identity, annotations);
  return outcome;
}

/**
 * A layer's base64 signature. The manifest is another tool's JSON (a registry that does not check
 * annotation types, a layout written by hand): a number or an object there is no signature.
 */
function signatureOf(descriptor: Descriptor): string | undefined {
  const value: unknown = descriptor.annotations?.[SIGNATURE_ANNOTATION];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The signatures among `layers` that `verifier`'s key made over a payload for `digest`; with
 * `annotations`, only those whose payload's optional claims hold each pair (as `cosign verify -a`).
 */
export function checkSignatures(layers: AttachedLayer[], digest: Digest, verifier: Verifier, what: string, annotations: Record<string, string> = {}): VerifyOutcome {
  const outcome: VerifyOutcome = { digest, verified: [], rejected: [], total: 0 };
  for (const { descriptor, payload, oversized } of layers) {
    if (descriptor.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
    outcome.total++;
    if (oversized) { outcome.rejected.push(oversizedReason(descriptor)); continue; }
    const b64 = signatureOf(descriptor);
    if (!b64) { outcome.rejected.push(`a signature layer without a signature (its ${SIGNATURE_ANNOTATION} is ${JSON.stringify(descriptor.annotations?.[SIGNATURE_ANNOTATION] ?? null)})`); continue; }
    if (!verifier.verify(payload, Buffer.from(b64, 'base64'), descriptor.annotations ?? {})) {
      outcome.rejected.push('not signed by this key');
      continue;
    }
    let parsed;
    try {
      parsed = parseSimpleSigningPayload(payload, what);
    } catch (err) {
      outcome.rejected.push((err as Error).message);
      continue;
    }
    const signedDigest = parsed.critical.image['docker-manifest-digest'];
    if (signedDigest !== digest) {
      outcome.rejected.push(`signed by this key for another image (${signedDigest})`);
      continue;
    }
    const differs = Object.entries(annotations).filter(([key, value]) => parsed.optional?.[key] !== value);
    if (differs.length > 0) {
      outcome.rejected.push(`signed by this key without the annotation${differs.length === 1 ? '' : 's'} ${differs.map(([k, v]) => `${k}=${v}`).join(', ')}`);
      continue;
    }
    outcome.verified.push({ layer: descriptor.digest, dockerReference: parsed.critical.identity['docker-reference'], dockerManifestDigest: signedDigest, optional: parsed.optional ?? null, payload, annotations: descriptor.annotations ?? {} });
  }
  return outcome;
}
