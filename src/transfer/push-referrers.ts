import type { Descriptor } from '../oci/descriptor.js';
import { layoutReferrers } from '../content/layout-referrers.js';
import type { OciLayout } from '../content/layout.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { pushReferrer, type ReferrersMethod } from '../registry/referrers.js';
import type { Repository } from '../registry/repository.js';
import { copyGraph } from './copy-graph.js';

export interface PushedReferrer {
  descriptor: Descriptor;
  artifactType?: string;
  via: ReferrersMethod;
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
    await copyGraph(source, repository, referrer.descriptor, options);
    const { via } = await pushReferrer(repository.client, repository.name, { descriptor: referrer.descriptor, bytes: referrer.bytes, subject: subject.digest });
    pushed.push({ descriptor: referrer.descriptor, ...(referrer.manifest.artifactType ? { artifactType: referrer.manifest.artifactType } : {}), via });
  }
  return pushed;
}
