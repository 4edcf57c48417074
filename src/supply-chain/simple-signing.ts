import { OcipushError } from '../errors.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { DOCKER_HUB, type Reference } from '../oci/reference.js';
import { goJson } from './go-json.js';

/** The media type of the layer that carries a cosign simple-signing payload. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The layer annotation holding the base64 signature over the payload bytes. */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

/**
 * The repository name as cosign writes it into `docker-reference` (go-containerregistry's
 * `ref.Context().Name()`): no tag, no digest, Docker Hub spelled `index.docker.io`.
 */
export function signedIdentity(ref: Pick<Reference, 'registry' | 'repository'>): string {
  const registry = ref.registry === DOCKER_HUB ? 'index.docker.io' : ref.registry;
  return `${registry}/${ref.repository}`;
}

/**
 * The payload bytes cosign signs, byte for byte: Go's encoding/json of payload.Cosign
 * (critical.identity, critical.image, critical.type, then optional — `null` without annotations,
 * else the annotations with their keys sorted, as Go writes a map).
 */
export function simpleSigningPayload(identity: string, digest: Digest, annotations: Record<string, string> = {}): Buffer {
  const optional = Object.keys(annotations).length === 0 ? null : annotations;
  const payload: SimpleSigningPayload = {
    critical: { identity: { 'docker-reference': identity }, image: { 'docker-manifest-digest': digest }, type: SIMPLE_SIGNING_TYPE },
    optional,
  };
  return Buffer.from(goJson(payload), 'utf8');
}

/** Parses a payload as cosign's verifier does; the caller compares the digest. */
export function parseSimpleSigningPayload(bytes: Uint8Array, what: string): SimpleSigningPayload {
  let value: SimpleSigningPayload;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8')) as SimpleSigningPayload;
  } catch {
    throw new OcipushError('EINVALID', `${what}: the signed payload is not JSON`);
  }
  const critical = value?.critical;
  if (!critical || typeof critical !== 'object') throw new OcipushError('EINVALID', `${what}: the signed payload has no "critical" section`);
  if (critical.type !== SIMPLE_SIGNING_TYPE) throw new OcipushError('EINVALID', `${what}: the signed payload's type is "${String(critical.type)}", not "${SIMPLE_SIGNING_TYPE}"`);
  if (!isDigest(critical.image?.['docker-manifest-digest'])) throw new OcipushError('EINVALID', `${what}: the signed payload names no manifest digest`);
  if (typeof critical.identity?.['docker-reference'] !== 'string') throw new OcipushError('EINVALID', `${what}: the signed payload names no docker-reference`);
  return value;
}
