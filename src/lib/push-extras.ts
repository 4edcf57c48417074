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
  // an index's manifests; the layout's OCI 1.1 referrers (a build's SBOM and provenance); and a
  // signed provenance appended to cosign's `.att` as well: each its own requests, all at once.
  const subjects = [p.root, ...p.nodes.filter((n) => n.kind === 'manifest' || n.kind === 'index').map((n) => n.descriptor).filter((d) => d.digest !== p.root.digest)];
  const names = [...index.manifests.flatMap((d) => d.annotations?.[Annotation.RefName] ?? []), ...cosignSavedNames(index).keys()];
  const wanted = new Set(subjects.flatMap(cosignTags));
  const hasCosignTags = names.some((name) => wanted.has(name));
  const hasReferrers = index.manifests.some(hasArtifactType);
  const hasAttestations = index.manifests.some((d) => d.artifactType === DSSE_MEDIA_TYPE);
  const carry = async (signatures: Repository): Promise<PushedReferrer[]> => {
    // Loaded before any request starts: none may fail while nothing is waiting on it.
    const signedReferrer = signatures !== p.repository ? (await import('../supply-chain/referrer-signatures.js')).signedReferrerKind : undefined;
    const cosignCopy = hasCosignTags
      ? import('../transfer/push-referrers.js').then((m) => m.pushLayoutCosignTags(p.source, signatures, subjects, names, { concurrency: p.concurrency }))
      : undefined;
    const referrersTo = (repository: Repository, only?: (artifactType: string | undefined) => boolean) => import('../transfer/push-referrers.js')
      .then((m) => m.pushLayoutReferrers(p.layout, p.source, repository, p.root, { concurrency: p.concurrency, ...(only ? { only } : {}) }));
    const ociReferrers = !hasReferrers ? undefined : signedReferrer
      ? settled([referrersTo(p.repository, (t) => signedReferrer(t) === undefined), referrersTo(signatures, (t) => signedReferrer(t) !== undefined)]).then((both) => both.flat())
      : referrersTo(p.repository);
    // A `.att` the layout holds under cosign's name goes up first, and the provenance is appended
    // to it. An SBOM alone loads none of the attestation code.
    const attFirst = names.includes(cosignTags(p.root)[1]!) ? cosignCopy : undefined;
    const attestations = hasAttestations
      ? Promise.resolve(attFirst).then(async () => {
        const { appendLayoutAttestations } = await import('../supply-chain/layout-attestations.js');
        await appendLayoutAttestations(p.layout, signatures, p.root);
      })
      : undefined;
    // Every piece ends before a failure is reported: a push does not return while another of its
    // requests is still writing to the registry.
    const [tagged, pushed, attached] = await Promise.allSettled([cosignCopy ?? [], ociReferrers ?? [], attestations]);
    for (const result of [tagged, pushed, attached]) if (result.status === 'rejected') throw result.reason;
    const storedIn = `${signatures.registry}/${signatures.name}`;
    const placed = (r: PushedReferrer) => (signedReferrer && (r.tag !== undefined || signedReferrer?.(r.artifactType) !== undefined) ? { ...r, storedIn } : r);
    return [...valueOf(tagged), ...valueOf(pushed)].map(placed);
  };
  let referrers: PushedReferrer[] = [];
  const image = { registry: p.repository.registry, repository: p.repository.name };
  const elsewhere = p.signaturesIn && (p.signaturesIn.registry !== image.registry || p.signaturesIn.repository !== image.repository) ? p.signaturesIn : undefined;
  if (elsewhere && (hasCosignTags || hasReferrers)) {
    const { withSignatureRepositories } = await import('../supply-chain/signature-repository.js');
    referrers = await withSignatureRepositories(image, elsewhere, p.connectSignatures ?? p.connect, ({ signatures }) => carry(signatures), p.repository.client);
  } else if (hasCosignTags || hasReferrers) {
    referrers = await carry(p.repository);
  }
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

/** Every one of `pieces` ended, then their values, or the first failure: nothing goes on writing after it is reported. */
export async function settled<T>(pieces: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(pieces);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function valueOf<T>(result: PromiseSettledResult<T>): T | [] {
  return result.status === 'fulfilled' ? result.value : [];
}
