import { OcipushError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { sha256 } from '../oci/digest.js';
import { Annotation, entryPlatform, type Descriptor, type Platform } from '../oci/descriptor.js';
import { isIndexMediaType, isManifestMediaType, MediaType, type ImageFormat } from '../oci/media-types.js';
import { encodeJson, isIndex, parseImageConfig, parseManifest, platformOfConfig, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci/manifest.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, readSmall } from '../content/verify.js';
import { sortedRecord } from './config.js';
import { platformImages } from '../image/platform.js';

/** A new blob a rewrite made (a config or a manifest), with its exact bytes. */
export interface MadeBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** One container image of the root, as a rewrite sees it. */
export interface ImageToRewrite {
  descriptor: Descriptor;
  manifest: ImageManifest;
}

/** What a rewrite makes of one image: its new manifest and the blobs it made for it (a config). */
export interface ImageRewrite {
  manifest: ImageManifest;
  blobs: MadeBlob[];
  platform: Platform;
}

/** Rewrites one image, or keeps it as it is (undefined). */
export type RewriteImage = (image: ImageToRewrite) => Promise<ImageRewrite | undefined>;

export interface RewrittenImages {
  root: Descriptor;
  rootBytes: Buffer;
  /** Configs and manifests under the root that changed, children before their parents; the root is not among them. */
  blobs: MadeBlob[];
  /** Each image that changed: its old manifest digest and its new one. */
  images: { from: Digest; to: Digest; platform: Platform }[];
  /** Index entries left out: BuildKit's attestation manifests of an image that changed describe the old digest. */
  dropped: Descriptor[];
}

export interface RewriteOptions {
  /** Annotations set on the root (the manifest, or the index). */
  annotations?: Record<string, string>;
  /** The verb, for the error about a root that is no container image: `nothing to <verb>`. */
  verb: string;
  /** Indexes in this family's media type: an OCI image index, or a Docker manifest list. */
  format?: ImageFormat;
}

/** How deep indexes may nest before the root is refused (as the loader refuses it). */
const MAX_DEPTH = 4;


/**
 * The image `root` names with `rewrite` applied to each of its container images (every image of
 * an index, nested ones too), the root annotated, and the indexes above a changed image renamed:
 * each entry keeps its platform and annotations. What is not a container image under an index
 * (an artifact) stays, and so does a BuildKit attestation manifest, unless the image it describes
 * changed: then it is left out.
 * Only what changed is re-encoded: an unchanged image keeps its bytes and its digest.
 */
export async function rewriteImages(
  storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, name: string, rewrite: RewriteImage, options: RewriteOptions,
): Promise<RewrittenImages> {
  const walk = new Rewrite(storage, name, rewrite, options);
  const made = await walk.node(root, rootBytes, 0);
  return {
    root: made.descriptor,
    rootBytes: made.bytes,
    // The root is written last, under its tag: not among the blobs.
    blobs: walk.blobs.filter((b) => b.descriptor.digest !== made.descriptor.digest),
    images: walk.images,
    dropped: walk.dropped,
  };
}

class Rewrite {
  readonly blobs: MadeBlob[] = [];
  readonly images: RewrittenImages['images'] = [];
  readonly dropped: Descriptor[] = [];

  constructor(
    private readonly storage: ReadOnlyStorage, private readonly name: string,
    private readonly rewrite: RewriteImage, private readonly options: RewriteOptions,
  ) {}

  async node(desc: Descriptor, bytes: Buffer, depth: number): Promise<MadeBlob> {
    const parsed = parseManifest(bytes, `${this.name}: manifest ${desc.digest}`, desc.mediaType);
    const annotations = depth === 0 ? this.options.annotations : undefined;
    if (isIndex(parsed)) {
      if (depth >= MAX_DEPTH) throw new OcipushError('EINVALID', `${this.name}: image indexes nested too deep`);
      if (annotations && Object.keys(annotations).length > 0 && parsed.mediaType === MediaType.DockerManifestList) {
        throw new OcipushError('EUSAGE', `${this.name} is a Docker manifest list, which has no annotations: --annotation cannot go on it`);
      }
      return this.index(desc, bytes, parsed, depth, annotations);
    }
    if (parsed.config.mediaType !== MediaType.OciConfig && parsed.config.mediaType !== MediaType.DockerConfig) {
      if (depth > 0) return { descriptor: desc, bytes };
      throw new OcipushError('EUNSUPPORTED', `${this.name} is not a container image (config media type ${parsed.config.mediaType}): nothing to ${this.options.verb}`, { digest: desc.digest });
    }
    const rewritten = await this.rewrite({ descriptor: desc, manifest: parsed });
    const manifest = rewritten?.manifest ?? parsed;
    const merged = mergeAnnotations(manifest.annotations, annotations);
    if (!rewritten && merged === parsed.annotations) return { descriptor: desc, bytes };
    this.blobs.push(...(rewritten?.blobs ?? []));
    // An entry's os.version follows the config's (a Windows image rebased onto a patched base):
    // a runtime picks a Windows image by the entry's.
    const version = rewritten?.platform['os.version'];
    const platform = desc.platform?.['os.version'] && version ? { platform: { ...desc.platform, 'os.version': version } } : {};
    const made = this.store({ ...desc, mediaType: manifest.mediaType, ...platform }, encodeJson({ ...manifest, ...(merged ? { annotations: merged } : {}) }));
    if (rewritten) this.images.push({ from: desc.digest, to: made.descriptor.digest, platform: rewritten.platform });
    return made;
  }

  private async index(desc: Descriptor, bytes: Buffer, index: ImageIndex, depth: number, annotations: Record<string, string> | undefined): Promise<MadeBlob> {
    const changed = new Set<string>();
    const entries: Descriptor[] = [];
    for (const child of index.manifests) {
      // A BuildKit attestation manifest has an image config (for unknown/unknown) but is no image
      // to change: it stays, or goes with the image it describes when that changes.
      if ((!isManifestMediaType(child.mediaType) && !isIndexMediaType(child.mediaType)) || platformImages([child]).length === 0) {
        entries.push(child);
        continue;
      }
      const childBytes = await readSmall(await this.storage.fetch(child), MAX_MANIFEST_BYTES, `${this.name}: manifest ${child.digest}`);
      const made = await this.node(child, childBytes, depth + 1);
      if (made.descriptor.digest !== child.digest) changed.add(child.digest);
      entries.push(made.descriptor);
    }
    const manifests = entries.filter((e) => {
      const about = e.annotations?.[Annotation.ReferenceDigest];
      const stale = e.annotations?.[Annotation.ReferenceType] === 'attestation-manifest' && about !== undefined && changed.has(about);
      if (stale) this.dropped.push(e);
      return !stale;
    });
    const merged = mergeAnnotations(index.annotations, annotations);
    const mediaType = this.options.format === undefined ? index.mediaType : this.options.format === 'docker' ? MediaType.DockerManifestList : MediaType.OciIndex;
    if (changed.size === 0 && merged === index.annotations && mediaType === index.mediaType) return { descriptor: desc, bytes };
    if (mediaType === MediaType.DockerManifestList && merged && Object.keys(merged).length > 0) {
      throw new OcipushError('EUSAGE', `${this.name}: the index has annotations, which a Docker manifest list cannot hold`);
    }
    return this.store({ ...desc, mediaType }, encodeJson({ ...index, mediaType, manifests, ...(merged ? { annotations: merged } : {}) }));
  }

  private store(desc: Descriptor, bytes: Buffer): MadeBlob {
    const made = { descriptor: describeBytes(desc, bytes), bytes };
    this.blobs.push(made);
    return made;
  }
}

/** The config of one image of the root, read bounded and verified, named in errors. */
export async function readImageConfig(storage: ReadOnlyStorage, image: ImageToRewrite, name: string): Promise<ImageConfig> {
  const config = image.manifest.config;
  const where = `${name}: config ${config.digest}`;
  if (config.size > MAX_CONFIG_BYTES) throw new OcipushError('EINVALID', `${where}: ${config.size} bytes is too large`);
  return parseImageConfig(await readSmall(await storage.fetch(config), MAX_CONFIG_BYTES, where), where);
}

/**
 * The platform of one image of the root: its config's, with the variant of the index entry that
 * lists it when the config leaves it out (an arm/v6 image buildah listed with --variant), as the
 * loader reads it: the config alone would say arm, which is arm/v7.
 */
export function imagePlatform(image: ImageToRewrite, config: ImageConfig): Platform {
  return entryPlatform(platformOfConfig(config), image.descriptor.platform);
}

/** `desc` for other bytes: a descriptor's embedded `data` would be the old bytes, so it goes. */
export function describeBytes(desc: Descriptor, bytes: Buffer): Descriptor {
  const { data: _stale, ...rest } = desc as Descriptor & { data?: string };
  return { ...rest, digest: sha256(bytes), size: bytes.length };
}

/** `base` with `added` over it, keys sorted; `base` itself (the same object) when nothing would change. */
function mergeAnnotations(base: Record<string, string> | undefined, added: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!added || Object.entries(added).every(([k, v]) => base?.[k] === v)) return base;
  return sortedRecord({ ...(base ?? {}), ...added });
}
