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
import type { RepositoryName } from '../supply-chain/signature-repository.js';
import { cosignSavedNames, hasArtifactType } from '../content/layout-referrers.js';
import { PENDING_CACHE_ENTRIES_FILE } from '../content/layout-files.js';
import { Annotation } from '../oci/descriptor.js';
import { DSSE_MEDIA_TYPE } from '../oci/media-types.js';
import { cosignTags } from '../transfer/copy-referrers.js';
import { carryReferrers, settled } from './carry-referrers.js';

export interface PushExtras {
  referrers: PushedReferrer[];
  cacheEntries: number;
}

/**
 * What follows the image to the registry, once it is there: its referrers in the layout (an SBOM
 * a build made; a signed provenance also goes where cosign keeps attestations), and the registry
 * cache entries a `build --cache-repo` left pending. Each part is loaded only when the layout
 * has something for it: most pushes have neither, and a re-push should not pay for them.
 * `signaturesIn` (cosign's COSIGN_REPOSITORY): the signatures and attestations (cosign's tags,
 * signed referrers) go there instead, as `cosign load` writes them (through `connectSignatures`
 * on another registry); an unsigned referrer (an SBOM) stays with the image.
 */
export async function pushExtras(p: {
  layout: OciLayout; source: LazyBlobs; repository: Repository; root: Descriptor; nodes: CopiedNode[]; concurrency: number;
  pushedTo: { registry: string; repository: string };
  connect: (registry: string) => Promise<RegistryClient>;
  signaturesIn?: RepositoryName;
  connectSignatures?: (registry: string) => Promise<RegistryClient>;
  warn: (message: string) => void;
}): Promise<PushExtras> {
  const index = await p.layout.readIndex();
  // Signatures a copy from a registry kept in the layout under cosign's names, of the image or of
  // an index's manifests, and the layout's OCI 1.1 referrers (a build's SBOM and provenance): each
  // its own requests, all at once; then a signed provenance appended to cosign's `.att` as well.
  const subjects = [p.root, ...p.nodes.filter((n) => n.kind === 'manifest' || n.kind === 'index').map((n) => n.descriptor).filter((d) => d.digest !== p.root.digest)];
  const names = [...index.manifests.flatMap((d) => d.annotations?.[Annotation.RefName] ?? []), ...cosignSavedNames(index).keys()];
  const wanted = new Set(subjects.flatMap(cosignTags));
  const hasCosignTags = names.some((name) => wanted.has(name));
  const hasReferrers = index.manifests.some(hasArtifactType);
  const hasAttestations = index.manifests.some((d) => d.artifactType === DSSE_MEDIA_TYPE);
  const referrers = !hasCosignTags && !hasReferrers ? [] : await carryReferrers<PushedReferrer>({
    image: p.repository, signaturesIn: p.signaturesIn, connectSignatures: p.connectSignatures ?? p.connect,
    // Every piece ends before a failure is reported: a push does not return while another of its
    // requests is still writing to the registry.
    send: async (to, half) => {
      const push = await import('../transfer/push-referrers.js');
      return (await settled([
        hasCosignTags && (half?.signed ?? true) ? push.pushLayoutCosignTags(p.source, to, subjects, names, { concurrency: p.concurrency }) : Promise.resolve([]),
        hasReferrers ? push.pushLayoutReferrers(p.layout, p.source, to, p.root, { concurrency: p.concurrency, ...(half ? { only: half.holds } : {}) }) : Promise.resolve([]),
      ])).flat();
    },
    // After the `.att` the layout holds under cosign's name went up: the provenance is appended to
    // it. An SBOM alone loads none of the attestation code.
    ...(hasAttestations ? {
      after: async (signatures: Repository) => {
        const { appendLayoutAttestations } = await import('../supply-chain/layout-attestations.js');
        await appendLayoutAttestations(p.layout, signatures, p.root);
      },
    } : {}),
  });
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
