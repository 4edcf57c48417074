import { isBlobSourceProvider, isMountLookup, type ReadOnlyStorage, type RegistryLocated, type Storage } from '../content/storage.js';
import type { OciLayout } from '../content/layout.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import type { CopiedNode, CopyOptions } from '../transfer/copy-graph.js';
import type { CopiedReferrer } from '../transfer/copy-referrers.js';
import type { ReferrerEnds } from '../transfer/referrer-ends.js';
import type { DeclinedMount } from '../transfer/mount-sources.js';

/** What an image is copied out of. */
export interface ImageCopySource {
  storage: ReadOnlyStorage;
  /** For messages: `registry/repo:tag`, `oci:DIR:NAME` … */
  name: string;
  /** The manifest the source was opened at, and its bytes: a copy of it by digest may be a referrer to list. */
  opened: { descriptor: Descriptor; bytes?: Buffer };
  /** A layout source's layout: its signed provenance and pending layer cache entries go along. */
  layout?: OciLayout;
  /** Where a registry source lives: within one registry its blobs are mounted. */
  located?: RegistryLocated;
  /**
   * The source as it was opened, when `storage` is a view of it with content made in memory (an
   * index of some of its platforms): what refers to the image's manifests is found there, through
   * its referrers API and cosign's tags, which such a view does not answer.
   */
  referrersFrom?: ReadOnlyStorage;
}

/** Where it goes: a storage, and what it is (a registry repository, a layout, an archive being written). */
export interface ImageCopyTarget {
  storage: Storage;
  repository?: Repository;
  layout?: OciLayout;
  /** The name to give the root there; none: by digest. */
  reference?: string;
  /** An archive holds the image alone: no referrers go in. */
  archive?: boolean;
}

export interface ImageCopyOptions extends Pick<CopyOptions, 'concurrency' | 'onEvent' | 'present' | 'inFlight' | 'signal'> {
  /** Signatures, attestations and SBOMs that refer to the image (and its manifests) come along. */
  referrers: boolean;
  /** Digests the source holds only in memory (an index made for some platforms, a changed image): never mounted from the source's repository. */
  madeInMemory?: ReadonlySet<string>;
  /** More repositories of the destination's registry a blob may be mounted from (a changed image's old base). */
  moreMountSources?: (desc: Descriptor, registry: string) => string[];
  /**
   * cosign's COSIGN_REPOSITORY. Out of a layout into a registry: the signatures and attestations
   * among the referrers go there, as push and `cosign load` put them. Between registries: the
   * source's cosign tags (`.sig`, `.att`, `.sbom`) are read there and written beside the copy,
   * as `cosign copy` reads and writes them. Through `connectSignatures`, its clients closed after.
   */
  signaturesIn?: { registry: string; repository: string };
  connectSignatures?: (registry: string) => Promise<RegistryClient>;
  /** A client of its own for the layer cache of a layout source (which closes it). */
  connectCache: (registry: string) => Promise<RegistryClient>;
  warn: (message: string) => void;
}

export interface CopiedImageGraph {
  /** Every node copied, children before parents, the root last. */
  nodes: CopiedNode[];
  /** The image's manifests (an index's children too): what referrers were looked for. */
  subjects: Descriptor[];
  referrers: CopiedReferrer[];
  /** Out of a layout into a registry: the layer cache entries written. */
  cacheEntries: number;
}

/**
 * One image copied, as the CLI's `copy` (and `mutate`, `rebase`, `flatten`, `index create`, which
 * copy what they made) and the library's `copy` copy it (`push` has its own path, tuned for a
 * re-push that sends nothing): the blobs (mounted
 * within one registry from the source's repository or from where a layout's base layers and
 * earlier pushes put them; skipped when there), the manifests children first, the root under its
 * name, then what refers to it; out of a layout also its signed provenance to cosign's `.att` and
 * its pending layer cache entries; where the blobs went is remembered for the next push.
 */
export async function copyImageGraph(source: ImageCopySource, target: ImageCopyTarget, root: Descriptor, options: ImageCopyOptions): Promise<CopiedImageGraph> {
  const registry = target.repository?.registry;
  const sourceRepository = source.located && source.located.registry === registry ? source.located.repositoryName : undefined;
  // A layout's lazily referenced base layers are mounted from their repository in this registry,
  // as push mounts them, instead of fetched into the layout to be sent back.
  const recorded = registry !== undefined && isMountLookup(source.storage) ? await source.storage.mountLookup(registry) : undefined;
  const more = registry !== undefined ? options.moreMountSources : undefined;
  const declined: DeclinedMount[] = [];
  const graphOptions: CopyOptions = {
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(sourceRepository !== undefined || recorded || more ? {
      mountFrom: (d: Descriptor) => [
        ...(sourceRepository !== undefined && !options.madeInMemory?.has(d.digest) ? [sourceRepository] : []),
        ...(more?.(d, registry!) ?? []),
        ...(recorded?.(d) ?? []),
      ],
      onMountDeclined: (descriptor: Descriptor, from: string) => declined.push({ descriptor, repository: `${registry}/${from}` }),
    } : {}),
    ...(options.present ? { present: options.present } : {}),
    ...(options.inFlight ? { inFlight: options.inFlight } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const opened = root.digest === source.opened.descriptor.digest ? await openedBytes(source, options.signal) : undefined;
  const signaturesFrom = options.referrers && !target.archive ? await cosignTagSource(source, options) : undefined;
  try {
    const copied = await copyWithReferrers(source, target, root, options, { graphOptions, declined, opened, ...(signaturesFrom ? { signaturesFrom } : {}) });
    await signaturesFrom?.client.close();
    return copied;
  } catch (err) {
    await signaturesFrom?.client.destroy();
    throw err;
  }
}

/**
 * Between registries under COSIGN_REPOSITORY (not the source's own repository), the repository
 * the source's cosign tags are read from, as `cosign copy` reads them (ociremote.SignatureTag
 * names them in the target repository): its client is the caller's to close.
 */
async function cosignTagSource(source: ImageCopySource, options: ImageCopyOptions): Promise<{ repository: Repository; client: RegistryClient } | undefined> {
  const at = options.signaturesIn;
  if (source.layout || !source.located || !at || !options.connectSignatures) return undefined;
  if (at.registry === source.located.registry && at.repository === source.located.repositoryName) return undefined;
  const [{ Repository }, client] = await Promise.all([import('../registry/repository.js'), options.connectSignatures(at.registry)]);
  return { repository: new Repository(client, at.repository), client };
}

async function copyWithReferrers(
  source: ImageCopySource, target: ImageCopyTarget, root: Descriptor, options: ImageCopyOptions,
  p: { graphOptions: CopyOptions; declined: DeclinedMount[]; opened: Buffer | undefined; signaturesFrom?: { repository: Repository } },
): Promise<CopiedImageGraph> {
  const [{ copyGraph }, { recordMountSources }] = await Promise.all([import('../transfer/copy-graph.js'), import('../transfer/mount-sources.js')]);
  const { graphOptions, declined, opened } = p;
  const tagsFrom = p.signaturesFrom?.repository;
  const referring = options.referrers && !target.archive ? await referrersListedFirst(source, target, root, opened, options.signal, tagsFrom) : undefined;
  const result = await copyGraph(source.storage, target.storage, root, { ...graphOptions, ...(target.reference ? { rootReference: target.reference } : {}) });
  // Out of a layout into a registry: a later push there of an image sharing these blobs mounts them.
  if (target.repository) await recordMountSources(source.storage, result.nodes, `${target.repository.registry}/${target.repository.name}`, declined);
  // Into a layout by digest: listed in index.json without a name, as a pull by digest lists it.
  if (target.layout && target.reference === undefined) await listUnnamed(target.layout, root, opened);
  // An artifact copied by digest is listed among its subject's referrers there.
  if (target.repository && opened) await (await import('../transfer/referrer-ends.js')).indexAsReferrer(target.repository, root, opened);

  const { copyReferrers, referrerSubjects } = await import('../transfer/copy-referrers.js');
  const subjects = referrerSubjects(result);
  let referrers: CopiedReferrer[] = [];
  if (referring && source.layout && target.repository) {
    referrers = await copyLayoutReferrers({ layout: source.layout, name: source.name }, referring, target.repository, subjects, graphOptions, options);
  } else if (referring && tagsFrom) {
    // The OCI 1.1 referrers from the source's repository, the cosign tags from COSIGN_REPOSITORY's, both beside the copy.
    const { settled } = await import('./carry-referrers.js');
    referrers = (await settled([
      copyReferrers(referring.from, target.storage, subjects, { ...graphOptions, ...referring.ends, sourceTags: async () => [] }),
      copyReferrers(tagsFrom, target.storage, subjects, { ...plainCopyOptions(options), ...(referring.cosignTags ? { cosignTags: referring.cosignTags } : {}) }),
    ])).flat();
  } else if (referring) {
    referrers = await copyReferrers(referring.from, target.storage, subjects, { ...graphOptions, ...referring.ends, ...(referring.cosignTags ? { cosignTags: referring.cosignTags } : {}) });
  }
  // The registry cache entries a `build --cache-repo` left pending, as push writes them: a copy is
  // how crane and skopeo users put a built layout in a registry. A cache that fails is no failed copy.
  let cacheEntries = 0;
  if (source.layout && target.repository && isBlobSourceProvider(source.storage)) {
    const pushedTo = { registry: target.repository.registry, repository: target.repository.name };
    cacheEntries = await (await import('./push-extras.js')).writeCacheEntriesOf(source.layout, source.storage, result.nodes, {
      pushedTo, connect: options.connectCache, warn: options.warn,
    });
  }
  return { nodes: result.nodes, subjects, referrers, cacheEntries };
}

/**
 * A layout's referrers copied into a registry, as push carries them: under COSIGN_REPOSITORY its
 * cosign names and the signed referrers of the image's manifests (a provenance, a bundle) to the
 * signatures' repository, the others (an SBOM) beside the image; a provenance also to its `.att`
 * in the repository the signatures went to.
 */
async function copyLayoutReferrers(
  source: { layout: OciLayout; name: string }, referring: ReferrersListed, image: Repository, subjects: Descriptor[], graphOptions: CopyOptions, options: ImageCopyOptions,
): Promise<CopiedReferrer[]> {
  const [{ copyReferrers }, { referrerEnds }, { appendCopiedAttestations }, { carryReferrers }] = await Promise.all([
    import('../transfer/copy-referrers.js'), import('../transfer/referrer-ends.js'), import('../supply-chain/layout-attestations.js'), import('./carry-referrers.js'),
  ]);
  const { from, ends, cosignTags } = referring;
  const top = new Set(subjects.map((s) => s.digest));
  // Sorted at the image's manifests; what refers to a referrer (a signature of an SBOM) goes with it.
  // Listed once already, before the image was copied (referrersListedFirst): those lists are read.
  const listed = (holds: (artifactType: string | undefined) => boolean) => async (subject: Descriptor) => {
    const all = await (ends.listReferrers?.(subject) ?? []);
    return top.has(subject.digest) ? all.filter((d) => holds(d.artifactType)) : all;
  };
  return carryReferrers<CopiedReferrer>({
    image, signaturesIn: options.signaturesIn, connectSignatures: options.connectSignatures,
    send: async (to, half) => {
      if (!half) return copyReferrers(from, to, subjects, { ...graphOptions, ...ends, ...(cosignTags ? { cosignTags } : {}) });
      if (!half.signed) return copyReferrers(from, to, subjects, { ...graphOptions, ...ends, listReferrers: listed(half.holds), sourceTags: async () => [] });
      return copyReferrers(from, to, subjects, { ...plainCopyOptions(options), ...(await referrerEnds({ storage: from, name: source.name }, { repository: to })), listReferrers: listed(half.holds) });
    },
    after: (signatures, sent) => appendCopiedAttestations(source.layout, signatures, subjects, sent),
  });
}

/** A copy's options without the source repository's mounts: for referrers read from another repository (COSIGN_REPOSITORY's). */
function plainCopyOptions(options: ImageCopyOptions): CopyOptions {
  return { ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}), ...(options.signal ? { signal: options.signal } : {}) };
}

/** Where a copy's referrers come from and go, listed before the image was copied. */
interface ReferrersListed { from: ReadOnlyStorage; ends: ReferrerEnds; cosignTags?: Map<string, Descriptor | undefined> }

/**
 * Where the image's referrers come from and go, with every one of them listed, and cosign's tags
 * of the image looked up, before the image is copied (listReferrersFirst, lookUpCosignTags): the
 * image's manifests are its root and, under an index, each manifest (an index under it read in
 * turn), as referrerSubjects names them once copied.
 */
async function referrersListedFirst(
  source: ImageCopySource, target: ImageCopyTarget, root: Descriptor, rootBytes: Buffer | undefined, signal: AbortSignal | undefined, tagsFrom?: ReadOnlyStorage,
): Promise<ReferrersListed> {
  const [{ referrerEnds }, { listReferrersFirst, lookUpCosignTags }] = await Promise.all([import('../transfer/referrer-ends.js'), import('../transfer/copy-referrers.js')]);
  const from = source.referrersFrom ?? source.storage;
  const ends = await referrerEnds({ storage: from, name: source.name }, { ...(target.repository ? { repository: target.repository } : {}), ...(target.layout ? { layout: target.layout } : {}) });
  const subjects = await manifestsOf(source, root, rootBytes, signal);
  const [listReferrers, cosignTags] = await Promise.all([
    listReferrersFirst(from, subjects, { ...(ends.listReferrers ? { listReferrers: ends.listReferrers } : {}), ...(signal ? { signal } : {}) }),
    lookUpCosignTags(tagsFrom ?? from, subjects, signal),
  ]);
  return { from, ends: { ...ends, ...(listReferrers ? { listReferrers } : {}) }, ...(cosignTags ? { cosignTags } : {}) };
}

async function manifestsOf(source: ImageCopySource, manifest: Descriptor, bytes: Buffer | undefined, signal: AbortSignal | undefined): Promise<Descriptor[]> {
  const [{ isIndexMediaType }, { parseManifest, isIndex }, { MAX_MANIFEST_BYTES, readSmall }, { isManifestOrIndex }] = await Promise.all([
    import('../oci/media-types.js'), import('../oci/manifest.js'), import('../content/verify.js'), import('../transfer/copy-referrers.js'),
  ]);
  if (!isIndexMediaType(manifest.mediaType)) return [manifest];
  const where = `${source.name}: manifest ${manifest.digest}`;
  const parsed = parseManifest(bytes ?? await readSmall(await source.storage.fetch(manifest, signal ? { signal } : {}), MAX_MANIFEST_BYTES, where), where, manifest.mediaType);
  const children = isIndex(parsed) ? parsed.manifests.filter(isManifestOrIndex) : [];
  return [manifest, ...(await Promise.all(children.map((d) => manifestsOf(source, d, undefined, signal)))).flat()];
}

async function openedBytes(source: ImageCopySource, signal: AbortSignal | undefined): Promise<Buffer> {
  if (source.opened.bytes) return source.opened.bytes;
  const { MAX_MANIFEST_BYTES, readSmall } = await import('../content/verify.js');
  const descriptor = source.opened.descriptor;
  return readSmall(await source.storage.fetch(descriptor, signal ? { signal } : {}), MAX_MANIFEST_BYTES, `${source.name}: manifest ${descriptor.digest}`);
}

async function listUnnamed(layout: OciLayout, root: Descriptor, bytes: Buffer | undefined): Promise<void> {
  // An artifact whose subject the layout names (an SBOM, a signature of an image there) is kept as
  // the layout keeps referrers, as a copy by digest into a registry lists it among its subject's
  // referrers. Without its subject it stays an entry of its own: a referrer entry would leave at
  // the next record of referrers, which drops those whose subject is gone.
  const subject = bytes && (await import('../registry/referrers.js')).subjectOf(bytes);
  if (subject) {
    const { isReferrerEntry, recordLayoutReferrers } = await import('../content/layout-referrers.js');
    if ((await layout.readIndex()).manifests.some((d) => d.digest === subject && !isReferrerEntry(d))) {
      await recordLayoutReferrers(layout, [root]);
      return;
    }
  }
  await layout.updateIndex((index) => {
    if (!index.manifests.some((d) => d.digest === root.digest)) index.manifests.push({ mediaType: root.mediaType, digest: root.digest, size: root.size });
  });
}
