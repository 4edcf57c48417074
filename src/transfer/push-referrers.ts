import type { Descriptor } from '../oci/descriptor.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import type { OciLayout } from '../content/layout.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { pushReferrers, readTagIndex, type ReferrersMethod } from '../registry/referrers.js';
import type { Repository } from '../registry/repository.js';
import { copyReferrers, copyUnder } from './copy-referrers.js';
import { eachAtMost } from '../each-at-most.js';
import { DEFAULT_CONCURRENCY } from '../defaults.js';
import type { LazyBlobs } from './lazy-blobs.js';

export interface PushedReferrer {
  descriptor: Descriptor;
  artifactType?: string;
  /** How the registry was told: its referrers API or tag schema, or cosign's tag (`tag`). */
  via: ReferrersMethod | 'cosign-tag';
  /** The cosign tag it went under (`sha256-<hex>.sig` …). */
  tag?: string;
  /** `REGISTRY/REPOSITORY` it went to when not the image's (cosign's COSIGN_REPOSITORY). */
  storedIn?: string;
}

/**
 * Carries what refers to `subject` in the layout (the SBOM a build made, a signed provenance) to
 * the repository the image went to: each artifact's blobs and manifest (by digest), then its
 * place in the registry's referrers (the OCI 1.1 API where the registry has it, else the tag
 * schema); with `only`, those of the artifact types it takes. All referrers go at once, in the
 * round trips one would take: whether each is there (with the tag index, read at the same time),
 * their blobs, their manifests, one index update.
 */
export async function pushLayoutReferrers(
  layout: OciLayout, source: ReadOnlyStorage, repository: Repository, subject: Descriptor,
  options: { concurrency?: number; signal?: AbortSignal; only?: (artifactType: string | undefined) => boolean } = {},
): Promise<PushedReferrer[]> {
  const { only, ...copying } = options;
  const referrers = (await layoutReferrers(layout, subject)).filter((r) => only?.(r.manifest.artifactType) ?? true);
  if (referrers.length === 0) return [];
  const [stored, tagIndex] = await Promise.all([
    Promise.all(referrers.map((r) => repository.exists(r.descriptor, options.signal ? { signal: options.signal } : {}))),
    readTagIndex(repository.client, repository.name, subject.digest),
  ]);
  // A manifest the registry has, it accepted with all its blobs: nothing under it to ask about.
  // The others' blobs go up together (the empty config they share, once); their manifests go up
  // in pushReferrers, whose PUT answer tells how the registry indexes them.
  const inFlight = new Map<string, Promise<void>>();
  await eachAtMost(referrers, options.concurrency ?? DEFAULT_CONCURRENCY, async (referrer, i) => {
    if (stored[i]) return;
    await copyUnder(source, repository, referrer.descriptor, { ...copying, inFlight });
  });
  const placed = await pushReferrers(repository.client, repository.name, subject.digest,
    referrers.map((r, i) => ({ descriptor: r.descriptor, bytes: r.bytes, alreadyStored: stored[i]! })), { tagIndex });
  return referrers.map((r, i) => ({
    descriptor: r.descriptor, ...(r.manifest.artifactType ? { artifactType: r.manifest.artifactType } : {}), via: placed[i]!.via,
  }));
}

/**
 * Carries the cosign tags the layout holds for `subjects` (`sha256-<hex>.sig/.att/.sbom`, names a
 * copy from a registry keeps) to the repository under the same tags, as `copy` does.
 */
export async function pushLayoutCosignTags(
  source: LazyBlobs, repository: Repository, subjects: Descriptor[], names: string[],
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<PushedReferrer[]> {
  // The OCI 1.1 referrers went up before (pushLayoutReferrers), each with how the registry took it.
  const copied = await copyReferrers(source, repository, subjects, { ...options, sourceTags: async () => names, listReferrers: async () => [] });
  return copied.map((c) => ({ descriptor: c.result.root, via: 'cosign-tag' as const, ...(c.tag ? { tag: c.tag } : {}) }));
}
