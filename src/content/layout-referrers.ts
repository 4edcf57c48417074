import { Annotation, EMPTY_JSON, type Descriptor } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { encodeJson, isIndex, parseManifest, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { OciLayout } from './layout.js';
import { MAX_MANIFEST_BYTES } from './verify.js';

/**
 * OCI 1.1 referrers kept in a layout (an SBOM a build made, say), as oras keeps them: untagged
 * `index.json` entries that carry their `artifactType`, whose manifests name a `subject`. They
 * are not images: a layout's "only image" and its tags never count them, and they leave with
 * their subject. An entry that also has a name (`oras push --oci-layout DIR:TAG`, `artifact
 * push`, a tag given to an SBOM) is the layout's own, as oras-go's gc keeps every tagged one: it
 * counts as the layout's content and stays until its name is deleted.
 */

export function isReferrerEntry(entry: Descriptor): boolean {
  return entry.artifactType !== undefined && entry.annotations?.[Annotation.RefName] === undefined;
}

/** An entry that may be a referrer, named or not: what the referrers of a subject are looked for among. */
export function hasArtifactType(entry: Descriptor): boolean {
  return entry.artifactType !== undefined;
}

/** cosign's names for what it attaches to an image, as a copy from a registry or `sign` keeps them in a layout. */
const COSIGN_NAME = /^sha256-([0-9a-f]{64})\.(?:sig|att|sbom)$/;

/**
 * The `kind` annotation of the entries `cosign save` writes (cosign's pkg/oci/layout): its one
 * image (or index), unnamed, and the image of its signatures and of its attestations, which
 * `cosign verify --local-image` and `cosign load` read.
 */
const COSIGN_SAVE_KIND = 'kind';
const COSIGN_SAVED: Record<string, 'sig' | 'att'> = { 'dev.cosignproject.cosign/sigs': 'sig', 'dev.cosignproject.cosign/atts': 'att' };
const COSIGN_SAVED_SUBJECT = new Set(['dev.cosignproject.cosign/image', 'dev.cosignproject.cosign/imageIndex']);

/** The image a cosign name (`sha256-<hex>.sig` …) is of, or undefined for any other entry. */
export function cosignNameSubject(entry: Descriptor): string | undefined {
  const hex = COSIGN_NAME.exec(entry.annotations?.[Annotation.RefName] ?? '')?.[1];
  return hex === undefined ? undefined : `sha256:${hex}`;
}

/**
 * An entry named as cosign names a signature, attestation or SBOM (`sha256-<hex>.sig` …), or one
 * `cosign save` marks as the signatures or attestations: not an image of its own either.
 */
export function isCosignEntry(entry: Descriptor): boolean {
  return COSIGN_NAME.test(entry.annotations?.[Annotation.RefName] ?? '') || COSIGN_SAVED[entry.annotations?.[COSIGN_SAVE_KIND] ?? ''] !== undefined;
}

/**
 * In a layout `cosign save` wrote, its signatures and attestations under the names cosign gives
 * them in a registry (`sha256-<hex>.sig` / `.att` of the saved image): verify and
 * verify-attestation read them so, and copy and push carry them, as `cosign load` does. Empty
 * for any other layout.
 */
export function cosignSavedNames(index: ImageIndex): Map<string, Descriptor> {
  const subjects = index.manifests.filter((d) => COSIGN_SAVED_SUBJECT.has(d.annotations?.[COSIGN_SAVE_KIND] ?? ''));
  const names = new Map<string, Descriptor>();
  if (subjects.length !== 1) return names;
  const prefix = subjects[0]!.digest.replace(':', '-');
  for (const entry of index.manifests) {
    const suffix = COSIGN_SAVED[entry.annotations?.[COSIGN_SAVE_KIND] ?? ''];
    if (suffix && !names.has(`${prefix}.${suffix}`)) names.set(`${prefix}.${suffix}`, entry);
  }
  return names;
}

/** The image entries of an index (referrer entries and cosign's names left out): what "the only image" of a layout counts. */
export function imageEntries(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((d) => !isReferrerEntry(d) && !isCosignEntry(d));
}

export interface LayoutReferrer {
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: ImageManifest;
}

/** The referrers of `subject` the layout holds, oldest first. */
export async function layoutReferrers(layout: OciLayout, subject: Pick<Descriptor, 'digest'>): Promise<LayoutReferrer[]> {
  const found: LayoutReferrer[] = [];
  const seen = new Set<string>();
  for (const entry of (await layout.readIndex()).manifests) {
    if (!hasArtifactType(entry) || seen.has(entry.digest)) continue;
    if (!(await layout.exists(entry))) {
      // A file cut short is damage, said as a changed one is (readBlob's EDIGEST): passed over, a
      // push or copy left the SBOM behind and said nothing. Only a missing one is passed over.
      const unusable = await layout.unusableBlobError(entry, `${layout.root}: referrer ${entry.digest} (${entry.artifactType})`);
      if (unusable.code === 'EDIGEST') throw unusable;
      continue;
    }
    seen.add(entry.digest);
    const bytes = await layout.readBlob(entry, MAX_MANIFEST_BYTES);
    const manifest = JSON.parse(bytes.toString('utf8')) as ImageManifest;
    if (manifest.subject?.digest === subject.digest) found.push({ descriptor: entry, bytes, manifest });
  }
  return found;
}

/**
 * The referrers of `subject` as the OCI 1.1 referrers API lists them: each descriptor with its
 * artifactType and its manifest's annotations; only those of `artifactType` when given.
 */
export async function listLayoutReferrers(layout: OciLayout, subject: Pick<Descriptor, 'digest'>, artifactType?: string): Promise<Descriptor[]> {
  return (await layoutReferrers(layout, subject))
    .map(({ descriptor: d, manifest }) => ({
      mediaType: d.mediaType, digest: d.digest, size: d.size,
      ...(d.artifactType ? { artifactType: d.artifactType } : {}),
      ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    }))
    .filter((d) => artifactType === undefined || d.artifactType === artifactType);
}

/** A blob of a referrer: its bytes, or chunks made as they are written (a large SBOM). */
export type ReferrerBlob = { mediaType: string; annotations?: Record<string, string> } & ({ bytes: Buffer } | { chunks: Iterable<Uint8Array> });

/**
 * Stores an artifact that refers to `subject` — the empty config, `blobs` as its layers — and
 * lists it in index.json. Referrer entries of images no longer in the index go at the same time:
 * a rebuilt tag does not accumulate the SBOMs of the images it replaced.
 */
export async function storeLayoutReferrer(
  layout: OciLayout, subject: Descriptor, artifactType: string,
  blobs: ReferrerBlob[], annotations: Record<string, string> = {},
): Promise<Descriptor> {
  const config = await layout.putBytes(MediaType.OciEmpty, EMPTY_JSON);
  const layers: Descriptor[] = [];
  for (const blob of blobs) {
    const extra = blob.annotations ? { annotations: blob.annotations } : {};
    layers.push('bytes' in blob ? await layout.putBytes(blob.mediaType, blob.bytes, extra) : await layout.putChunks(blob.mediaType, blob.chunks, extra));
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const stored = await layout.putBytes(MediaType.OciManifest, encodeJson(manifest));
  const entry: Descriptor = { mediaType: stored.mediaType, digest: stored.digest, size: stored.size, artifactType };
  await recordLayoutReferrers(layout, [entry]);
  return entry;
}

/**
 * Lists `referrers` (stored manifests that name a `subject`) in index.json as referrer
 * entries, and drops the referrer entries whose subject the layout no longer names: a rebuilt
 * tag does not accumulate the SBOMs of the images it replaced. A subject is named by an image
 * entry, by an index under one (a platform's signature, copied with its index), or by another
 * referrer kept (the signature of an SBOM); the entries given are kept whatever their subject.
 */
export async function recordLayoutReferrers(layout: OciLayout, referrers: readonly Descriptor[]): Promise<void> {
  const before = await layout.readIndex();
  const subjects = new Map<string, string | undefined>();
  for (const d of before.manifests) {
    if (!isReferrerEntry(d) || !(await layout.exists(d))) continue;
    subjects.set(d.digest, (await readReferrer(layout, d)).subject?.digest);
  }
  const named = await manifestsUnder(layout, before.manifests.filter((d) => !isReferrerEntry(d)));
  const added = new Set(referrers.map((r) => r.digest));
  const entries: Descriptor[] = [];
  for (const r of referrers) {
    const manifest = await readReferrer(layout, r);
    // What the new entries refer to stays named, and so do its other referrers (an image not tagged yet).
    if (manifest.subject) named.add(manifest.subject.digest);
    // As the referrers API lists it: the manifest's artifactType, else its config's media type (an index has none).
    const artifactType = r.artifactType ?? manifest.artifactType ?? manifest.config?.mediaType ?? r.mediaType;
    entries.push({ mediaType: r.mediaType, digest: r.digest, size: r.size, artifactType });
  }
  await layout.updateIndex((index) => {
    for (const d of index.manifests) if (!isReferrerEntry(d)) named.add(d.digest);
    for (const digest of added) named.add(digest);
    // A referrer of a kept referrer is kept: repeated until nothing more is named.
    let grown = true;
    while (grown) {
      grown = false;
      for (const [digest, subject] of subjects) {
        if (!named.has(digest) && (subject === undefined || named.has(subject))) {
          named.add(digest);
          grown = true;
        }
      }
    }
    index.manifests = index.manifests.filter((d) => {
      if (added.has(d.digest) && isReferrerEntry(d)) return false;
      // An entry another writer added meanwhile is not known here: it stays.
      return !isReferrerEntry(d) || !subjects.has(d.digest) || named.has(d.digest);
    });
    index.manifests.push(...entries);
  });
}

/**
 * `after`, an index.json change of `before`, without the entries that referred to a manifest the
 * change left unreached (the image a name moved away from, or whose name was deleted): its
 * referrer entries, cosign's `sha256-<hex>.sig/.att/.sbom` of it, and in turn theirs. Left in,
 * they would list an SBOM or signature of an image no name reaches, and gc would keep that image
 * through their `subject`. Only what referred to a manifest that left is judged: a referrer whose
 * subject was never here (a signature copied alone) stays, and a named artifact is the layout's
 * own. When a manifest cannot be read, what it reaches is unknown, and nothing is dropped.
 */
export async function withoutReferrersOfLeft(layout: OciLayout, before: readonly Descriptor[], after: Descriptor[]): Promise<Descriptor[]> {
  const present = new Set(after.map((d) => d.digest));
  const left = before.filter((d) => !present.has(d.digest));
  if (left.length === 0) return after;
  const live = await reachable(layout, after.filter((d) => !isReferrerEntry(d) && !COSIGN_NAME.test(d.annotations?.[Annotation.RefName] ?? '')));
  const gone = await reachable(layout, left);
  if (!live || !gone) return after;
  const orphaned = new Set([...gone].filter((d) => !live.has(d)));
  const subjects = new Map<string, string | undefined>();
  let kept = after;
  while (orphaned.size > 0) {
    const dropped: Descriptor[] = [];
    for (const d of kept) {
      const cosign = COSIGN_NAME.exec(d.annotations?.[Annotation.RefName] ?? '');
      if (cosign && orphaned.has(`sha256:${cosign[1]}`)) { dropped.push(d); continue; }
      if (!isReferrerEntry(d)) continue;
      if (!subjects.has(d.digest)) subjects.set(d.digest, await readReferrer(layout, d).then((m) => m.subject?.digest, () => undefined));
      if (orphaned.has(subjects.get(d.digest) ?? '')) dropped.push(d);
    }
    if (dropped.length === 0) break;
    kept = kept.filter((d) => !dropped.includes(d));
    orphaned.clear();
    const still = new Set(kept.map((d) => d.digest));
    for (const d of dropped) if (!still.has(d.digest) && !live.has(d.digest)) orphaned.add(d.digest);
  }
  return kept;
}

/** Every manifest `entries` reach through indexes, or undefined when one cannot be read. */
async function reachable(layout: OciLayout, entries: readonly Descriptor[]): Promise<Set<string> | undefined> {
  try {
    return await manifestsUnder(layout, entries, true);
  } catch {
    return undefined;
  }
}

async function readReferrer(layout: OciLayout, referrer: Descriptor): Promise<ImageManifest> {
  return JSON.parse((await layout.readBlob(referrer, MAX_MANIFEST_BYTES)).toString('utf8')) as ImageManifest;
}

/**
 * The image entries and every manifest under those that are indexes (stored ones; a missing child
 * is skipped, or with `strict` fails, as does an index.json entry whose blob is missing).
 */
async function manifestsUnder(layout: OciLayout, entries: readonly Descriptor[], strict = false): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const d = queue.shift()!;
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    if (!isIndexMediaType(d.mediaType)) continue;
    if (!(await layout.exists(d))) {
      if (strict) throw await layout.unusableBlobError(d);
      continue;
    }
    const parsed = parseManifest(await layout.readBlob(d, MAX_MANIFEST_BYTES), `${layout.root}: ${d.digest}`, d.mediaType);
    if (isIndex(parsed)) queue.push(...parsed.manifests);
  }
  return seen;
}
