import type { Descriptor } from '../oci/descriptor.js';
import { OcipushError } from '../errors.js';
import { isReferrerLister, isTagResolver, type ReadOnlyStorage, type Storage, type TagResolver } from '../content/storage.js';
import { copyGraph, type CopyOptions, type CopyResult } from './copy-graph.js';

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
  return [root, ...copied.nodes.map((n) => n.descriptor).filter((d) => d.digest !== root.digest && (d.mediaType.includes('manifest') || d.mediaType.includes('index')))];
}

export interface CopiedReferrer {
  subject: string;
  /** The cosign tag it was found under; none for an OCI 1.1 referrer (pushed by digest). */
  tag?: string;
  result: CopyResult;
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
   * Makes a copied OCI 1.1 referrer findable in the destination (a registry without the referrers
   * API needs its `sha256-<hex>` index updated: registry/referrers.ts pushReferrer).
   * `alreadyStored`: the destination had the referrer's manifest before this copy.
   */
  publishReferrer?: (referrer: Descriptor, subject: Descriptor, facts: { alreadyStored: boolean }) => Promise<void>;
}

/**
 * Copies what refers to `subjects` (the copied image and, for an index, its manifests) from `src`
 * to `dst`, after the image itself: the cosign-style `sha256-<hex>.sig/.att/.sbom` tags under
 * the same tags, and the OCI 1.1 referrers of a source that can list them (a storage with
 * `referrers()`, see ReferrerLister), each by digest, and theirs in turn (a signature of an SBOM).
 */
export async function copyReferrers(src: ReadOnlyStorage, dst: Storage, subjects: Descriptor[], options: ReferrerCopyOptions = {}): Promise<CopiedReferrer[]> {
  const copied: CopiedReferrer[] = [];
  const { sourceTags, listReferrers, publishReferrer, ...copyOptions } = options;
  if (isTagResolver(src)) {
    const wanted = new Map<string, string>();
    for (const subject of subjects) for (const tag of cosignTags(subject)) wanted.set(tag, subject.digest);
    // From the tag list when the caller has it, else one lookup per candidate tag (in parallel):
    // a repository with thousands of tags is not listed for three names.
    const found: [string, Descriptor][] = [];
    if (sourceTags) {
      for (const tag of (await sourceTags()).filter((t) => wanted.has(t))) found.push([tag, await src.resolve(tag, { signal: options.signal })]);
    } else {
      const looked = await Promise.all([...wanted.keys()].map(async (tag) => [tag, await resolveIfPresent(src, tag, options.signal)] as const));
      for (const [tag, desc] of looked) if (desc) found.push([tag, desc]);
    }
    for (const [tag, desc] of found) {
      copied.push({ subject: wanted.get(tag)!, tag, result: await copyGraph(src, dst, desc, { ...copyOptions, rootReference: tag }) });
    }
  }
  const lister = listReferrers ?? (isReferrerLister(src) ? (d: Descriptor) => src.referrers(d, { signal: options.signal }) : undefined);
  if (lister) {
    const seen = new Set(subjects.map((s) => s.digest));
    const queue = [...subjects];
    while (queue.length > 0) {
      const subject = queue.shift()!;
      for (const referrer of await lister(subject)) {
        if (seen.has(referrer.digest)) continue;
        seen.add(referrer.digest);
        const result = await copyGraph(src, dst, referrer, copyOptions);
        await publishReferrer?.(referrer, subject, { alreadyStored: result.nodes.at(-1)?.outcome === 'exists' });
        copied.push({ subject: subject.digest, result });
        queue.push(referrer);
      }
    }
  }
  return copied;
}

async function resolveIfPresent(src: TagResolver, tag: string, signal: AbortSignal | undefined): Promise<Descriptor | undefined> {
  try {
    return await src.resolve(tag, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof OcipushError && err.code === 'ENOTFOUND') return undefined;
    throw err;
  }
}
