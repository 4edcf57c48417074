import type { VerifiedSignature } from '../supply-chain/sign.js';
import { COSIGN_SIGN_PREDICATE_TYPE, type VerifiedAttestation } from '../supply-chain/attest.js';
import { SIMPLE_SIGNING_TYPE } from '../supply-chain/simple-signing.js';
import { GoEncoded, goJson } from '../supply-chain/go-json.js';

/**
 * What `cosign verify -o json|text` and `cosign verify-attestation` print on stdout (cosign's
 * PrintVerification), for the scripts written against it: `cosign verify … | jq '.[0].optional.sha'`,
 * `cosign verify-attestation … | jq -r .payload | base64 -d`. Its header lines go to stderr there
 * and are not part of it.
 */
export type CosignFormat = 'json' | 'text';

/**
 * `verify`'s: with json (cosign's default) one line after an empty one holding the array of the
 * verified payloads, each decoded into cosign's SimpleContainerImage and encoded again by Go
 * (critical's three fields in their order, `optional` null when the payload has none, its keys
 * sorted); with text each payload's own bytes on a line. A cosign 3 bundle has no simple-signing
 * payload: cosign prints what its transformOutput makes of the statement (the reference verified,
 * the subject's digest, the predicate type, the subject's annotations, `{}` without any).
 */
export function cosignVerifyOutput(verified: readonly VerifiedSignature[], format: CosignFormat, reference: string): string {
  const payloads = verified.map((v) => v.bundle || v.payload === undefined
    ? { critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': v.dockerManifestDigest }, type: COSIGN_SIGN_PREDICATE_TYPE }, optional: v.optional ?? {} }
    : { critical: { identity: { 'docker-reference': v.dockerReference }, image: { 'docker-manifest-digest': v.dockerManifestDigest }, type: SIMPLE_SIGNING_TYPE }, optional: withRekorBundle(v.optional, v.annotations) });
  if (format === 'json') return `\n${goJson(payloads)}\n`;
  return verified.map((v, i) => `${v.bundle || v.payload === undefined ? goJson(payloads[i]) : v.payload.toString('utf8')}\n`).join('');
}

/**
 * cosign adds to `optional` the Rekor bundle a signature layer carries (cosign 2 signs with a
 * transparency-log entry by default; `… | jq '.[0].optional.Bundle.Payload.logIndex'`), whether or
 * not the entry was checked, as its RekorBundle struct encodes: fields in their declared order.
 * One that does not parse is left out, as cosign leaves it.
 */
function withRekorBundle(optional: Record<string, unknown> | null, annotations: Record<string, string> = {}): Record<string, unknown> | null {
  const text = annotations[REKOR_BUNDLE_ANNOTATION];
  if (typeof text !== 'string') return optional;
  let bundle: { SignedEntryTimestamp?: unknown; Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } };
  try {
    bundle = JSON.parse(text) as typeof bundle;
  } catch {
    return optional;
  }
  if (bundle === null || typeof bundle !== 'object' || bundle.Payload === null || typeof bundle.Payload !== 'object') return optional;
  const p = bundle.Payload ?? {};
  const encoded = new GoEncoded(`{"SignedEntryTimestamp":${goJson(bundle.SignedEntryTimestamp ?? '')},"Payload":{"body":${goJson(p.body ?? null)},`
    + `"integratedTime":${goJson(p.integratedTime ?? 0)},"logIndex":${goJson(p.logIndex ?? 0)},"logID":${goJson(p.logID ?? '')}}}`);
  return { ...(optional ?? {}), Bundle: encoded };
}

const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/**
 * `verify-attestation`'s, whatever `-o` says (cosign prints attestations as text always): each
 * verified DSSE envelope as it is stored, on a line of its own.
 */
export function cosignAttestationOutput(verified: readonly VerifiedAttestation[]): string {
  return verified.map((v) => `${v.envelope.toString('utf8')}\n`).join('');
}
