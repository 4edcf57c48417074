import { OcipushError } from '../errors.js';
import { digestHex, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { Reference } from '../oci/reference.js';
import type { Repository } from '../registry/repository.js';
import { attachArtifact, bytesBlob, type ArtifactBlob } from './attach.js';
import { appendAttached, MAX_PAYLOAD_BYTES, oversizedReason, readAttached, type AttachedLayer, type AttachedStore } from './cosign-tags.js';
import { SIGNATURE_ANNOTATION, signedIdentity } from './simple-signing.js';
import type { Signer, Verifier } from './signer.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { deleteRegistryReferrersOfType, layersOfType } from './replace-attestations.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** The statement type cosign writes (for every --type); ours only for a predicate that is text. */
export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
/** The predicate type of cosign 3's image signatures (its `types.CosignSignPredicateType`). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** The layer annotation cosign puts the predicate type in. */
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';

/**
 * The largest predicate attest reads: the envelope holds the statement in base64 (4/3 of it), and
 * one above MAX_PAYLOAD_BYTES is what neither verify-attestation nor cosign reads back.
 */
export const MAX_PREDICATE_BYTES = Math.floor(MAX_PAYLOAD_BYTES / 4) * 3;

/** cosign attest --type shorthands; anything else must be a URI. */
const PREDICATE_TYPES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

export function predicateTypeUri(type: string): string {
  const known = PREDICATE_TYPES[type];
  if (known) return known;
  if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(type)) throw new OcipushError('EUSAGE', `--type "${type}": expected a URI or one of ${Object.keys(PREDICATE_TYPES).join(', ')}`);
  return type;
}

/**
 * The statement's predicate from the bytes of `--predicate`, as cosign's GenerateStatement makes
 * it: for its generic type (`custom`, the default) the text wrapped as `{Data, Timestamp}` (any
 * text, JSON or not; policies read `predicate.Data`); for `spdx` the document as a string (which
 * makeStatement puts in a Statement v0.1, as cosign does); for every other type the JSON as it
 * is. `timestamp` is RFC 3339, UTC, whole seconds.
 */
export function predicateFrom(type: string, text: string, source: string, timestamp: () => string): unknown {
  const uri = predicateTypeUri(type);
  if (uri === PREDICATE_TYPES.custom) return { Data: text, Timestamp: timestamp() };
  if (type === 'spdx') return text;
  let predicate: unknown;
  try {
    predicate = JSON.parse(text) as unknown;
  } catch {
    throw new OcipushError('EUSAGE', `--predicate ${source}: not JSON (a --type ${type} predicate is a JSON document; --type custom takes any text)`);
  }
  // in-toto's predicate is an object; cosign refuses anything else, and could not read back a statement holding it.
  if (predicate === null || typeof predicate !== 'object' || Array.isArray(predicate)) {
    const kind = predicate === null ? 'null' : Array.isArray(predicate) ? 'an array' : `a ${typeof predicate}`;
    throw new OcipushError('EUSAGE', `--predicate ${source}: ${kind}, not a JSON object (a --type ${type} predicate is one, as in-toto has it; --type custom takes any text)`);
  }
  return predicate;
}

export interface Statement {
  _type: string;
  subject: { name: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: unknown;
}

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** DSSE's pre-authentication encoding: what is actually signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export function makeStatement(name: string, digest: Digest, predicateType: string, predicate: unknown): Buffer {
  // v1 requires the predicate be an object, and strict v1 parsers (in-toto-golang's protojson)
  // refuse a string; cosign writes the SPDX tag-value text as v0.1, whose parsers take any value.
  const _type = typeof predicate === 'string' ? STATEMENT_V01 : STATEMENT_V1;
  const statement: Statement = { _type, subject: [{ name, digest: { sha256: digestHex(digest) } }], predicateType, predicate };
  return Buffer.from(JSON.stringify(statement), 'utf8');
}

export async function signEnvelope(signer: Signer, payloadType: string, payload: Buffer): Promise<Buffer> {
  const material = await signer.sign(pae(payloadType, payload));
  const envelope: Envelope = { payloadType, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: material.signature.toString('base64') }] };
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

export interface AttestResult {
  digest: Digest;
  predicateType: string;
  /** The `sha256-<hex>.att` tag. */
  tag: string;
  /** The OCI 1.1 referrer's manifest digest. */
  referrer: Digest;
  /** With `--replace`: the earlier attestations of the type taken out of `.att`, and their referrers removed. */
  replaced?: { att: number; referrers: number };
}

/**
 * An in-toto statement (v1; v0.1 for a text predicate) about `subject`, signed in a DSSE
 * envelope, stored as cosign stores attestations (a layer of `sha256-<hex>.att`) and as an OCI
 * 1.1 referrer of the image.
 */
export async function attestImage(
  repo: Repository, reference: Reference, subject: Descriptor, signer: Signer, predicateType: string, predicate: unknown, replace = false,
  /** Blobs sent at once (the command's --concurrency). */
  concurrency?: number,
): Promise<AttestResult> {
  const made = await signedAttestation(signedIdentity(reference), subject, signer, predicateType, predicate);
  // cosign's --replace: the earlier ones of the type leave .att as the new one enters it.
  const drop = replace ? layersOfType((await readAttached(repo, subject.digest, 'att')).layers, predicateType) : undefined;
  const stored = await appendAttached(repo, subject.digest, 'att', made.attached, undefined, drop, concurrency);
  const referrer = await attachArtifact(repo, subject, DSSE_MEDIA_TYPE, [made.blob], made.referrerAnnotations, {}, concurrency);
  // Removed once the new one is stored: a failure never leaves the image without one.
  const referrers = replace ? await deleteRegistryReferrersOfType(repo.client, repo.name, subject.digest, predicateType, referrer.manifest.digest) : 0;
  return { digest: subject.digest, predicateType, tag: stored.tag, referrer: referrer.manifest.digest, ...(drop ? { replaced: { att: drop.size, referrers } } : {}) };
}

/**
 * One attestation, ready to store both ways: the layer cosign's `.att` gets (the signature
 * annotation left empty, as cosign leaves it: the signature is inside the envelope) and the blob
 * and annotations of the OCI 1.1 referrer.
 */
export async function signedAttestation(subjectName: string, subject: Descriptor, signer: Signer, predicateType: string, predicate: unknown): Promise<{
  attached: { mediaType: string; payload: Buffer; annotations: Record<string, string> };
  blob: ArtifactBlob;
  referrerAnnotations: Record<string, string>;
}> {
  const statement = makeStatement(subjectName, subject.digest, predicateType, predicate);
  const envelope = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, statement);
  // Refused before anything is stored: attested, it would fail every verification as unread.
  if (envelope.length > MAX_PAYLOAD_BYTES) {
    throw new OcipushError('EUSAGE', `attestation of ${subjectName}: its signed envelope is ${envelope.length} bytes, above the ${MAX_PAYLOAD_BYTES / 1024 / 1024} MiB that verify-attestation and cosign read of one: nothing stored`);
  }
  const referrerAnnotations = { [PREDICATE_TYPE_ANNOTATION]: predicateType };
  return {
    attached: { mediaType: DSSE_MEDIA_TYPE, payload: envelope, annotations: { [SIGNATURE_ANNOTATION]: '', ...referrerAnnotations } },
    blob: bytesBlob(envelope, DSSE_MEDIA_TYPE, referrerAnnotations),
    referrerAnnotations,
  };
}

export interface VerifiedAttestation {
  predicateType: string;
  statement: Statement;
  /** The DSSE envelope's bytes as stored (a `.att` layer, a referrer's blob, a bundle's envelope): what `cosign verify-attestation` prints. */
  envelope: Buffer;
}

/** Every attestation at `sha256-<hex>.att` (and among `more`) signed by the key, about this digest, of `predicateType` when given. */
export async function verifyAttestations(
  repo: AttachedStore, digest: Digest, verifier: Verifier, predicateType?: string, more: AttachedLayer[] | Promise<AttachedLayer[]> = [],
): Promise<{ verified: VerifiedAttestation[]; rejected: string[]; total: number }> {
  // The referrers are read beside .att; what keeps them from being read (a sha256-<hex> tag that
  // holds no index) fails verify-attestation only when .att has no valid attestation, as for verify.
  const [{ layers: tagged }, others] = await Promise.all([readAttached(repo, digest, 'att'), Promise.resolve(more).catch((err: unknown) => err as Error)]);
  if (others instanceof Error) {
    const out = checkAttestations(tagged, digest, verifier, predicateType);
    if (out.verified.length === 0) throw others;
    return out;
  }
  // `more`: envelopes kept elsewhere (referrers); one stored both ways counts once.
  return checkAttestations([...tagged, ...others.filter((m) => !tagged.some((t) => t.descriptor.digest === m.descriptor.digest))], digest, verifier, predicateType);
}

function checkAttestations(layers: AttachedLayer[], digest: Digest, verifier: Verifier, predicateType?: string): { verified: VerifiedAttestation[]; rejected: string[]; total: number } {
  const out = { verified: [] as VerifiedAttestation[], rejected: [] as string[], total: 0 };
  for (const { descriptor, payload, oversized } of layers) {
    if (descriptor.mediaType !== DSSE_MEDIA_TYPE) continue;
    const why = oversized ? oversizedReason(descriptor) : checkEnvelope(payload, digest, verifier, predicateType);
    // A cosign 3 signature (a bundle of a cosign sign statement) is not an attestation unless asked for by type.
    if (typeof why !== 'string' && predicateType === undefined && why.predicateType === COSIGN_SIGN_PREDICATE_TYPE) continue;
    out.total++;
    if (typeof why === 'string') out.rejected.push(why);
    else out.verified.push(why);
  }
  return out;
}

export function checkEnvelope(bytes: Buffer, digest: Digest, verifier: Verifier, predicateType?: string): VerifiedAttestation | string {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(bytes.toString('utf8')) as Envelope;
  } catch {
    return 'not a DSSE envelope';
  }
  // Any field of another shape makes it no envelope (one attestation among others, never a crash of the whole check).
  if (typeof envelope?.payload !== 'string' || typeof envelope.payloadType !== 'string' || !Array.isArray(envelope.signatures)) return 'not a DSSE envelope';
  const payload = Buffer.from(envelope.payload, 'base64');
  const signed = pae(envelope.payloadType, payload);
  if (!envelope.signatures.some((s) => typeof s?.sig === 'string' && verifier.verify(signed, Buffer.from(s.sig, 'base64'), {}))) return 'not signed by this key';
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return `payload type ${envelope.payloadType} is not in-toto`;
  let statement: Statement;
  try {
    statement = JSON.parse(payload.toString('utf8')) as Statement;
  } catch {
    return 'the statement is not JSON';
  }
  if (statement === null || typeof statement !== 'object') return 'the statement is not a JSON object';
  if (!/^https:\/\/in-toto\.io\/Statement\/v(1|0\.1)$/.test(String(statement._type))) return `statement type ${String(statement._type)} is not in-toto`;
  if (!Array.isArray(statement.subject) || !statement.subject.some((s) => s?.digest?.sha256 === digestHex(digest))) return 'signed by this key about another image';
  if (predicateType !== undefined && statement.predicateType !== predicateType) return `predicate type ${statement.predicateType}, not ${predicateType}`;
  return { predicateType: statement.predicateType, statement, envelope: bytes };
}
