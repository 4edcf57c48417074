import { OcipushError } from '../errors.js';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES } from '../content/verify.js';
import type { RegistryClient, RegistryResponse } from './http.js';
import { getWhole } from './whole-body.js';
import { deleteManifest } from './delete.js';
import { manifestStored } from './manifests.js';
import { pullScope, pushScope, v2Path } from './scopes.js';
import { addToTagIndex, readTagIndex, SYSTEM_CLOCK, type SettleClock, type TagIndex } from './referrers-tag-index.js';
import { nextLink } from './tags.js';

export { readTagIndex, referrersTag, removeFromTagIndex, type SettleClock, type TagIndex } from './referrers-tag-index.js';

/**
 * OCI 1.1 referrers, both ways the distribution spec allows: the referrers API
 * (`GET /v2/<name>/referrers/<digest>`; a manifest PUT with `subject` answered with `OCI-Subject`)
 * where the registry has it, else the referrers tag schema: the tag `sha256-<hex>` names an image
 * index of the referrers, which clients update read–modify–write.
 */

export type ReferrersMethod = 'api' | 'tag-schema';

export interface ReferrersList {
  via: ReferrersMethod;
  /** Descriptors of the manifests whose subject is the digest (artifactType and annotations included). */
  manifests: Descriptor[];
}

const MAX_PAGES = 100;

/**
 * What refers to `digest`: the referrers API when the registry answers it (following `Link`
 * pages), else the tag schema's index (empty when that tag does not exist either).
 */
export async function listReferrers(client: RegistryClient, repository: string, digest: Digest, options: { artifactType?: string } = {}): Promise<ReferrersList> {
  const api = await listViaApi(client, repository, digest, options.artifactType);
  const manifests = api ?? (await readTagIndex(client, repository, digest)).index.manifests;
  const filtered = options.artifactType === undefined ? manifests : manifests.filter((m) => m.artifactType === options.artifactType);
  return { via: api ? 'api' : 'tag-schema', manifests: filtered };
}

async function listViaApi(client: RegistryClient, repository: string, digest: Digest, artifactType?: string): Promise<Descriptor[] | undefined> {
  let url: string | URL = v2Path(repository, `referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`);
  const op = `list referrers of ${repository}@${digest}`;
  const out: Descriptor[] = [];
  // A next link back to a page already read (or to the same entries under a new URL) is a loop:
  // followed, every referrer came back once a round, a hundred times over, and nothing said so.
  const seen = new Set<string>();
  let previous: string | undefined;
  for (let page = 0; ; page++) {
    const key = String(url);
    if (seen.has(key)) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry sent the same page twice (${key})`);
    seen.add(key);
    if (page >= MAX_PAGES) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: more than ${MAX_PAGES} pages`);
    const isIndexAnswer = (r: RegistryResponse) => r.status === 200 && (r.header('content-type') ?? '').startsWith(MediaType.OciIndex);
    const { res, bytes } = await getWhole(client, {
      url, op, scopes: [pullScope(repository)],
      headers: { accept: MediaType.OciIndex },
      // 404: no API (or, by the spec, never for a supported API: it answers an empty index). 400/405: an API-less proxy.
      accept: (s) => s === 200 || s === 404 || s === 400 || s === 405,
    }, MAX_MANIFEST_BYTES, isIndexAnswer);
    if (!isIndexAnswer(res)) {
      if (page === 0) return undefined;
      // The pages read are not all of the list: returned as if they were, referrers went missing unsaid.
      throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: page ${page + 1} (${key}) answered ${res.status}, not an image index`);
    }
    const index = parseManifest(bytes, `${client.registry}/${repository}: referrers of ${digest}`, MediaType.OciIndex);
    if (!isIndex(index)) throw new OcipushError('EINVALID', `${client.registry}/${repository}: referrers of ${digest}: not an image index`);
    const entries = JSON.stringify(index.manifests);
    if (index.manifests.length > 0 && entries === previous) throw new OcipushError('EREGISTRY', `${client.registry}: ${op}: the registry sent the same page twice (${key})`);
    previous = entries;
    out.push(...index.manifests);
    const next = nextLink(res.headerAll('link'));
    if (!next) return out;
    url = client.resolve(next, res.url);
  }
}

export interface PushReferrerResult {
  via: ReferrersMethod;
  /** With the tag schema: how many times the index was written (more than once after a concurrent update). */
  indexWrites: number;
}

/** A referrer manifest to make findable; `alreadyStored`: the registry had it before this push. */
export interface ReferrerToPush {
  descriptor: Descriptor;
  bytes: Buffer;
  alreadyStored?: boolean;
}

/**
 * Pushes a manifest whose `subject` is `subject`, by digest, and makes it findable: a registry
 * with the referrers API says so with `OCI-Subject` and indexes it itself; otherwise the
 * `sha256-<hex>` index is updated (see pushReferrers).
 */
export async function pushReferrer(
  client: RegistryClient, repository: string, manifest: { descriptor: Descriptor; bytes: Buffer; subject: Digest },
  options: { alreadyStored?: boolean } = {},
): Promise<PushReferrerResult> {
  const { subject, ...referrer } = manifest;
  const [result] = await pushReferrers(client, repository, subject, [{ ...referrer, alreadyStored: options.alreadyStored ?? false }]);
  return result!;
}

/**
 * Pushes the manifests of several referrers of `subject` at once and makes them findable with
 * one update of the tag index for all of them: each update is a read, a write and a read back,
 * three round trips a referrer would otherwise pay in turn. The update is a conditional PUT
 * (If-Match / If-None-Match) retried on 412; registries that ignore preconditions (docker-registry
 * 2.8) are covered by reading the index back after a settle and merging again when an entry went
 * missing. `tagIndex`: the index as the caller already read it, to know which referrers it lists
 * (the update reads it again, right before writing). `clock`: what the settle is waited by.
 */
export async function pushReferrers(
  client: RegistryClient, repository: string, subject: Digest, referrers: ReferrerToPush[],
  options: { tagIndex?: TagIndex; clock?: SettleClock } = {},
): Promise<PushReferrerResult[]> {
  // A re-push: a manifest the registry has and the tag index lists needs nothing more (one GET,
  // not a PUT and a GET). Not listed (a registry with the referrers API keeps no such index), the
  // PUT below learns from its OCI-Subject answer which way the registry takes it.
  const current = options.tagIndex ?? (referrers.some((r) => r.alreadyStored) ? await readTagIndex(client, repository, subject) : undefined);
  const listed = new Set(current?.index.manifests.map((m) => m.digest));
  const placed = await Promise.all(referrers.map(async (r): Promise<'listed' | 'api' | 'index'> => {
    if (r.alreadyStored && listed.has(r.descriptor.digest)) return 'listed';
    return (await putAnsweringSubject(client, repository, r.descriptor, r.bytes)) === subject ? 'api' : 'index';
  }));
  const entries = referrers.filter((_, i) => placed[i] === 'index').map((r) => referrerDescriptor(r.descriptor, r.bytes));
  const tried = { write: false };
  const indexWrites = entries.length > 0
    ? await addToTagIndex(client, repository, subject, entries, tried, options.clock ?? SYSTEM_CLOCK).catch(async (err: unknown) => {
      await withdrawUnlisted(client, repository, subject, referrers.filter((r, i) => placed[i] === 'index' && !r.alreadyStored).map((r) => r.descriptor.digest), err, tried.write);
      return 1;
    })
    : 0;
  return placed.map((p) => ({ via: p === 'api' ? 'api' : 'tag-schema', indexWrites: p === 'index' ? indexWrites : 0 }));
}

/**
 * The tag index could not be updated (the registry refused the write for good, or kept failing,
 * or the index could not be read): the referrer manifests this push stored would stay in the
 * registry, named by nothing and found by no one. After a write was tried, read back first: one
 * whose answer was lost may have listed them (then all is done, and deleting them would leave the
 * index naming manifests that are gone). Those still unlisted are deleted again, so a failed
 * attach leaves the registry as it was (its blobs aside, as a failed push leaves them), where
 * oras-go and regclient leave them stored. What cannot be read back or deleted is named in the
 * error, with the way to remove it.
 */
async function withdrawUnlisted(client: RegistryClient, repository: string, subject: Digest, stored: Digest[], err: unknown, written: boolean): Promise<void> {
  if (!(err instanceof OcipushError) || err.code === 'EABORTED' || stored.length === 0) throw err;
  let listed = new Set<string>();
  try {
    if (written) listed = new Set((await readTagIndex(client, repository, subject)).index.manifests.map((m) => m.digest));
  } catch {
    throw withNote(err, `${stored.join(', ')} stored, maybe unlisted`, client, repository, stored);
  }
  const unlisted = stored.filter((d) => !listed.has(d));
  if (unlisted.length === 0) return;
  const kept: Digest[] = [];
  for (const digest of unlisted) {
    try {
      await deleteManifest(client, repository, digest);
    } catch (deleteErr) {
      if (deleteErr instanceof OcipushError && deleteErr.code === 'EABORTED') throw deleteErr;
      kept.push(digest);
    }
  }
  if (kept.length > 0) throw withNote(err, `${kept.join(', ')} stored, not listed`, client, repository, kept);
  throw new OcipushError(err.code, `${err.message} (${unlisted.join(', ')} not added: deleted again)`, { ...err.details, cause: err });
}

function withNote(err: OcipushError, what: string, client: RegistryClient, repository: string, digests: Digest[]): OcipushError {
  const remove = digests.map((d) => `ocipush delete ${client.registry}/${repository}@${d}`).join('; ');
  return new OcipushError(err.code, `${err.message} (${what}: ${remove} removes ${digests.length === 1 ? 'it' : 'them'})`, { ...err.details, cause: err });
}

/** PUTs a manifest by digest; the registry's `OCI-Subject` answer, if any. */
async function putAnsweringSubject(client: RegistryClient, repository: string, descriptor: Descriptor, bytes: Buffer): Promise<string | undefined> {
  const res = await client.request({
    method: 'PUT', url: v2Path(repository, `manifests/${descriptor.digest}`), op: `push manifest ${descriptor.digest}`,
    scopes: [pushScope(repository)], headers: { 'content-type': descriptor.mediaType }, body: bytes,
    accept: manifestStored,
  });
  await res.dump();
  const stored = res.header('docker-content-digest');
  if (stored && stored !== descriptor.digest) throw new OcipushError('EDIGEST', `${client.registry}/${repository}: manifest ${descriptor.digest} was stored as ${stored}`);
  return res.header('oci-subject');
}

/** The index entry for a referrer: its artifactType (else its config's media type) and annotations. */
export function referrerDescriptor(descriptor: Descriptor, bytes: Buffer): Descriptor {
  const m = JSON.parse(bytes.toString('utf8')) as { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
  const artifactType = m.artifactType ?? m.config?.mediaType;
  return {
    mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size,
    ...(artifactType ? { artifactType } : {}),
    ...(m.annotations && Object.keys(m.annotations).length > 0 ? { annotations: m.annotations } : {}),
  };
}

/** Reads `subject` digests a manifest declares, for callers that push manifests of unknown origin. */
export function subjectOf(bytes: Buffer): Digest | undefined {
  try {
    const m = JSON.parse(bytes.toString('utf8')) as { subject?: { digest?: unknown } };
    return isDigest(m.subject?.digest) ? m.subject.digest : undefined;
  } catch {
    return undefined;
  }
}
