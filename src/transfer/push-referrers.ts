import type { Descriptor } from '../oci/descriptor.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import type { OciLayout } from '../content/layout.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { pushReferrer, type ReferrersMethod } from '../registry/referrers.js';
import type { Repository } from '../registry/repository.js';
import { copyGraph } from './copy-graph.js';
import type { LazyBlobs } from './lazy-blobs.js';

export interface PushedReferrer {
  descriptor: Descriptor;
  artifactType?: string;
  /** How the registry was told: its referrers API or tag schema, or cosign's tag (`tag`). */
  via: ReferrersMethod | 'cosign-tag';
  /** The cosign tag it went under (`sha256-<hex>.sig` …). */
  tag?: string;
}

/**
 * Carries what refers to `subject` in the layout (the SBOM a build made) to the repository the
 * image went to: each artifact's blobs and manifest (by digest), then its place in the
 * registry's referrers (the OCI 1.1 API where the registry has it, else the tag schema).
 */
export async function pushLayoutReferrers(
  layout: OciLayout, source: ReadOnlyStorage, repository: Repository, subject: Descriptor,
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<PushedReferrer[]> {
  const pushed: PushedReferrer[] = [];
  for (const referrer of await layoutReferrers(layout, subject)) {
    // A manifest the registry has, it accepted with all its blobs: nothing under it to ask about.
    const alreadyStored = await repository.exists(referrer.descriptor);
    if (!alreadyStored) await copyGraph(source, repository, referrer.descriptor, options);
    const { via } = await pushReferrer(repository.client, repository.name, { descriptor: referrer.descriptor, bytes: referrer.bytes, subject: subject.digest }, { alreadyStored });
    pushed.push({ descriptor: referrer.descriptor, ...(referrer.manifest.artifactType ? { artifactType: referrer.manifest.artifactType } : {}), via });
  }
  return pushed;
}

/**
 * Carries the cosign tags the layout holds for `subjects` (`sha256-<hex>.sig/.att/.sbom`, names a
 * copy from a registry keeps) to the repository under the same tags, as `copy` does.
 */
export async function pushLayoutCosignTags(
  source: LazyBlobs, repository: Repository, subjects: Descriptor[], names: string[],
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<PushedReferrer[]> {
  const { copyReferrers } = await import('./copy-referrers.js');
  // The OCI 1.1 referrers went up before (pushLayoutReferrers), each with how the registry took it.
  const copied = await copyReferrers(source, repository, subjects, { ...options, sourceTags: async () => names, listReferrers: async () => [] });
  return copied.map((c) => ({ descriptor: c.result.root, via: 'cosign-tag' as const, ...(c.tag ? { tag: c.tag } : {}) }));
}
