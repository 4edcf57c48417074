import { OcipushError } from '../errors.js';
import { loadImageOrIndex, MAX_INDEX_DEPTH, readManifest } from '../image/load.js';
import { OciLayout } from '../content/layout.js';
import type { Digest } from '../oci/digest.js';
import { Annotation, formatPlatform, normalVariant, type Descriptor, type Platform } from '../oci/descriptor.js';
import { MediaType } from '../oci/media-types.js';
import { isIndex, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import { isLayoutRefName } from '../oci/reference.js';
import { sortedRecord } from './config.js';
import type { ReadOnlyStorage } from '../content/storage.js';

export interface CreateIndexOptions {
  /** The layout holding the images, where the index is written. */
  layout: string | OciLayout;
  /** Images of the layout (tags or digests), one per platform; an index adds all its manifests. */
  images: string[];
  /** The name the index gets in the layout. */
  tag: string;
  /** Annotations of the index (OCI only: a Docker manifest list has none). */
  annotations?: Record<string, string>;
}

export interface CreateIndexResult {
  digest: Digest;
  size: number;
  mediaType: string;
  tag: string;
  layout: string;
  /** The index's entries, in the order given. */
  manifests: Descriptor[];
}

/**
 * A multi-platform image: one index naming single-platform images that were built apart
 * (`ocipush build --platform linux/arm64 --tag app-arm64 …`), as `buildah manifest create` +
 * `add` or `crane index append` make it. Each entry carries its platform (from the image's
 * config), two images for one platform are refused, and the index is in the family of its
 * images: an OCI image index for OCI manifests, a Docker manifest list for Docker ones.
 */
export async function createImageIndex(options: CreateIndexOptions): Promise<CreateIndexResult> {
  if (!isLayoutRefName(options.tag)) throw new OcipushError('EUSAGE', `--tag "${options.tag}": not a valid name, e.g. latest or app:1.2`);
  if (options.images.length === 0) throw new OcipushError('EUSAGE', 'name at least one image of the layout to put in the index');
  const layout = typeof options.layout === 'string' ? await OciLayout.open(options.layout) : options.layout;
  const entries = new IndexEntries();
  for (const name of options.images) {
    const entry = await layout.resolve(name);
    const { parsed } = await readManifest(layout, entry, { name: `"${name}"` });
    if (isIndex(parsed)) {
      for (const child of parsed.manifests) {
        for (const added of await entries.addFrom(layout, child, `${name}@${child.digest.slice(0, 19)}`)) await mustHold(layout, added, name);
      }
    } else {
      // The image's own descriptor: index.json's entry annotates it with the layout's names.
      await entries.addFrom(layout, { mediaType: parsed.mediaType ?? entry.mediaType, digest: entry.digest, size: entry.size, ...(entry.platform ? { platform: entry.platform } : {}) }, name);
    }
  }
  const { mediaType, index } = entries.index(options.annotations);
  const desc = await layout.putJson(mediaType, index);
  await layout.tag(desc, options.tag);
  return { digest: desc.digest, size: desc.size, mediaType, tag: options.tag, layout: layout.root, manifests: entries.entries };
}

/**
 * An entry taken from an index the layout holds must be in the layout too: an index copied without
 * its images (skopeo's --multi-arch index-only, docker save of some platforms) is refused, as
 * buildah manifest add refuses it, before the new index names what is not there.
 */
async function mustHold(layout: OciLayout, desc: Descriptor, name: string): Promise<void> {
  if (await layout.exists(desc)) return;
  const what = desc.platform ? `for ${formatPlatform(desc.platform)}` : `(${desc.artifactType ?? 'no platform'})`;
  throw new OcipushError('ENOTFOUND', `"${name}" names ${desc.digest} ${what}, which ${layout.root} does not hold (an index copied without its images); name the images the layout has`, { digest: desc.digest });
}

/**
 * The entries of an index being made, in the order added: each with its platform, one image per
 * platform (an attestation manifest BuildKit made is kept beside its image), the same manifest
 * once. The index is in the family of its images: an OCI image index for OCI manifests, a Docker
 * manifest list for Docker ones; a mix is refused.
 */
export class IndexEntries {
  readonly entries: Descriptor[] = [];
  private readonly owners = new Map<string, string>();
  /** The name each entry was given under, in the order of `entries`. */
  private readonly names: string[] = [];

  /** `desc` an image's own descriptor, or an entry of an index given (its annotations kept); never a layout's index.json entry, whose annotations are the layout's. */
  add(desc: Descriptor, platform: Platform, name: string): void {
    if (this.entries.some((e) => e.digest === desc.digest)) return;
    const attestation = desc.annotations?.[Annotation.ReferenceType] !== undefined;
    if (!platform.os || !platform.architecture) {
      // A cosign signature image (os and architecture ""), an image crane made from scratch: an entry for "/" no runtime chooses.
      throw new OcipushError('EUSAGE', `"${name}" is for no platform (its config names no os or architecture: a cosign signature, an artifact, an image made without one): an index lists images by platform`, { digest: desc.digest });
    }
    const key = platformKey(platform);
    const owner = this.owners.get(key);
    if (owner !== undefined && !attestation) throw new OcipushError('EUSAGE', `"${owner}" and "${name}" are both ${key}: an index holds one image per platform`);
    if (!attestation) this.owners.set(key, name);
    this.names.push(name);
    // What an index's entry says of its image (BuildKit's attestation type, the annotations buildx puts on a
    // descriptor, an artifactType) goes with it, as buildx imagetools create and crane index append keep it.
    this.entries.push({
      mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform: cleanPlatform(platform),
      ...(desc.artifactType ? { artifactType: desc.artifactType } : {}),
      ...(desc.annotations ? { annotations: desc.annotations } : {}),
    });
  }

  /**
   * An entry of a source index: with its platform, else the platform its config says; an index
   * without a platform (an index inside the index) gives its own entries, a few levels deep.
   * Returns the entries added (an entry already there is not added again).
   */
  async addFrom(storage: ReadOnlyStorage, desc: Descriptor, name: string, depth = 1): Promise<Descriptor[]> {
    if (desc.platform) return this.added(desc, desc.platform, name);
    const { parsed } = await readManifest(storage, desc, { name: `"${name}"` });
    if (!isIndex(parsed) && isArtifact(desc, parsed)) return this.addedArtifact(desc, parsed, name);
    const node = await loadImageOrIndex(storage, desc, { name: `"${name}"` });
    if (node.kind === 'image') return this.added(desc, node.platform, name);
    if (depth >= MAX_INDEX_DEPTH) throw new OcipushError('EINVALID', `"${name}": image indexes nested too deep`);
    const added: Descriptor[] = [];
    for (const child of node.children) added.push(...await this.addFrom(storage, child, `${name}@${child.digest.slice(0, 19)}`, depth + 1));
    return added;
  }

  /**
   * An artifact (an SBOM, a signature pushed by oras) is for no platform: it is entered as it is,
   * without one, as buildx imagetools create and crane index append keep an index's entries; the
   * one-image-per-platform rule is for images.
   */
  private addedArtifact(desc: Descriptor, manifest: ImageManifest, name: string): Descriptor[] {
    if (this.entries.some((e) => e.digest === desc.digest)) return [];
    const artifactType = desc.artifactType ?? manifest.artifactType ?? manifest.config.mediaType;
    this.names.push(name);
    this.entries.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, artifactType, ...(desc.annotations ? { annotations: desc.annotations } : {}) });
    return [desc];
  }

  private added(desc: Descriptor, platform: Platform, name: string): Descriptor[] {
    const before = this.entries.length;
    this.add(desc, platform, name);
    return this.entries.length > before ? [desc] : [];
  }

  index(annotations?: Record<string, string>): { mediaType: string; index: ImageIndex } {
    const docker = this.entries.filter((e) => e.mediaType === MediaType.DockerManifest).length;
    if (docker > 0 && docker < this.entries.length) {
      const first = (docker: boolean) => this.names[this.entries.findIndex((e) => (e.mediaType === MediaType.DockerManifest) === docker)];
      throw new OcipushError('EUSAGE', `the images mix OCI and Docker media types ("${first(true)}" is Docker, "${first(false)}" is OCI): an index holds one family; make one the other's with ocipush mutate --format, or build them all with the same --format`);
    }
    const mediaType = docker > 0 ? MediaType.DockerManifestList : MediaType.OciIndex;
    const sorted = sortedRecord(annotations);
    if (sorted && docker > 0) throw new OcipushError('EUSAGE', 'a Docker manifest list has no annotations: build the images with --format oci to annotate the index');
    return { mediaType, index: { schemaVersion: 2, mediaType, manifests: this.entries, ...(sorted ? { annotations: sorted } : {}) } };
  }
}

/** A manifest whose config is no image config, or that says it is an artifact: no platform to list it by. */
function isArtifact(desc: Descriptor, manifest: ImageManifest): boolean {
  const config = manifest.config.mediaType;
  return desc.artifactType !== undefined || manifest.artifactType !== undefined || (config !== MediaType.OciConfig && config !== MediaType.DockerConfig);
}

/**
 * What makes two entries one platform, as containerd compares them: `linux/arm64` is
 * `linux/arm64/v8` (and `linux/arm` is `linux/arm/v7`, `linux/amd64/v1` is `linux/amd64`); Windows
 * images for two `os.version`s (ltsc2019, ltsc2022) are two platforms, as docker manifest create keeps them.
 */
function platformKey(p: Platform): string {
  const variant = p.architecture === 'amd64' && p.variant === 'v1' ? undefined : normalVariant(p);
  const key = formatPlatform({ os: p.os, architecture: p.architecture, ...(variant ? { variant } : {}) });
  return p['os.version'] ? `${key} (os.version ${p['os.version']})` : key;
}

function cleanPlatform(p: Platform): Platform {
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}),
    ...(p['os.features'] ? { 'os.features': p['os.features'] } : {}),
    ...(p.variant ? { variant: p.variant } : {}),
  };
}
