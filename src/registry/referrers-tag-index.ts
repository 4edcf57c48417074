import { OcipushError } from '../errors.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { sha256, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { encodeJson, isIndex, parseManifest, type ImageIndex } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES } from '../content/verify.js';
import type { RegistryClient, RegistryResponse } from './http.js';
import { getWhole } from './whole-body.js';
import { deleteManifest } from './delete.js';
import { headManifest, MANIFEST_ACCEPT } from './manifests.js';
import { pullScope, pushScope, v2Path } from './scopes.js';

/**
 * The referrers tag schema's `sha256-<hex>` index, which clients update read–modify–write: a
 * conditional PUT (If-Match / If-None-Match) retried on 412, and for registries that ignore
 * preconditions (docker-registry 2.8) a read back after a settle, changing it again when another
 * writer's write undid ours.
 */

const MAX_TAG_UPDATES = 8;
/** The settle before the index is read once more after a write (see updateTagIndex): this many times the write's read and PUT, within these bounds. */
const SETTLE_ROUND_TRIPS = 2;
const MIN_SETTLE_MS = 100;
const MAX_SETTLE_MS = 3_000;

/** The clock the tag index's settle is measured and waited by: the system's, or a test's. */
export interface SettleClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: SettleClock = { now: () => performance.now(), sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms); }) };

/**
 * Clients whose registry refused a stale conditional PUT with 412: it honours If-Match, so a
 * writer that read before our write cannot write over it, and the settle (there for registries
 * that ignore it) is skipped on it from then on.
 */
const honoursIfMatch = new WeakSet<RegistryClient>();

/** `sha256-<hex>`: the referrers tag schema's tag for a digest. */
export function referrersTag(digest: Digest): string {
  return digest.replace(':', '-');
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

/**
 * Adds `entries` to the tag index (those it lacks), read afresh here, right before it is written:
 * how many times it was written. A read the caller made earlier (before uploading the referrers)
 * is not written over: its age is this writer's read-to-write time, which no other writer's settle
 * covers, so a push that wrote meanwhile lost its entry unseen by either.
 */
export async function addToTagIndex(
  client: RegistryClient, repository: string, subject: Digest, entries: Descriptor[], tried: { write: boolean }, clock: SettleClock,
): Promise<number> {
  const change = (manifests: Descriptor[]) => {
    const have = new Set(manifests.map((m) => m.digest));
    const missing = entries.filter((e) => !have.has(e.digest));
    return missing.length === 0 ? undefined : [...manifests, ...missing];
  };
  return updateTagIndex(client, repository, subject, change, tried, clock, entries.map((e) => e.digest).join(', '), 'added');
}

/**
 * Takes a deleted referrer out of the tag schema's index of its subject: the distribution spec
 * leaves that index to the clients that push and delete referrers, and a stale entry names a
 * manifest that is gone. Written as addToTagIndex writes, without its settle: the referrer's
 * manifest is deleted first, so a writer that read the index before our write and writes it after
 * our read-back cannot put the entry back where the registry checks an index's manifests
 * (docker-registry 2.8 refuses it, and that writer drops it); an attach our older read would
 * drop reads its entry back after its own settle. An index left empty is deleted (as oras does)
 * by the digest read, so one another client rewrote meanwhile stays. Whether the index listed it.
 */
export async function removeFromTagIndex(client: RegistryClient, repository: string, subject: Digest, digest: Digest): Promise<boolean> {
  let listed = false;
  const change = (manifests: Descriptor[]) => {
    const others = manifests.filter((m) => m.digest !== digest);
    if (others.length === manifests.length) return undefined;
    listed = true;
    return others;
  };
  await updateTagIndex(client, repository, subject, change, { write: false }, undefined, digest, 'removed');
  return listed;
}

/**
 * Reads the index and writes what `change` makes of its entries (undefined: nothing to change),
 * until a read finds nothing to change. Given a clock to measure and wait by, the read after a
 * write comes a settle after it (unless the registry has shown it honours If-Match), else at once.
 * A writer that read the index before our write and writes after it (a registry that ignores
 * If-Match: docker-registry 2.8) undoes our change unseen by either of us; its write lands within
 * its own read-to-write time, about ours (both read right before writing), so the index read
 * twice that after our write finds it undone, and it is made again. That read is the one read
 * back: a read at once as well only came a round trip earlier and told the settle nothing.
 * How many times the index was written (or deleted, left empty).
 */
async function updateTagIndex(
  client: RegistryClient, repository: string, subject: Digest, change: (manifests: Descriptor[]) => Descriptor[] | undefined,
  tried: { write: boolean }, clock: SettleClock | undefined, what: string, verb: string,
): Promise<number> {
  const tag = referrersTag(subject);
  const gone = new Set<string>();
  const replaced = new Set<Digest>();
  let writes = 0;
  for (let tries = 0; ;) {
    const started = clock?.now() ?? 0;
    const current = await readTagIndex(client, repository, subject);
    const next = change(current.index.manifests);
    if (next === undefined) {
      await deleteReplaced(client, repository, replaced, current);
      return writes;
    }
    if (tries++ === MAX_TAG_UPDATES) break;
    tried.write = true;
    const kept = next.filter((m) => !gone.has(m.digest));
    let wrote = false;
    if (kept.length === 0 && current.digest) {
      await deleteManifest(client, repository, current.digest);
      wrote = true;
    } else {
      const outcome = await writeTagIndex(client, repository, tag, current, kept, gone);
      if (outcome === 'conflict') honoursIfMatch.add(client);
      else if (typeof outcome !== 'string') {
        wrote = true;
        noteReplaced(replaced, current);
        // Ours until another writer's write takes the tag from it; that writer read the one
        // before, so it deletes that one, not this: left, it stayed untagged for good.
        if (kept.length > 0) replaced.add(outcome.digest);
      }
    }
    if (!wrote) continue;
    writes++;
    if (clock && !honoursIfMatch.has(client)) await clock.sleep(settleAfter(clock.now() - started));
  }
  throw new OcipushError('EREGISTRY', `${client.registry}/${repository}:${tag}: the referrers index kept changing; ${what} could not be ${verb} after ${MAX_TAG_UPDATES} attempts`);
}

/** The settle after a write whose read and write took `roundTrip` ms. */
function settleAfter(roundTrip: number): number {
  return Math.min(MAX_SETTLE_MS, Math.max(MIN_SETTLE_MS, SETTLE_ROUND_TRIPS * roundTrip));
}

/**
 * PUTs the tag index as `manifests`, conditional on `current` (412: someone updated it since:
 * 'conflict', for the caller to read again and merge). An index still naming a referrer another
 * tool deleted without updating it (skopeo delete, crane delete) is refused by a registry that
 * checks an index's manifests (distribution: 400 MANIFEST_BLOB_UNKNOWN), every write of it, for
 * good: the entries that are gone go into `gone` and leave every later write ('pruned', for the
 * caller to try again); nothing gone, the registry's refusal stands. Written: the digest written.
 */
async function writeTagIndex(
  client: RegistryClient, repository: string, tag: string, current: TagIndex, kept: Descriptor[], gone: Set<string>,
): Promise<{ digest: Digest } | 'conflict' | 'pruned'> {
  const headers: Record<string, string> = { 'content-type': MediaType.OciIndex };
  if (current.etag) headers['if-match'] = quoteEtag(current.etag);
  else if (!current.digest) headers['if-none-match'] = '*';
  const body = encodeJson({ ...current.index, manifests: kept });
  try {
    const res = await client.request({
      method: 'PUT', url: v2Path(repository, `manifests/${tag}`), op: `update referrers index ${repository}:${tag}`,
      scopes: [pushScope(repository)], headers, body, accept: (s) => (s >= 200 && s < 300) || s === 412,
    });
    await res.dump();
    return res.status === 412 ? 'conflict' : { digest: sha256(body) };
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
 * An index our write took the tag from. An empty one is not: its bytes are every subject's empty
 * index (oras writes one with SkipReferrersGC), and a delete by digest takes every tag naming them.
 */
function noteReplaced(replaced: Set<Digest>, current: TagIndex): void {
  if (current.digest && current.index.manifests.length > 0) replaced.add(current.digest);
}

/**
 * Deletes the indexes this update took the tag from, and those it wrote that another writer's
 * took it from, as oras deletes the one it replaced (unless SkipReferrersGC): no tag names them
 * any more, and a registry keeps an untagged manifest until a gc that deletes untagged ones, which
 * most never run; every attach left one more behind. Not the one the tag names now (another
 * writer may have put the same bytes back). The referrers are in place whatever the answer, so a
 * registry that does not let us delete (405 or UNSUPPORTED, no delete permission), or one another
 * writer deleted first, leaves it as it was without a word; only an abort goes on.
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
