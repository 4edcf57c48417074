import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OcipushError, systemReason } from '../errors.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { Annotation, assertDescriptor, type Descriptor } from '../oci/descriptor.js';
import { isIndexMediaType, isManifestMediaType } from '../oci/media-types.js';
import { encodeJson, isIndex, type AnyManifest } from '../oci/manifest.js';
import { writeFileAtomic } from './atomic.js';
import { listSessions, SESSION_STALE_MS, sweepLayout } from './ingest.js';
import { sweepForeignTemps } from './foreign-temps.js';
import type { OciLayout } from './layout.js';
import { lockLeftovers, type HeldLock, type LockOptions } from './lock.js';
import { LAYOUT_LOCKS } from './layout-files.js';
import { cosignNameSubject, isReferrerEntry } from './layout-referrers.js';
import { describeOwner, judgedByPid } from './liveness.js';
import { prunePendingCacheEntries } from './pending-cache-entries.js';
import { pruneRemoteBlobs, readRemoteBlobs } from './remote-blobs.js';

export interface GcOptions extends LockOptions {
  /** Report what would be removed; remove nothing. */
  dryRun?: boolean;
  /** Blobs to keep besides what index.json reaches (the layer cache's, which the caller reads). */
  keep?: () => Promise<Iterable<Digest>>;
  /** How long to wait for writers (builds, pulls) in the layout to finish; default 60 s. */
  waitMs?: number;
  /**
   * Also drop the image entries without a name (the image `skopeo copy` un-names, but leaves,
   * when it moves a tag to another), and then what only they reached.
   */
  untagged?: boolean;
  /**
   * A blob nothing reaches is kept while it changed (mtime) less than this long ago (ms); default
   * {@link DEFAULT_GRACE_MS}, 0 removes them all. Other tools take no lock: skopeo, umoci and
   * oras store an image's blobs one by one and name them in index.json last, so a young blob
   * may be one whose image is being copied in.
   */
  graceMs?: number;
}

/**
 * An hour, as zot's gcDelay (zot keeps each repository as an OCI layout, its blobs uploaded
 * before the manifest names them) and the hour after which gc clears other tools' partial blobs.
 * git keeps unreachable objects two weeks; a layout's blobs are large and are mostly made by a
 * build or copy that names them minutes later, so an hour covers the writer without holding a
 * deleted image's disk space for weeks.
 */
export const DEFAULT_GRACE_MS = 3600_000;

/** An index.json entry gc drops (or, with dryRun, would). */
export interface DroppedEntry {
  digest: Digest;
  /** `untagged`: an image entry without a name (`untagged`); `orphaned`: a referrer or cosign name of an image held but no longer reached. */
  reason: 'untagged' | 'orphaned';
  artifactType?: string;
  /** Its cosign name, for a signature, attestation or SBOM cosign names. */
  name?: string;
  /** The image it refers to, for an orphaned one. */
  subject?: Digest;
}

export interface GcResult {
  /** Blobs removed (or, with dryRun, that would be). */
  removed: { digest: Digest; size: number }[];
  bytes: number;
  /** Blobs kept: reached from index.json, or kept by `keep`. */
  kept: number;
  /** Blobs nothing reaches, kept because they changed within the grace period (`graceMs`): another tool may be about to name them. */
  recent: { digest: Digest; size: number }[];
  /** Leftovers of processes that are gone (ingest sessions, older temp files), removed (or, with dryRun, that would be). */
  leftovers: string[];
  /** Bytes of the files in `leftovers`. */
  leftoverBytes: number;
  /**
   * Locks of processes that are gone, broken within the stale period (30 s; by this gc, or by
   * another process), left in their graves: another process may have judged the same lock at
   * the same moment, and must find the grave in its way (lock.ts). A later gc removes them.
   */
  brokenLocks: string[];
  /** index.json entries dropped (or, with dryRun, that would be), before the sweep: their blobs are then unreached. */
  dropped: DroppedEntry[];
  /** Entries of the layout's notes (remote blobs' sources, pending registry cache entries) for blobs nothing reaches, dropped (or, with dryRun, that would be). */
  forgotten: number;
}

/**
 * Removes the blobs of a layout that nothing reaches: mark from every index.json entry through
 * indexes, manifests (their config, layers and subject), plus `keep`; sweep the rest of `blobs/`.
 *
 * Runs under the index lock, and only while no other process writes into the layout: a writer
 * registers its ingest session under the same lock (ingest.ts), so a blob a build has stored but
 * not tagged yet is never swept. A live writer is waited for, up to `waitMs`. Other tools register
 * nothing: what nothing reaches is swept only once older than `graceMs`.
 */
export async function collectGarbage(layout: OciLayout, options: GcOptions = {}): Promise<GcResult> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const result = await lockedUnlessUnwritable(layout, options, async (lock) => {
      const writers = (await listSessions(layout.root, options)).filter((s) => !s.gone);
      if (writers.length > 0) return writers;
      return sweep(layout, options, lock);
    });
    if (!Array.isArray(result)) return result;
    if (Date.now() > deadline) {
      const writer = result[0]!;
      // One in another container (or host) cannot be looked up: say how its heartbeat is judged.
      const heard = judgedByPid(writer.owner) ? '' : `, last heard from ${Math.max(0, Math.round(((options.now ?? Date.now)() - writer.mtimeMs) / 1000))} s ago; a writer silent for ${SESSION_STALE_MS / 60_000} minutes is judged gone, its files cleared`;
      throw new OcipushError('ELOCKED', `${layout.root}: another ocipush process (${describeOwner(writer.owner)}${heard}) is writing into the layout; run gc when it has finished`, { path: layout.root });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * `fn` under the index lock; for a dry run, which writes nothing, without it where this process
 * may not take it (a read-only mount, another user's layout): it only reads, and a writer's
 * session is still seen and waited for.
 */
async function lockedUnlessUnwritable<T>(layout: OciLayout, options: GcOptions, fn: (lock?: HeldLock) => Promise<T>): Promise<T> {
  let entered = false;
  try {
    // What killed owners left beside the lock is the sweep's, which reports it.
    return await layout.withIndexLock((lock) => { entered = true; return fn(lock); }, { ...options, keepLeftovers: true });
  } catch (err) {
    const cause = (err as OcipushError).details?.cause as NodeJS.ErrnoException | undefined;
    if (entered || !options.dryRun || !['EROFS', 'EACCES', 'EPERM'].includes(cause?.code ?? '')) throw err;
    return fn();
  }
}

async function sweep(layout: OciLayout, options: GcOptions, lock?: HeldLock): Promise<GcResult> {
  const index = await layout.readIndex();
  const { reached, dropped } = await markKept(layout, index.manifests, options.untagged === true);
  // A damaged record stops gc: read before anything goes, so the layout is left as it was.
  await readRemoteBlobs(layout.root);
  // A killed build's partial layer can be the largest thing there: a dry run names and sizes it
  // too, measured before it goes. (Before `keep`, which may drop the layer cache, its temp files too.)
  const locks = await layoutLockLeftovers(layout.root, options);
  const found = [...locks.gone, ...await sweepLayout(layout.root, { ...options, dryRun: true }), ...await sweepForeignTemps(layout.root, { ...options, dryRun: true })];
  const sizes = new Map(await Promise.all(found.map(async (path) => [path, await diskSize(path)] as const)));
  // The locks' leftovers first: a grave in .ocipush/ would keep it from being removed once empty.
  if (!options.dryRun) for (const path of locks.gone) await rm(path, { recursive: true, force: true }).catch(() => {});
  const leftovers = options.dryRun ? found : [...locks.gone, ...await sweepLayout(layout.root, options), ...await sweepForeignTemps(layout.root, options)];
  for (const digest of (await options.keep?.()) ?? []) reached.add(digest);
  // What an entry this gc drops reaches was named: no tool is still writing it, the grace is not its.
  const named = dropped.length > 0 ? await reachedWith(layout, reached, dropped.map((d) => d.entry)) : reached;
  const now = (options.now ?? Date.now)();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const removed: GcResult['removed'] = [];
  const recent = new Map<Digest, number>();
  const sweepBlobs = async (keep: ReadonlySet<Digest>): Promise<number> => {
    let kept = 0;
    const blobs = join(layout.root, 'blobs');
    for (const algorithm of await readdir(blobs).catch(() => [] as string[])) {
      for (const hex of await readdir(join(blobs, algorithm)).catch(() => [] as string[])) {
        const digest = `${algorithm}:${hex}`;
        if (!isDigest(digest)) continue; // not a blob (a temp file of an older ocipush: sweepLayout's)
        if (keep.has(digest)) { kept++; continue; }
        const path = join(blobs, algorithm, hex);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (!named.has(digest) && now - st.mtimeMs < graceMs) {
          recent.set(digest, st.size);
          continue;
        }
        if (!options.dryRun) {
          await rm(path, { force: true }).catch((err: unknown) => {
            // (A blobs directory this user may not write, an immutable file.) What went before is said.
            const before = removed.length === 0 ? 'before removing a blob' : `after removing ${removed.length} blob${removed.length === 1 ? '' : 's'} no image reaches`;
            throw new OcipushError('EIO', `${layout.root}: gc stopped ${before}: cannot remove ${path}: ${systemReason(err as NodeJS.ErrnoException)}`, { path, digest, cause: err });
          });
        }
        removed.push({ digest, size: st.size });
      }
    }
    return kept;
  };
  if (dropped.length > 0 && !options.dryRun) {
    // What nothing reaches, even the entries to drop, goes first: on a full disk that makes the
    // room index.json's rewrite needs. A rewrite that fails leaves those entries whole.
    await sweepBlobs(named);
    const gone = new Set<Descriptor>(dropped.map((d) => d.entry));
    await lock?.assertHeld();
    await writeFileAtomic(layout.indexPath, encodeJson({ ...index, manifests: index.manifests.filter((d) => !gone.has(d)) }));
  }
  const kept = await sweepBlobs(reached);
  removed.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  const keeps = (d: Digest) => reached.has(d) || recent.has(d);
  const forgotten = await pruneRemoteBlobs(layout.root, keeps, options.dryRun)
    + await prunePendingCacheEntries(layout.root, keeps, options.dryRun);
  const young = [...recent].map(([digest, size]) => ({ digest, size })).sort((a, b) => (a.digest < b.digest ? -1 : 1));
  return { removed, bytes: removed.reduce((n, b) => n + b.size, 0), kept, recent: young, dropped: dropped.map((d) => d.dropped), leftovers, leftoverBytes: leftovers.reduce((n, p) => n + (sizes.get(p) ?? 0), 0), brokenLocks: locks.young, forgotten };
}

/** The graves and dead candidates beside every lock of the layout (a killed build leaves them beside the cache's too). */
async function layoutLockLeftovers(root: string, options: GcOptions): Promise<{ gone: string[]; young: string[] }> {
  const all = { gone: [] as string[], young: [] as string[] };
  for (const lock of LAYOUT_LOCKS) {
    const { gone, young } = await lockLeftovers(join(root, lock), options);
    all.gone.push(...gone);
    all.young.push(...young);
  }
  return all;
}

/** Bytes of the files under `path` (a session's directory, a temp file); what cannot be read counts 0. */
async function diskSize(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isDirectory()) return st?.isFile() ? st.size : 0;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await diskSize(join(path, name));
  return total;
}

/**
 * The OCI artifact manifest of image-spec 1.1's release candidates (`blobs`, `subject`), which
 * oras 1.0 release candidates and notation wrote into layouts; 1.1 dropped it, oras-go's gc
 * still follows it, and so does this one: its blobs are not garbage.
 */
const ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';

function artifactManifestChildren(bytes: Buffer, digest: Digest): Descriptor[] {
  const parsed = JSON.parse(bytes.toString('utf8')) as { blobs?: unknown; subject?: unknown };
  const children = [...(Array.isArray(parsed.blobs) ? parsed.blobs : []), ...(parsed.subject !== undefined ? [parsed.subject] : [])];
  children.forEach((d, i) => assertDescriptor(d, `artifact manifest ${digest}: descriptor ${i}`));
  return children as Descriptor[];
}

/**
 * What index.json keeps, and the entries it drops. The images (and named artifacts) are kept; so is
 * a referrer entry or cosign name whose image they reach, or whose image the layout never held (a
 * signature copied alone). One whose image is held but no longer reached (another tool removed
 * the image's entry: `umoci rm`) is dropped, as oras-go's gc drops a referrer its subject no
 * longer ties to a tagged manifest: kept, it would keep that image, and list an SBOM or signature
 * of it, forever. With `untagged`, an image entry without a name goes first (skopeo keeps the
 * image it moved a tag away from so, and a layout refreshed daily grows by one image a day); not
 * the unnamed image `cosign save` marks with its `kind`, which is how cosign names it.
 */
async function markKept(layout: OciLayout, entries: readonly Descriptor[], untagged: boolean): Promise<{ reached: Set<Digest>; dropped: { entry: Descriptor; dropped: DroppedEntry }[] }> {
  const named = new Set(entries.map((d) => d.digest));
  const reached = new Set<Digest>();
  const dropped: { entry: Descriptor; dropped: DroppedEntry }[] = [];
  const judged: { entry: Descriptor; subject: Digest | undefined }[] = [];
  const roots: Descriptor[] = [];
  for (const entry of entries) {
    const cosign = cosignNameSubject(entry);
    if (isReferrerEntry(entry)) judged.push({ entry, subject: await subjectOf(layout, entry) });
    else if (cosign !== undefined && isDigest(cosign)) judged.push({ entry, subject: cosign });
    else if (untagged && entry.annotations?.[Annotation.RefName] === undefined && entry.annotations?.kind === undefined) {
      dropped.push({ entry, dropped: { digest: entry.digest, reason: 'untagged', ...(entry.artifactType ? { artifactType: entry.artifactType } : {}) } });
    } else roots.push(entry);
  }
  await mark(layout, roots, named, reached);
  // A referrer of a kept referrer is kept (the signature of an SBOM): repeated until nothing more is.
  for (let grown = true; grown;) {
    grown = false;
    for (const j of [...judged]) {
      if (j.subject !== undefined && !reached.has(j.subject) && await held(layout, j.subject)) continue;
      judged.splice(judged.indexOf(j), 1);
      await mark(layout, [j.entry], named, reached);
      grown = true;
    }
  }
  for (const { entry, subject } of judged) {
    const name = entry.annotations?.[Annotation.RefName];
    dropped.push({ entry, dropped: { digest: entry.digest, reason: 'orphaned', ...(entry.artifactType ? { artifactType: entry.artifactType } : {}), ...(name ? { name } : {}), ...(subject ? { subject } : {}) } });
  }
  return { reached, dropped };
}

/** `reached` and what `entries` reach besides; a manifest of theirs that cannot be read reaches nothing more. */
async function reachedWith(layout: OciLayout, reached: ReadonlySet<Digest>, entries: readonly Descriptor[]): Promise<Set<Digest>> {
  const all = new Set(reached);
  await mark(layout, entries, new Set(), all).catch(() => {});
  return all;
}

/** The subject of a referrer entry's manifest; undefined when it names none or cannot be read (mark then says why). */
async function subjectOf(layout: OciLayout, entry: Descriptor): Promise<Digest | undefined> {
  try {
    const parsed = JSON.parse((await layout.readBlob(entry)).toString('utf8')) as { subject?: { digest?: unknown } };
    const digest = parsed.subject?.digest;
    return typeof digest === 'string' && isDigest(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}

async function held(layout: OciLayout, digest: Digest): Promise<boolean> {
  return (await stat(layout.blobPath(digest)).catch(() => undefined))?.isFile() === true;
}

/** Marks what `roots` reach into `reached`. A manifest that cannot be read stops the gc: sweeping on a partial view would lose blobs. */
async function mark(layout: OciLayout, roots: readonly Descriptor[], named: ReadonlySet<string>, reached: Set<Digest>): Promise<void> {
  const pending: Descriptor[] = [...roots];
  while (pending.length > 0) {
    const desc = pending.pop()!;
    if (reached.has(desc.digest)) continue;
    reached.add(desc.digest);
    const artifact = desc.mediaType === ARTIFACT_MANIFEST;
    if (!isManifestMediaType(desc.mediaType) && !isIndexMediaType(desc.mediaType) && !artifact) continue;
    // A manifest the layout does not hold (a subject elsewhere, a platform not pulled) has nothing
    // here to reach; one index.json names is damage, and its config and layers are not garbage.
    if (!(await layout.exists(desc)) && !(await stat(layout.blobPath(desc.digest)).catch(() => undefined))) {
      if (!named.has(desc.digest)) continue;
      throw new OcipushError('ELAYOUT', `${layout.root}: index.json names manifest ${desc.digest}, which the layout does not hold; gc removes nothing from a layout it cannot read whole`, { digest: desc.digest });
    }
    let manifest: AnyManifest;
    try {
      if (artifact) {
        pending.push(...artifactManifestChildren(await layout.readBlob(desc), desc.digest));
        continue;
      }
      manifest = await layout.readManifest(desc);
    } catch (err) {
      throw new OcipushError('ELAYOUT', `${layout.root}: cannot read manifest ${desc.digest} (${(err as Error).message}); gc removes nothing from a layout it cannot read whole`, { digest: desc.digest, cause: err });
    }
    if (isIndex(manifest)) pending.push(...manifest.manifests);
    else pending.push(manifest.config, ...manifest.layers);
    if (manifest.subject) pending.push(manifest.subject);
  }
}
