import { OcipushError } from '../errors.js';
import { digestAs, isDigest, sha256, type Digest } from '../oci/digest.js';
import { isForeignLayer, type Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES } from '../content/verify.js';
import type { RegistryClient, RegistryResponse, RequestTiming } from './http.js';
import { getWhole } from './whole-body.js';
import { pullScope, pushScope, v2Path } from './scopes.js';
import { headLength } from './blob-info.js';

/** Every manifest kind ocipush reads; registries serve a manifest only in a type the client accepts. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/**
 * `GET /v2/<name>/manifests/<tag|digest>`: the exact bytes, verified. By digest the bytes must hash
 * to it; by tag they must hash to the registry's Docker-Content-Digest when it sends one.
 */
export async function fetchManifest(client: RegistryClient, repository: string, reference: string, timing: RequestTiming = {}, options: { keepSchema1?: boolean } = {}): Promise<FetchedManifest> {
  const op = `fetch manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  const { res, bytes } = await getWhole(client, {
    ...timing, url: v2Path(repository, `manifests/${reference}`), op, scopes: [pullScope(repository)], headers: { accept: MANIFEST_ACCEPT },
  }, MAX_MANIFEST_BYTES);
  const name = `${client.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  if (options.keepSchema1) {
    const schema1 = schema1Descriptor(res, bytes, name);
    if (schema1) return { descriptor: schema1, bytes };
  }
  refuseSchema1(res, bytes, name);
  refuseNonJson(client, op, res, bytes);
  const actual = sha256(bytes);
  const expected = isDigest(reference) ? reference : res.header('docker-content-digest');
  // A sha512 name, asked for or the registry's, is checked by sha512: a pull by digest gets those bytes or nothing.
  const got = !expected || !isDigest(expected) ? undefined : expected.startsWith('sha256:') ? actual : digestAs(expected, bytes);
  if (got !== undefined && got !== expected) {
    throw new OcipushError('EDIGEST', `${client.registry}: ${op}: content has digest ${got}, the registry says ${expected}`, { digest: expected });
  }
  return { descriptor: { mediaType: manifestMediaType(res, bytes), digest: actual, size: bytes.length }, bytes };
}

/**
 * Every manifest is a JSON object. Anything else answered 200 is a page a proxy, a captive portal
 * or a login wall put in the registry's place: loaded as a manifest, its digest was then asked for
 * as a blob, and the user read "404 BLOB_UNKNOWN" about a blob no image names.
 */
function refuseNonJson(client: RegistryClient, op: string, res: RegistryResponse, bytes: Buffer): void {
  const text = bytes.toString('utf8', 0, Math.min(bytes.length, 4096));
  if (text.trimStart().startsWith('{')) return;
  const type = res.header('content-type')?.split(';')[0]?.trim() || 'no content type';
  const title = /<title>([^<]{1,120})<\/title>/i.exec(text)?.[1]?.replace(/\s+/g, ' ').trim();
  const what = title ? `an HTML page "${title}"` : `${bytes.length} bytes of ${type}`;
  throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry answered ${res.status} with ${what}, not a manifest (a proxy or login page in front of it?)`, { status: res.status });
}

/**
 * `HEAD /v2/<name>/manifests/<tag|digest>`: the descriptor without the body, or undefined when it
 * does not exist. Falls back to GET when the registry leaves out the digest or the size (some do on HEAD), or
 * does not serve HEAD on manifests at all (405 or 501: older Quay and Artifactory), as crane does.
 */
export async function headManifest(client: RegistryClient, repository: string, reference: string, timing: RequestTiming = {}, scope = pullScope(repository)): Promise<Descriptor | undefined> {
  const res = await client.request({
    ...timing,
    method: 'HEAD',
    url: v2Path(repository, `manifests/${reference}`),
    op: `check manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`,
    scopes: [scope],
    headers: { accept: MANIFEST_ACCEPT },
    accept: (s) => s === 200 || s === 404 || HEAD_NOT_SERVED.has(s),
  });
  await res.dump();
  if (res.status === 404) return undefined;
  if (HEAD_NOT_SERVED.has(res.status)) return getManifestDescriptor(client, repository, reference, timing);
  const answered = res.header('docker-content-digest');
  if (answered && isDigest(reference) && answered !== reference) {
    // Another algorithm may name the same bytes: the bytes decide. The same one naming others is a mismatch, never "already there".
    if (answered.split(':')[0] !== reference.split(':')[0]) return (await fetchManifest(client, repository, reference, timing)).descriptor;
    throw new OcipushError('EDIGEST', `${client.registry}: check manifest ${repository}@${reference}: the registry answered for ${answered}`, { digest: reference });
  }
  const digest = answered ?? (isDigest(reference) ? reference : undefined);
  // No manifest is empty: a Content-Length of 0 is a proxy's HEAD answer, not the size.
  const size = headLength(res, undefined);
  const mediaType = res.header('content-type')?.split(';')[0]?.trim();
  if (!digest || !isDigest(digest) || size === undefined || !mediaType) {
    return (await fetchManifest(client, repository, reference, timing)).descriptor;
  }
  return { mediaType, digest: digest as Digest, size };
}

/** Answers that say the registry does not serve HEAD on manifests, though GET works. */
const HEAD_NOT_SERVED = new Set([405, 501]);

/** The descriptor by GET (the whole manifest, verified), or undefined when there is none. */
export async function getManifestDescriptor(client: RegistryClient, repository: string, reference: string, timing: RequestTiming): Promise<Descriptor | undefined> {
  try {
    return (await fetchManifest(client, repository, reference, timing)).descriptor;
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return undefined;
    throw err;
  }
}

/**
 * `PUT /v2/<name>/manifests/<tag|digest>` with the exact bytes and media type. The registry's
 * Docker-Content-Digest must be the digest of those bytes: anything else means it rewrote them.
 */
export async function putManifest(client: RegistryClient, repository: string, desc: Descriptor, bytes: Buffer, reference: string = desc.digest, timing: RequestTiming = {}): Promise<{ ociSubject?: string }> {
  const op = `push manifest ${desc.digest}${reference === desc.digest ? '' : ` as ${repository}:${reference}`}`;
  const deadline = timing.deadline ?? client.deadline();
  for (let retry = 1; ; retry++) {
    try {
      return await putManifestOnce(client, repository, desc, bytes, reference, op, { signal: timing.signal, deadline });
    } catch (err) {
      if (isTornLinkRead(err) && isDigest(reference) && !reference.startsWith('sha256:')) throw otherAlgorithmRefused(err as OcipushError, reference, `${client.registry}: ${op}`);
      if (!isTornLinkRead(err) || retry > client.retryPolicy.retries) throw foreignLayerRefused(err, bytes, `${client.registry}: ${op}`);
      const reason = 'the registry read a link another write was replacing (DIGEST_INVALID)';
      if (!await client.retryWait(op, retry, undefined, reason, { signal: timing.signal, deadline })) throw err;
    }
  }
}

/** The registry's answer: `OCI-Subject` when it has the referrers API and the manifest has a subject. */
async function putManifestOnce(client: RegistryClient, repository: string, desc: Descriptor, bytes: Buffer, reference: string, op: string, timing: RequestTiming): Promise<{ ociSubject?: string }> {
  const res = await client.request({
    ...timing,
    method: 'PUT',
    url: v2Path(repository, `manifests/${reference}`),
    op,
    scopes: [pushScope(repository)],
    headers: { 'content-type': desc.mediaType },
    body: bytes,
    accept: manifestStored,
  });
  await res.dump();
  const stored = res.header('docker-content-digest');
  // distribution names a manifest by its sha256 whatever the name it was sent under: a sha512 one's bytes are checked by it.
  if (stored && stored !== desc.digest && !(isDigest(stored) && digestAs(stored, bytes) === stored)) {
    throw new OcipushError('EDIGEST', `${client.registry}: ${op}: the registry stored it as ${stored}`, { digest: desc.digest });
  }
  const ociSubject = res.header('oci-subject');
  return ociSubject ? { ociSubject } : {};
}

/**
 * Whether a manifest PUT's status says the manifest is stored: any 2xx, as containerd, skopeo
 * and docker read it. The spec says 201, but Quay (and distribution before 2.1, whose spec then
 * said so) answer 202 Accepted for a manifest they stored.
 */
export function manifestStored(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * distribution's filesystem driver rewrites a link file in place (truncate, then write), and every
 * manifest PUT and blob commit rewrites the link of what it stores, even one already there. A
 * manifest PUT checking what it names meanwhile reads an empty link, and answers 400
 * `DIGEST_INVALID` (with `MANIFEST_BLOB_UNKNOWN` for the child or blob): what two pushes into one
 * repository at once meet, or `copy --all-tags` when one job PUTs an image another's index names.
 * The manifest's own digest was checked before sending, so DIGEST_INVALID here is the registry's
 * torn read, and the same PUT a moment later succeeds (retried as a 503 would be).
 */
function isTornLinkRead(err: unknown): boolean {
  return err instanceof OcipushError && err.details.status === 400 && (err.details.registryCodes?.includes('DIGEST_INVALID') ?? false);
}

/**
 * distribution hashes a manifest PUT by digest with sha256 alone, whatever algorithm the digest
 * names: a sha512 one is refused as DIGEST_INVALID every time, no torn read to wait out. Its
 * images go under a tag (then named by their sha256 there); an index naming its images by
 * sha512 cannot go at all.
 */
function otherAlgorithmRefused(err: OcipushError, reference: string, what: string): OcipushError {
  const algorithm = reference.slice(0, reference.indexOf(':'));
  return new OcipushError('EUNSUPPORTED', `${what}: the registry takes no manifest under a ${algorithm} digest (400 DIGEST_INVALID: it names manifests by sha256 only)`, { ...err.details, cause: err });
}

/**
 * A manifest refused because the registry does not hold a foreign layer it names (distribution
 * accepts foreign layers only with URLs its `validation.manifests.urls.allow` matches; otherwise
 * it answers 500 `MANIFEST_BLOB_UNKNOWN` naming the layer): said as such, with what to change.
 */
function foreignLayerRefused(err: unknown, bytes: Buffer, what: string): unknown {
  if (!(err instanceof OcipushError) || !err.details.registryCodes?.includes('MANIFEST_BLOB_UNKNOWN')) return err;
  let layers: Descriptor[] = [];
  try { layers = (JSON.parse(bytes.toString('utf8')) as { layers?: Descriptor[] }).layers ?? []; } catch { return err; }
  const named = new Set(err.details.registryDetails as string[] | undefined);
  const layer = layers.find((l) => isForeignLayer(l) && named.has(l.digest));
  if (!layer) return err;
  return new OcipushError('EREGISTRY', `${what}: the registry refuses the foreign layer ${layer.digest} (at ${layer.urls![0]}), which it does not hold (distribution takes one only when validation.manifests.urls.allow matches its URL)`, { ...err.details, digest: layer.digest, cause: err });
}

const SCHEMA1_MEDIA_TYPES = new Set(['application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.docker.distribution.manifest.v1+json']);

/**
 * A Docker schema 1 manifest (what registries still serve for images pushed before 2017, or to
 * clients that accept nothing newer) names no config and no layer descriptors: nothing ocipush
 * reads. Said in one line with the way out, rather than read as a blob the registry does not have.
 */
function refuseSchema1(res: RegistryResponse, bytes: Buffer, name: string): void {
  const header = res.header('content-type')?.split(';')[0]?.trim() ?? '';
  let schema1 = SCHEMA1_MEDIA_TYPES.has(header);
  if (!schema1 && bytes.length > 0 && bytes.length < 1024 * 1024 && bytes.includes('"schemaVersion"')) {
    try { schema1 = (JSON.parse(bytes.toString('utf8')) as { schemaVersion?: unknown }).schemaVersion === 1; } catch { /* judged by the caller */ }
  }
  if (!schema1) return;
  throw new OcipushError('EUNSUPPORTED', `${name} is a Docker schema 1 manifest (${header || 'schemaVersion 1'}), which ocipush does not read; convert it to schema 2 with skopeo copy --format v2s2`, { schema1: true });
}

/**
 * A schema 1 manifest as bytes to PUT again (tag): named by the registry's Docker-Content-Digest,
 * the digest of its payload without the signatures, which its bytes do not hash to.
 */
function schema1Descriptor(res: RegistryResponse, bytes: Buffer, name: string): Descriptor | undefined {
  try {
    refuseSchema1(res, bytes, name);
    return undefined;
  } catch (err) {
    if (!isSchema1Refusal(err)) throw err;
  }
  const digest = res.header('docker-content-digest');
  if (!digest || !isDigest(digest)) throw new OcipushError('EREGISTRY', `${name}: a Docker schema 1 manifest the registry names by no Docker-Content-Digest`);
  const asked = name.split('@')[1];
  if (asked !== undefined && asked !== digest) throw new OcipushError('EDIGEST', `${name}: the registry answered with ${digest}`, { digest: asked });
  return { mediaType: res.header('content-type')?.split(';')[0]?.trim() || 'application/vnd.docker.distribution.manifest.v1+prettyjws', digest: digest as Digest, size: bytes.length };
}

/** Whether an error is fetchManifest's refusal of a Docker schema 1 manifest. */
function isSchema1Refusal(err: unknown): boolean {
  return err instanceof OcipushError && err.details.schema1 === true;
}

function manifestMediaType(res: RegistryResponse, bytes: Buffer): string {
  const header = res.header('content-type')?.split(';')[0]?.trim();
  if (header && header !== 'application/json' && header !== 'application/octet-stream' && header !== 'text/plain') return header;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof value.mediaType === 'string') return value.mediaType;
    return Array.isArray(value.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  } catch {
    throw new OcipushError('EINVALID', `${res.url.host}: manifest at ${res.url.pathname} is not JSON`);
  }
}
