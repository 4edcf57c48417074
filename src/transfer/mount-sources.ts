import { isMountSourceRecorder } from '../content/storage.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { CopiedNode } from './copy-graph.js';

/** A repository (registry/name) of `mountFrom` that did not give a blob when asked to mount it. */
export interface DeclinedMount {
  descriptor: Descriptor;
  repository: string;
}

/**
 * After a copy into `where` (registry/name), the source's record of where its blobs live (a
 * layout's) learns it, as docker's does: a later push of an image sharing them to another
 * repository of that registry mounts them instead of uploading. A repository that declined a
 * mount no longer holds the blob (deleted, garbage-collected, a registry started afresh): it is
 * forgotten, so no later push asks it again. A source that keeps no record (a registry, an
 * archive), or a read-only layout, records nothing: the copy is done all the same.
 */
export async function recordMountSources(source: unknown, nodes: readonly CopiedNode[], where: string, declined: readonly DeclinedMount[]): Promise<void> {
  if (!isMountSourceRecorder(source)) return;
  await source.forgetMountSources([...declined]).catch(() => {});
  const went = nodes.filter((n) => (n.kind === 'layer' || n.kind === 'config') && n.outcome !== 'skipped');
  if (went.length > 0) await source.remember(went.map((n) => n.descriptor), where).catch(() => {});
}
