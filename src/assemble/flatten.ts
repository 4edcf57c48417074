import { Readable, Writable } from 'node:stream';
import { Digester, type Digest } from '../oci/digest.js';
import { Annotation, formatPlatform, type Descriptor, type Platform } from '../oci/descriptor.js';
import { OcipushError } from '../errors.js';
import { encodeJson, type HistoryEntry, type ImageConfig } from '../oci/manifest.js';
import { layerMediaType, type Compression } from '../oci/media-types.js';
import type { BlobSourceProvider, OperationOptions, ReadOnlyStorage } from '../content/storage.js';
import { madeSource, type BlobSource } from '../content/blob-source.js';
import type { BorrowedBlobs } from '../content/with-blobs.js';
import { createCompressor } from '../layer/compress/compressor.js';
import { loadImage } from '../image/load.js';
import type { ImageView } from '../image/view.js';
import { writeFilesystem, type FilesystemSummary } from '../archive/filesystem.js';
import { describeBytes, imagePlatform, readImageConfig, rewriteImages, type ImageRewrite, type ImageToRewrite, type RewrittenImages } from './rewrite-images.js';

export interface FlattenOptions {
  /** Compression of the one layer (default gzip, at the build's default level). */
  compression?: Exclude<Compression, 'none'>;
  level?: number;
  /** Told as each image's layer is first made (it is read once to learn its digest). */
  onImage?: (platform: Platform, layers: number) => void;
}

/** One image whose layers became one. */
export interface FlattenedImage {
  platform: Platform;
  /** Layers it had. */
  layers: number;
  layer: Descriptor;
  diffId: Digest;
  summary: FilesystemSummary;
}

export interface FlattenedImages extends RewrittenImages {
  flattened: FlattenedImage[];
  /** The layers made, for a copy to read: each made again from the image's layers whenever it is read. */
  layers: BorrowedBlobs;
}

/** Annotations that name the base an image was built on: after flattening, no layer of it is the base's. */
const BASE_ANNOTATIONS = [Annotation.BaseDigest, Annotation.BaseName] as string[];

/**
 * The image `root` names with the layers of each of its images (every platform of an index) made
 * into one, as `crane flatten` does: the layer is the filesystem the layers make (whiteouts
 * applied, `archive/filesystem.ts`), compressed as a build compresses. The config keeps all but
 * its history, which becomes one entry naming the flattened manifest; the base annotations go.
 * An image of one layer stays as it is. The layer is never stored here: it is made once now to
 * learn its digest, and made again, to the same bytes (the tar and the compressor depend on
 * nothing but their input), when the copy reads it — so a registry-to-registry flatten stages
 * nothing on disk and holds no layer in memory.
 */
export async function flattenImages(storage: ReadOnlyStorage, root: Descriptor, rootBytes: Buffer, name: string, options: FlattenOptions = {}): Promise<FlattenedImages> {
  const layers = new FlattenedLayers(options);
  const flattened: FlattenedImage[] = [];
  const rewrite = async (toRewrite: ImageToRewrite): Promise<ImageRewrite | undefined> => {
    const { descriptor, manifest } = toRewrite;
    if (manifest.layers.length <= 1) return undefined;
    const image = await loadImage(storage, descriptor, { name, requireLayers: true });
    const platform = imagePlatform(toRewrite, image.config);
    options.onImage?.(platform, image.layers.length);
    const made = await layers.add(image, name);
    flattened.push({ platform, layers: image.layers.length, ...made });
    const history: HistoryEntry = {
      ...(image.config.created ? { created: image.config.created } : {}),
      created_by: `ocipush flatten ${descriptor.digest}`,
      comment: `${image.layers.length} layers flattened into one`,
    };
    const configBytes = encodeJson({ ...image.config, rootfs: { type: 'layers', diff_ids: [made.diffId] }, history: [history] });
    const config = describeBytes(manifest.config, configBytes);
    const { annotations, ...rest } = manifest;
    const kept = Object.entries(annotations ?? {}).filter(([key]) => !BASE_ANNOTATIONS.includes(key));
    return {
      manifest: { ...rest, config, layers: [made.layer], ...(kept.length > 0 ? { annotations: Object.fromEntries(kept) } : {}) },
      blobs: [{ descriptor: config, bytes: configBytes }],
      platform,
    };
  };
  // Every image is looked at (manifests and configs only) before any layer is made: a Windows
  // image of an index is refused before the others' layers are read.
  await rewriteImages(storage, root, rootBytes, name, async (image) => refuseWindows(image, await readImageConfig(storage, image, name), name), { verb: 'flatten' });
  const changed = await rewriteImages(storage, root, rootBytes, name, rewrite, { verb: 'flatten' });
  return { ...changed, flattened, layers: { storage: layers, descriptors: flattened.map((f) => f.layer) } };
}

/**
 * Windows applies its layers itself: a layer's Hives/ are registry deltas merged onto the base's,
 * not files, and the base layer is processed as one (UtilityVM/). Merged as files, they would make
 * a layer no Windows host runs as the image ran.
 */
function refuseWindows(image: ImageToRewrite, config: ImageConfig, name: string): undefined {
  const platform = imagePlatform(image, config);
  if (platform.os !== 'windows' || image.manifest.layers.length <= 1) return undefined;
  throw new OcipushError('EUNSUPPORTED', `${name} (${formatPlatform(platform)}) is a Windows image: its layers are applied by Windows (registry deltas onto the base layer), and ocipush cannot merge them into one; nothing flattened`, { digest: image.descriptor.digest });
}

/** The flattened layers as a storage: `fetch` makes a layer again, verified against what the first making gave. */
class FlattenedLayers implements ReadOnlyStorage, BlobSourceProvider {
  private readonly sources = new Map<string, BlobSource>();

  constructor(private readonly options: FlattenOptions) {}

  /** Makes the image's layer once, to learn its digest, size and diff_id. */
  async add(image: ImageView, name: string): Promise<{ layer: Descriptor; diffId: Digest; summary: FilesystemSummary }> {
    const compressor = this.compressor(true);
    const blob = new Digester();
    const written = compressor.writeTo(new Writable({
      write(chunk: Buffer, _encoding, callback) {
        blob.update(chunk);
        callback();
      },
    }));
    const [summary] = await Promise.all([this.fill(image, name, compressor), written]);
    const compression = this.options.compression ?? 'gzip';
    const layer: Descriptor = { mediaType: layerMediaType(compression, image.format), digest: blob.digest(), size: blob.size };
    this.sources.set(layer.digest, madeSource(() => this.make(image, name), layer, `the flattened layer ${layer.digest} of ${image.descriptor.digest}`));
    return { layer, diffId: compressor.inputDigest().digest, summary };
  }

  async exists(desc: Pick<Descriptor, 'digest'>): Promise<boolean> {
    return this.sources.has(desc.digest);
  }

  async fetch(desc: Descriptor, _options?: OperationOptions): Promise<Readable> {
    return Readable.from(await this.blobSource(desc).open());
  }

  blobSource(desc: Pick<Descriptor, 'digest'>): BlobSource {
    const source = this.sources.get(desc.digest);
    if (!source) throw new Error(`flatten: no layer ${desc.digest} was made`);
    return source;
  }

  private make(image: ImageView, name: string): Readable {
    const compressor = this.compressor(false);
    this.fill(image, name, compressor).catch(() => {});
    return compressor;
  }

  /** Writes the image's filesystem into the compressor; a failure on either side ends both. */
  private async fill(image: ImageView, name: string, compressor: ReturnType<typeof createCompressor>): Promise<FilesystemSummary> {
    try {
      return await writeFilesystem(image, compressor, name);
    } catch (err) {
      compressor.destroy(err as Error);
      throw err;
    }
  }

  private compressor(digestInput: boolean) {
    return createCompressor({
      compression: this.options.compression ?? 'gzip', digestInput,
      ...(this.options.level !== undefined ? { level: this.options.level } : {}),
    });
  }
}
