import { OcipushError } from '../errors.js';
import { Annotation, describePlatform, platformArgument, platformMatches, type Descriptor, type Platform } from '../oci/descriptor.js';
import { sha256 } from '../oci/digest.js';
import { encodeJson, isIndex, parseManifest, type ImageIndex } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { withBlobs } from '../content/with-blobs.js';
import { loadImage, MAX_INDEX_DEPTH, readManifest } from '../image/load.js';
import { listPlatforms, platformImages } from '../image/platform.js';

export interface FilteredRoot {
  descriptor: Descriptor;
  bytes: Buffer;
  /** Whether the root had to change (the index had entries for other platforms). */
  changed: boolean;
  /** The nested indexes made anew under it (an index inside the index narrowed too). */
  made: { descriptor: Descriptor; bytes: Buffer }[];
}

/**
 * The root with only the images for `platforms`, as `crane index filter` keeps them: an index
 * keeps its entries for those platforms (and the BuildKit attestation manifests of the images it
 * keeps), in their order, with its media type and annotations; one missing platform is an error.
 * An entry without a platform is what its config says, or, an index inside the index, narrowed
 * the same way (kept when it holds one of the platforms), as `--platform` with one platform
 * looks into it. An index that holds nothing else stays as it is, bytes and digest; so does a
 * single image for one of the platforms.
 */
export async function filterPlatforms(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<FilteredRoot> {
  const parsed = parseManifest(rootBytes, name, root.mediaType);
  if (!isIndex(parsed)) {
    const { offered, available } = await platformsOffered(storage, root, rootBytes, platforms, name);
    if (offered.length === 0) {
      throw new OcipushError('ENOTFOUND', `${name} is one image for ${available}, not for ${platforms.map(platformArgument).join(', ')} (--platform)`, { digest: root.digest });
    }
    return { descriptor: root, bytes: rootBytes, changed: false, made: [] };
  }
  const walk = new PlatformWalk(storage, platforms, name);
  const filtered = await walk.index(root, rootBytes, parsed, 1);
  const missing = platforms.find((p) => !walk.offered.has(p));
  if (missing) throw new OcipushError('ENOTFOUND', `${name} has no image for ${platformArgument(missing)} (it has: ${walk.available()})`, { digest: root.digest });
  return { descriptor: filtered.descriptor, bytes: filtered.bytes, changed: filtered.descriptor.digest !== root.digest, made: walk.made.filter((m) => m.descriptor.digest !== filtered.descriptor.digest) };
}

/**
 * Which of `platforms` a root has an image for, and every platform it has (`linux/amd64, …`, an
 * index entry that is not an image by its digest), for a line that says so.
 */
export async function platformsOffered(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<{ offered: Platform[]; available: string }> {
  const parsed = parseManifest(rootBytes, name, root.mediaType);
  if (!isIndex(parsed)) {
    const images = [{ ...root, platform: (await loadImage(storage, root, { name })).platform }];
    return { offered: platforms.filter((p) => images.some((d) => platformMatches(p, d.platform))), available: listPlatforms(images) };
  }
  const walk = new PlatformWalk(storage, platforms, name);
  await walk.index(root, rootBytes, parsed, 1);
  return { offered: platforms.filter((p) => walk.offered.has(p)), available: walk.available() };
}

/** One walk of an index and the indexes without a platform inside it: what is kept, what is offered, what there is. */
class PlatformWalk {
  readonly offered = new Set<Platform>();
  readonly made: { descriptor: Descriptor; bytes: Buffer }[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly storage: ReadOnlyStorage, private readonly platforms: readonly Platform[], private readonly name: string) {}

  available(): string {
    return [...this.seen].join(', ') || 'none';
  }

  /** The index with only the wanted platforms' entries: as it was when it holds nothing else, else made anew. */
  async index(desc: Descriptor, bytes: Buffer, parsed: ImageIndex, depth: number): Promise<{ descriptor: Descriptor; bytes: Buffer; empty: boolean }> {
    const kept = new Set<string>();
    const replaced = new Map<string, Descriptor>();
    for (const entry of platformImages(parsed.manifests)) {
      if (entry.platform) {
        this.seen.add(describePlatform(entry.platform));
        if (this.wants(entry.platform)) kept.add(entry.digest);
        continue;
      }
      const read = await readManifest(this.storage, entry, { name: this.name });
      if (isIndex(read.parsed)) {
        if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `${this.name}: image indexes nested too deep`);
        const inner = await this.index(entry, read.bytes, read.parsed, depth + 1);
        if (inner.empty) continue;
        kept.add(entry.digest);
        if (inner.descriptor.digest !== entry.digest) replaced.set(entry.digest, { ...entry, digest: inner.descriptor.digest, size: inner.descriptor.size });
        continue;
      }
      const configType = read.parsed.config.mediaType;
      if (configType !== MediaType.OciConfig && configType !== MediaType.DockerConfig) {
        this.seen.add(entry.digest);
        continue;
      }
      const platform = (await loadImage(this.storage, entry, { name: this.name })).platform;
      this.seen.add(describePlatform(platform));
      if (this.wants(platform)) kept.add(entry.digest);
    }
    const manifests = parsed.manifests.filter((d) => kept.has(d.digest)
      || (d.annotations?.[Annotation.ReferenceType] !== undefined && kept.has(d.annotations[Annotation.ReferenceDigest] ?? '')))
      .map((d) => replaced.get(d.digest) ?? d);
    const empty = kept.size === 0;
    if (manifests.length === parsed.manifests.length && replaced.size === 0) return { descriptor: desc, bytes, empty };
    const made = encodeJson({ ...parsed, manifests });
    const descriptor = { mediaType: desc.mediaType, digest: sha256(made), size: made.length };
    this.made.push({ descriptor, bytes: made });
    return { descriptor, bytes: made, empty };
  }

  private wants(platform: Platform): boolean {
    let any = false;
    for (const p of this.platforms) {
      if (platformMatches(p, platform)) {
        this.offered.add(p);
        any = true;
      }
    }
    return any;
  }
}

/**
 * `storage` seen with its root narrowed to `platforms` (`filterPlatforms`): an index made anew is
 * added in memory (with the nested indexes made anew under it), for a copy to write from there;
 * `changed` false when the root stays as it is. `made` lists the digests made in memory.
 */
export async function narrowToPlatforms(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, platforms: readonly Platform[], name: string,
): Promise<{ storage: ReadOnlyStorage; root: Descriptor; rootBytes: Buffer; changed: boolean; made: Descriptor['digest'][] }> {
  const filtered = await filterPlatforms(storage, root, rootBytes, platforms, name);
  if (!filtered.changed) return { storage, root, rootBytes, changed: false, made: [] };
  const blobs = [{ descriptor: filtered.descriptor, bytes: filtered.bytes }, ...filtered.made];
  return { storage: withBlobs(storage, blobs), root: filtered.descriptor, rootBytes: filtered.bytes, changed: true, made: blobs.map((b) => b.descriptor.digest) };
}
