import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Descriptor } from '../oci/descriptor.js';
import type { OciLayout } from '../content/layout.js';
import type { CopiedNode } from '../transfer/copy-graph.js';
import type { LazyBlobs } from '../transfer/lazy-blobs.js';
import type { BlobSourceProvider } from '../content/storage.js';
import type { Repository } from '../registry/repository.js';
import type { RegistryClient } from '../registry/http.js';
import type { PushedReferrer } from '../transfer/push-referrers.js';
import { cosignSavedNames, hasArtifactType } from '../content/layout-referrers.js';
import { PENDING_CACHE_ENTRIES_FILE } from '../content/layout-files.js';
import { Annotation } from '../oci/descriptor.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { cosignTags } from '../transfer/copy-referrers.js';

export interface PushExtras {
  referrers: PushedReferrer[];
  cacheEntries: number;
}

/**
 * What follows the image to the registry, once it is there: its referrers in the layout (an SBOM
 * a build made; a signed provenance also goes where cosign keeps attestations), and the registry
 * cache entries a `build --cache-repo` left pending. Each part is loaded only when the layout
 * has something for it: most pushes have neither, and a re-push should not pay for them.
 */
export async function pushExtras(p: {
  layout: OciLayout; source: LazyBlobs; repository: Repository; root: Descriptor; nodes: CopiedNode[]; concurrency: number;
  pushedTo: { registry: string; repository: string };
  connect: (registry: string) => Promise<RegistryClient>;
  warn: (message: string) => void;
}): Promise<PushExtras> {
  const index = await p.layout.readIndex();
  // Signatures a copy from a registry kept in the layout under cosign's names, of the image or of
  // an index's manifests; the layout's OCI 1.1 referrers (a build's SBOM and provenance); and a
  // signed provenance appended to cosign's `.att` as well: each its own requests, all at once.
  const subjects = [p.root, ...p.nodes.filter((n) => n.kind === 'manifest' || n.kind === 'index').map((n) => n.descriptor).filter((d) => d.digest !== p.root.digest)];
  const names = [...index.manifests.flatMap((d) => d.annotations?.[Annotation.RefName] ?? []), ...cosignSavedNames(index).keys()];
  const wanted = new Set(subjects.flatMap(cosignTags));
  const cosignCopy = names.some((name) => wanted.has(name))
    ? import('../transfer/push-referrers.js').then((m) => m.pushLayoutCosignTags(p.source, p.repository, subjects, names, { concurrency: p.concurrency }))
    : undefined;
  const ociReferrers = index.manifests.some(hasArtifactType)
    ? import('../transfer/push-referrers.js').then((m) => m.pushLayoutReferrers(p.layout, p.source, p.repository, p.root, { concurrency: p.concurrency }))
    : undefined;
  // A `.att` the layout holds under cosign's name goes up first, and the provenance is appended
  // to it. An SBOM alone loads none of the attestation code.
  const attFirst = names.includes(cosignTags(p.root)[1]!) ? cosignCopy : undefined;
  const attestations = index.manifests.some((d) => d.artifactType === DSSE_MEDIA_TYPE)
    ? Promise.resolve(attFirst).then(async () => {
      const { appendLayoutAttestations } = await import('../supply-chain/layout-attestations.js');
      await appendLayoutAttestations(p.layout, p.repository, p.root);
    })
    : undefined;
  // Every piece ends before a failure is reported: a push does not return while another of its
  // requests is still writing to the registry.
  const [tagged, pushed, attached] = await Promise.allSettled([cosignCopy ?? [], ociReferrers ?? [], attestations]);
  for (const result of [tagged, pushed, attached]) if (result.status === 'rejected') throw result.reason;
  const referrers: PushedReferrer[] = [...valueOf(tagged), ...valueOf(pushed)];
  const cacheEntries = await writeCacheEntriesOf(p.layout, p.source, p.nodes, p);
  return { referrers, cacheEntries };
}

/**
 * The registry cache entries a `build --cache-repo` left pending for the layers just put in a
 * registry, by push or by copy (`connect`'s clients are closed after). The cache code is loaded
 * only when the layout has something pending.
 */
export async function writeCacheEntriesOf(layout: OciLayout, source: BlobSourceProvider, nodes: readonly CopiedNode[], p: {
  pushedTo: { registry: string; repository: string };
  connect: (registry: string) => Promise<RegistryClient>;
  warn: (message: string) => void;
}): Promise<number> {
  if (!(await stat(join(layout.root, PENDING_CACHE_ENTRIES_FILE)).then(() => true, () => false))) return 0;
  const { writePendingCacheEntries } = await import('../assemble/pending-cache-push.js');
  return writePendingCacheEntries(layout, source, nodes.filter((n) => n.kind === 'layer').map((n) => n.descriptor), {
    pushedTo: p.pushedTo,
    connect: p.connect,
    warn: p.warn,
  });
}

function valueOf<T>(result: PromiseSettledResult<T>): T | [] {
  return result.status === 'fulfilled' ? result.value : [];
}
