import type { Descriptor } from '../oci/descriptor.js';
import { OcipushError } from '../errors.js';
import { isReferrerLister, isTagResolver, operationOptions, type ReadOnlyStorage, type Storage, type TagResolver } from '../content/storage.js';
import { mergedCosignTag } from './cosign-tag-merge.js';
import { copyGraph, type CopyEvent, type CopyOptions, type CopyResult } from './copy-graph.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';

/** The tags cosign gives what it attaches to `sha256:<hex>`: signatures, attestations, SBOMs. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

export function cosignTags(subject: Pick<Descriptor, 'digest'>): string[] {
  const [algorithm, hex] = subject.digest.split(':');
  return COSIGN_SUFFIXES.map((s) => `${algorithm}-${hex}.${s}`);
}

/**
 * What a copied graph's referrers refer to: its root and, for an index, the manifests under it
 * (cosign sign --recursive signs each platform's manifest too).
 */
export function referrerSubjects(copied: CopyResult): Descriptor[] {
  const { root } = copied;
  return [root, ...copied.nodes.map((n) => n.descriptor).filter((d) => d.digest !== root.digest && isManifestOrIndex(d))];
}

/** A manifest or an index (of any media type family), which referrers may refer to; not a blob. */
export function isManifestOrIndex(d: Pick<Descriptor, 'mediaType'>): boolean {
  return d.mediaType.includes('manifest') || d.mediaType.includes('index');
}

export interface CopiedReferrer {
  subject: string;
  /** The cosign tag it was found under; none for an OCI 1.1 referrer (pushed by digest). */
  tag?: string;
  result: CopyResult;
  /** `REGISTRY/REPOSITORY` it went to when not the image's (cosign's COSIGN_REPOSITORY). */
  storedIn?: string;
}

export interface ReferrerCopyOptions extends Omit<CopyOptions, 'rootReference'> {
  /** The source repository's tags (for cosign's tag scheme); without it, each candidate tag is looked up. */
  sourceTags?: () => Promise<string[]>;
  /**
   * The OCI 1.1 referrers of a subject in the source, when the source storage does not list them
   * itself (ReferrerLister): e.g. the registry's referrers API or tag schema (src/registry/referrers.ts).
   */
  listReferrers?: (subject: Descriptor) => Promise<Descriptor[]>;
  /**
   * Makes copied OCI 1.1 referrers of `subject` findable in the destination, all of a subject in
   * one call (a registry without the referrers API needs its `sha256-<hex>` index updated, once
   * for all: registry/referrers.ts pushReferrers). `alreadyStored`: the destination had the
   * referrer's manifest before this copy.
   */
  publishReferrers?: (subject: Descriptor, referrers: { descriptor: Descriptor; alreadyStored: boolean }[]) => Promise<void>;
  /**
   * The publisher stores each new referrer's manifest itself (a registry: its answer to the PUT
   * says whether it has the referrers API); the copy then sends only what is under it.
   */
  publisherStoresManifests?: boolean;
  /** cosign tags already looked up in the source (lookUpCosignTags), by name: undefined, absent there. */
  cosignTags?: ReadonlyMap<string, Descriptor | undefined>;
}

/**
 * Copies what refers to `subjects` (the copied image and, for an index, its manifests) from `src`
 * to `dst`, after the image itself: the cosign-style `sha256-<hex>.sig/.att/.sbom` tags under
 * the same tags, and the OCI 1.1 referrers of a source that can list them (a storage with
 * `referrers()`, see ReferrerLister), each by digest, and theirs in turn (a signature of an SBOM).
 * The two kinds go at once, and within each, every tag or referrer at once (bounded): they are
 * manifests of a few hundred bytes each, whose round trips would otherwise add up one by one.
 */
export async function copyReferrers(src: ReadOnlyStorage, dst: Storage, subjects: Descriptor[], options: ReferrerCopyOptions = {}): Promise<CopiedReferrer[]> {
  const { sourceTags, listReferrers, publishReferrers, publisherStoresManifests, cosignTags: known, ...copyOptions } = options;
  const limit = options.concurrency ?? DEFAULT_CONCURRENCY;
  const inFlight = copyOptions.inFlight ?? new Map<string, Promise<void>>();
  const tagged = isTagResolver(src) ? copyCosignTags(src, dst, subjects, sourceTags, known, { ...copyOptions, inFlight }) : Promise.resolve([]);
  const lister = referrerLister(src, listReferrers, options.signal);
  const referred = (async () => {
    const copied: CopiedReferrer[] = [];
    if (!lister) return copied;
    const seen = new Set(subjects.map((s) => s.digest));
    // Level by level: the referrers of every subject, then theirs (a signature of an SBOM).
    let level = subjects;
    while (level.length > 0) {
      const listed = await Promise.all(level.map(lister));
      const next: Descriptor[] = [];
      const perSubject = level.map((subject, i) => {
        const fresh = listed[i]!.filter((r) => !seen.has(r.digest));
        for (const r of fresh) seen.add(r.digest);
        next.push(...fresh);
        return { subject, referrers: fresh };
      });
      const gone = new Set<string>();
      const results = await Promise.all(perSubject.map(async ({ subject, referrers: listedHere }) => {
        const stored = await Promise.all(listedHere.map((r) => dst.exists(r, options.signal ? { signal: options.signal } : {})));
        const out: (CopyResult | undefined)[] = [];
        await eachAtMost(listedHere, limit, async (referrer, i) => {
          if (stored[i]) {
            out[i] = { root: referrer, nodes: [{ descriptor: referrer, kind: 'manifest', outcome: 'exists' }] };
            return;
          }
          const copying = publisherStoresManifests
            ? copyUnder(src, dst, referrer, { ...copyOptions, inFlight })
            : copyGraph(src, dst, referrer, { ...copyOptions, inFlight });
          out[i] = await copying.catch(async (err: unknown) => {
            if (!(await listedButGone(src, referrer, err, options.signal))) throw err;
            options.onEvent?.({ type: 'notice', descriptor: referrer, kind: 'manifest', message: `listed as a referrer of ${subject.digest}, but the source no longer has it: skipped` });
            gone.add(referrer.digest);
            return undefined;
          });
        });
        const kept = listedHere.flatMap((descriptor, i) => (out[i] ? [{ descriptor, alreadyStored: stored[i]!, result: out[i] }] : []));
        if (kept.length > 0) await publishReferrers?.(subject, kept.map(({ descriptor, alreadyStored }) => ({ descriptor, alreadyStored })));
        if (publisherStoresManifests) {
          for (const k of kept) if (!k.alreadyStored) options.onEvent?.({ type: 'done', descriptor: k.descriptor, kind: 'manifest', outcome: 'uploaded' });
        }
        return kept.map(({ result }) => ({ subject: subject.digest, result }));
      }));
      copied.push(...results.flat());
      level = next.filter((d) => !gone.has(d.digest));
    }
    return copied;
  })();
  // Both kinds end before a failure is reported: nothing goes on writing after the copy returns.
  const [byTag, byReferrers] = await Promise.allSettled([tagged, referred]);
  for (const r of [byTag, byReferrers]) if (r.status === 'rejected') throw r.reason;
  return [...(byTag as PromiseFulfilledResult<CopiedReferrer[]>).value, ...(byReferrers as PromiseFulfilledResult<CopiedReferrer[]>).value];
}

/**
 * Lists the OCI 1.1 referrers of `subjects` in the source, and theirs in turn (a signature of an
 * SBOM), before anything is copied, as oras cp -r finds every root before its first write and
 * regctl image copy --referrers lists them before the image's manifest goes: a source whose
 * referrers API or `sha256-<hex>` index fails (a 500, a 403, a body that is no index) fails the
 * copy with the destination as it was, not after the image was tagged there. Resolves with a
 * lister for copyReferrers that answers from those lists (a subject not listed here, from the source).
 */
export async function listReferrersFirst(
  src: ReadOnlyStorage, subjects: Descriptor[], options: Pick<ReferrerCopyOptions, 'listReferrers' | 'signal'> = {},
): Promise<ReferrerCopyOptions['listReferrers']> {
  const lister = referrerLister(src, options.listReferrers, options.signal);
  if (!lister) return undefined;
  const listed = new Map<string, Descriptor[]>();
  let level = subjects;
  while (level.length > 0) {
    const fresh = [...new Map(level.filter((d) => !listed.has(d.digest)).map((d) => [d.digest, d])).values()];
    const found = await Promise.all(fresh.map(lister));
    fresh.forEach((d, i) => listed.set(d.digest, found[i]!));
    level = found.flat();
  }
  return async (subject) => listed.get(subject.digest) ?? lister(subject);
}

/**
 * cosign's `.sig`/`.att`/`.sbom` tags of `subjects` looked up in the source before anything is
 * copied, for the reason listReferrersFirst lists referrers first: a lookup the source refuses
 * (a 403, a 500) fails the copy before the image is tagged at the destination.
 */
export async function lookUpCosignTags(src: ReadOnlyStorage, subjects: Descriptor[], signal?: AbortSignal): Promise<Map<string, Descriptor | undefined> | undefined> {
  if (!isTagResolver(src)) return undefined;
  const tags = [...new Set(subjects.flatMap((s) => cosignTags(s)))];
  return new Map(await Promise.all(tags.map(async (tag) => [tag, await resolveIfPresent(src, tag, signal)] as const)));
}

/** How a source's OCI 1.1 referrers are listed: the caller's way (a registry's API or tag schema), else the storage's own. */
function referrerLister(src: ReadOnlyStorage, given: ReferrerCopyOptions['listReferrers'], signal?: AbortSignal): ReferrerCopyOptions['listReferrers'] {
  return given ?? (isReferrerLister(src) ? (d: Descriptor) => src.referrers(d, signal ? { signal } : {}) : undefined);
}

/**
 * What copyReferrers would copy for `subjects` (their cosign tags the source has, their OCI 1.1
 * referrers), named and not copied: for a destination that cannot hold them (an archive), so
 * that the copy can say what stays behind.
 */
export async function findReferrers(src: ReadOnlyStorage, subjects: Descriptor[], options: Pick<ReferrerCopyOptions, 'listReferrers' | 'signal'> = {}): Promise<string[]> {
  const { listReferrers, signal } = options;
  const tags = isTagResolver(src)
    ? (await Promise.all(subjects.flatMap((s) => cosignTags(s)).map(async (tag) => ((await resolveIfPresent(src, tag, signal)) ? [tag] : [])))).flat()
    : [];
  const lister = referrerLister(src, listReferrers, signal);
  const listed = lister ? (await Promise.all(subjects.map(lister))).flat().map((d) => d.digest) : [];
  return [...tags, ...new Set(listed)];
}

/**
 * What is under a manifest (its config and layers), copied; the manifest itself is left to the
 * publisher, which stores it and reads the registry's answer. The copy's own events for it would
 * say "already there": the publisher's success is reported instead.
 */
export async function copyUnder(src: ReadOnlyStorage, dst: Storage, manifest: Descriptor, options: CopyOptions): Promise<CopyResult> {
  const onEvent = options.onEvent;
  const result = await copyGraph(src, dst, manifest, {
    ...options,
    present: (d) => d.digest === manifest.digest || (options.present?.(d) ?? false),
    ...(onEvent ? { onEvent: (e: CopyEvent) => { if (e.descriptor.digest !== manifest.digest) onEvent(e); } } : {}),
  });
  return { root: result.root, nodes: result.nodes.map((n) => (n.descriptor.digest === manifest.digest ? { ...n, outcome: 'uploaded' } : n)) };
}

/** cosign's `.sig`/`.att`/`.sbom` tags of `subjects` the source has, each copied under the same tag, all at once. */
async function copyCosignTags(
  src: ReadOnlyStorage & TagResolver, dst: Storage, subjects: Descriptor[], sourceTags: (() => Promise<string[]>) | undefined,
  known: ReadonlyMap<string, Descriptor | undefined> | undefined, copyOptions: CopyOptions,
): Promise<CopiedReferrer[]> {
  const wanted = new Map<string, string>();
  for (const subject of subjects) for (const tag of cosignTags(subject)) wanted.set(tag, subject.digest);
  // From the tag list when the caller has it, else one lookup per candidate tag (in parallel):
  // a repository with thousands of tags is not listed for three names.
  const io = copyOptions.signal ? { signal: copyOptions.signal } : {};
  const candidates = sourceTags ? (await sourceTags()).filter((t) => wanted.has(t)) : [...wanted.keys()];
  const looked = await Promise.all(candidates.map(async (tag) => [
    tag, known?.has(tag) ? known.get(tag) : sourceTags ? await src.resolve(tag, io) : await resolveIfPresent(src, tag, copyOptions.signal),
  ] as const));
  const found = looked.filter((f): f is readonly [string, Descriptor] => f[1] !== undefined);
  const copied: CopiedReferrer[] = [];
  await eachAtMost(found, copyOptions.concurrency ?? DEFAULT_CONCURRENCY, async ([tag, desc], i) => {
    copied[i] = { subject: wanted.get(tag)!, tag, result: await copyCosignTag(src, dst, tag, desc, copyOptions) };
  });
  return copied;
}

/**
 * One cosign tag under its name. Where the destination's tag names other signatures (made there,
 * or by another run), the source's are appended to them (mergedCosignTag), not written over them.
 */
async function copyCosignTag(src: ReadOnlyStorage, dst: Storage, tag: string, desc: Descriptor, copyOptions: CopyOptions): Promise<CopyResult> {
  const existing = isTagResolver(dst) ? await resolveIfPresent(dst, tag, copyOptions.signal) : undefined;
  const merged = existing && existing.digest !== desc.digest
    ? await mergedCosignTag(src, dst, tag, desc, existing, operationOptions(copyOptions))
    : undefined;
  if (!merged) return copyGraph(src, dst, desc, { ...copyOptions, rootReference: tag });
  if ('exists' in merged) return { root: merged.exists, nodes: [{ descriptor: merged.exists, kind: 'manifest', outcome: 'exists' }] };
  return copyGraph(merged.source, dst, merged.root, { ...copyOptions, rootReference: tag });
}

/**
 * A referrers tag schema index is kept by clients, and one that deleted a referrer without
 * updating it (skopeo delete, crane delete) leaves an entry naming nothing: that is no reason to
 * fail the copy of the image it refers to. Asked only once its copy failed as not found.
 */
async function listedButGone(src: ReadOnlyStorage, referrer: Descriptor, err: unknown, signal: AbortSignal | undefined): Promise<boolean> {
  if (!(err instanceof OcipushError) || err.code !== 'ENOTFOUND') return false;
  return !(await src.exists(referrer, signal ? { signal } : {}));
}

async function resolveIfPresent(src: TagResolver, tag: string, signal: AbortSignal | undefined): Promise<Descriptor | undefined> {
  try {
    return await src.resolve(tag, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return undefined;
    throw err;
  }
}
