import { OcipushError } from '../errors.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { isDigest, sha256, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { encodeJson, isIndex, parseManifest, type ImageIndex } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES } from '../content/verify.js';
import type { RegistryClient, RegistryResponse } from './http.js';
import { getWhole } from './whole-body.js';
import { deleteManifest } from './delete.js';
import { headManifest, MANIFEST_ACCEPT, manifestStored } from './manifests.js';
import { pullScope, pushScope, v2Path } from './scopes.js';
import { nextLink } from './tags.js';

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
const MAX_TAG_UPDATES = 8;
/** The settle before the index is read once more after a write (see addToTagIndex): this many times the write's read and PUT, within these bounds. */
const SETTLE_ROUND_TRIPS = 2;
const MIN_SETTLE_MS = 100;
const MAX_SETTLE_MS = 3_000;

/** The clock the tag index's settle is measured and waited by: the system's, or a test's. */
export interface SettleClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const SYSTEM_CLOCK: SettleClock = { now: () => performance.now(), sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms); }) };

/** `sha256-<hex>`: the referrers tag schema's tag for a digest. */
export function referrersTag(digest: Digest): string {
  return digest.replace(':', '-');
}

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

export interface TagIndex {
  index: ImageIndex;
  /** The ETag (or digest) of the index as read, for a conditional PUT; undefined when the tag is absent. */
  etag?: string;
  /** The digest of the index as read; undefined when the tag is absent. */
  digest?: Digest;
}

/** The referrers tag schema's index of `digest` as the registry has it (empty when the tag does not exist). */
export async function readTagIndex(client: RegistryClient, repository: string, digest: Digest): Promise<TagIndex> {
  const tag = referrersTag(digest);
  let res: RegistryResponse;
  let bytes: Buffer;
  for (let attempt = 1; ; attempt++) {
    ({ res, bytes } = await getWhole(client, {
      url: v2Path(repository, `manifests/${tag}`), op: `fetch referrers index ${repository}:${tag}`,
      scopes: [pullScope(repository)], headers: { accept: MANIFEST_ACCEPT }, accept: (s) => s === 200 || s === 404,
    }, MAX_MANIFEST_BYTES, (r) => r.status === 200 || r.status === 404));
    // The tag named an index deleted as we read it: another writer's, which moved the tag to its
    // new index first and then deleted the one it replaced (as we do, and oras). Taken for "no
    // index", the write that follows would name our referrers alone, every other entry dropped.
    if (res.status !== 404 || attempt >= MAX_TAG_UPDATES || !namesDeletedRevision(bytes)) break;
  }
  if (res.status === 404) return { index: emptyIndex() };
  const parsed = parseManifest(bytes, `${client.registry}/${repository}:${tag}`);
  if (!isIndex(parsed)) throw new OcipushError('EINVALID', `${client.registry}/${repository}:${tag}: the referrers tag holds an image manifest, not an index`);
  // A Docker manifest list there is some image's platforms, not referrers (the tag schema's index
  // is an OCI one): listed, each platform was taken for a referrer and copied as one; written back
  // under the OCI type, the registry refused it with a bare 400 MANIFEST_INVALID.
  if (parsed.mediaType !== MediaType.OciIndex) throw new OcipushError('EINVALID', `${client.registry}/${repository}:${tag}: the referrers tag holds a Docker manifest list, not an OCI image index`);
  return { index: parsed, etag: res.header('etag') ?? res.header('docker-content-digest'), digest: sha256(bytes) };
}

/**
 * A 404 that names the manifest a tag pointed to (distribution: detail `Revision`), not the tag
 * itself (detail `Tag`): the tag is there, the index it named just went.
 */
function namesDeletedRevision(body: Buffer): boolean {
  try {
    const { errors } = JSON.parse(body.toString('utf8')) as { errors?: { detail?: { Revision?: unknown } }[] };
    return Array.isArray(errors) && errors.some((e) => typeof e?.detail?.Revision === 'string');
  } catch {
    return false;
  }
}

function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
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
 * 2.8) are covered by reading the index back after writing and merging again when an entry went
 * missing. `tagIndex`: the index as the caller already read it (the first read is then saved).
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
    ? await addToTagIndex(client, repository, subject, entries, current, tried, options.clock ?? SYSTEM_CLOCK).catch(async (err: unknown) => {
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

async function addToTagIndex(
  client: RegistryClient, repository: string, subject: Digest, entries: Descriptor[], first: TagIndex | undefined, tried: { write: boolean }, clock: SettleClock,
): Promise<number> {
  const tag = referrersTag(subject);
  const gone = new Set<string>();
  const replaced = new Set<Digest>();
  let writes = 0;
  let settled = false;
  let roundTrip = 0;
  for (let round = 0, tries = 0; ; round++) {
    // Read (again after each write: the read-back that catches a concurrent writer whose
    // registry ignored our precondition), stop once every entry is there.
    const started = clock.now();
    const current = round === 0 && first ? first : await readTagIndex(client, repository, subject);
    const have = new Set(current.index.manifests.map((m) => m.digest));
    const missing = entries.filter((e) => !have.has(e.digest));
    if (missing.length === 0) {
      // Listed as we read it back. A writer that read the index before our write and writes it
      // after our read-back (a registry that ignores If-Match: docker-registry 2.8) drops our
      // entries unseen by either of us; its write lands within its own read-to-write time,
      // about ours, so the index read once more after twice that finds them gone, and they
      // go in again.
      if (writes === 0 || settled) {
        await deleteReplaced(client, repository, replaced, current);
        return writes;
      }
      await clock.sleep(Math.min(MAX_SETTLE_MS, Math.max(MIN_SETTLE_MS, SETTLE_ROUND_TRIPS * roundTrip)));
      settled = true;
      continue;
    }
    if (tries++ === MAX_TAG_UPDATES) break;
    settled = false;
    tried.write = true;
    if (await writeTagIndex(client, repository, tag, current, [...current.index.manifests, ...missing], gone) === 'written') {
      writes++;
      noteReplaced(replaced, current);
    }
    roundTrip = clock.now() - started;
  }
  throw new OcipushError('EREGISTRY', `${client.registry}/${repository}:${tag}: the referrers index kept changing; ${entries.map((e) => e.digest).join(', ')} could not be added after ${MAX_TAG_UPDATES} attempts`);
}

/**
 * PUTs the tag index as `manifests`, conditional on `current` (412: someone updated it since:
 * 'conflict', for the caller to read again and merge). An index still naming a referrer another
 * tool deleted without updating it (skopeo delete, crane delete) is refused by a registry that
 * checks an index's manifests (distribution: 400 MANIFEST_BLOB_UNKNOWN), every write of it, for
 * good: the entries that are gone go into `gone` and leave every later write ('pruned', for the
 * caller to try again); nothing gone, the registry's refusal stands.
 */
async function writeTagIndex(
  client: RegistryClient, repository: string, tag: string, current: TagIndex, manifests: Descriptor[], gone: Set<string>,
): Promise<'written' | 'conflict' | 'pruned'> {
  const kept = manifests.filter((m) => !gone.has(m.digest));
  const headers: Record<string, string> = { 'content-type': MediaType.OciIndex };
  if (current.etag) headers['if-match'] = quoteEtag(current.etag);
  else if (!current.digest) headers['if-none-match'] = '*';
  try {
    const res = await client.request({
      method: 'PUT', url: v2Path(repository, `manifests/${tag}`), op: `update referrers index ${repository}:${tag}`,
      scopes: [pushScope(repository)], headers, body: encodeJson({ ...current.index, manifests: kept }), accept: (s) => (s >= 200 && s < 300) || s === 412,
    });
    await res.dump();
    return res.status === 412 ? 'conflict' : 'written';
  } catch (err) {
    const codes = err instanceof OcipushError && err.details.status === 400 ? err.details.registryCodes ?? [] : [];
    if (!codes.includes('MANIFEST_BLOB_UNKNOWN') && !codes.includes('MANIFEST_UNKNOWN')) throw err;
    const missing: Descriptor[] = [];
    await eachAtMost(kept, DEFAULT_CONCURRENCY, async (m) => { if (!(await headManifest(client, repository, m.digest))) missing.push(m); });
    if (missing.length === 0) throw err;
    for (const m of missing) gone.add(m.digest);
    return 'pruned';
  }
}

/**
 * Takes a deleted referrer out of the tag schema's index of its subject: the distribution spec
 * leaves that index to the clients that push and delete referrers, and a stale entry names a
 * manifest that is gone. Written back as addToTagIndex writes; an index left empty is deleted
 * (as oras does) by the digest read, so one another client rewrote meanwhile stays. Whether the
 * index listed it.
 */
export async function removeFromTagIndex(client: RegistryClient, repository: string, subject: Digest, digest: Digest): Promise<boolean> {
  const tag = referrersTag(subject);
  const gone = new Set<string>();
  const replaced = new Set<Digest>();
  let listed = false;
  for (let round = 0; round < MAX_TAG_UPDATES; round++) {
    const current = await readTagIndex(client, repository, subject);
    const others = current.index.manifests.filter((m) => m.digest !== digest);
    if (others.length === current.index.manifests.length) {
      await deleteReplaced(client, repository, replaced, current);
      return listed;
    }
    listed = true;
    const kept = others.filter((m) => !gone.has(m.digest));
    if (kept.length === 0 && current.digest) {
      await deleteManifest(client, repository, current.digest);
      await deleteReplaced(client, repository, replaced, { index: emptyIndex() });
      return true;
    }
    if (await writeTagIndex(client, repository, tag, current, kept, gone) === 'written') noteReplaced(replaced, current);
  }
  throw new OcipushError('EREGISTRY', `${client.registry}/${repository}:${tag}: the referrers index kept changing; ${digest} could not be removed after ${MAX_TAG_UPDATES} attempts`);
}

/**
 * An index our write took the tag from. An empty one is not: its bytes are every subject's empty
 * index (oras writes one with SkipReferrersGC), and a delete by digest takes every tag naming them.
 */
function noteReplaced(replaced: Set<Digest>, current: TagIndex): void {
  if (current.digest && current.index.manifests.length > 0) replaced.add(current.digest);
}

/**
 * Deletes the indexes this update took the tag from, as oras does (unless SkipReferrersGC): no
 * tag names them any more, and a registry keeps an untagged manifest until a gc that deletes
 * untagged ones, which most never run; every attach left one more behind. Not the one the tag
 * names now (another writer may have put the same bytes back). The referrers are in place
 * whatever the answer, so a registry that does not let us delete (405 or UNSUPPORTED, no delete
 * permission), or one another writer deleted first, leaves it as it was without a word; only
 * an abort goes on.
 */
async function deleteReplaced(client: RegistryClient, repository: string, replaced: Set<Digest>, now: TagIndex): Promise<void> {
  for (const digest of replaced) {
    if (digest === now.digest) continue;
    try {
      await deleteManifest(client, repository, digest);
    } catch (err) {
      if (!(err instanceof OcipushError) || err.code === 'EABORTED') throw err;
    }
  }
}

function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
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
