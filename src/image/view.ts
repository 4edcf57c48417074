import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import type { ImageFormat } from '../oci/media-types.js';
import type { ImageConfig, ImageIndex, ImageManifest } from '../oci/manifest.js';
import type { BlobSource } from '../content/blob-source.js';
import type { OperationOptions } from '../content/storage.js';

/**
 * Read-only views of what a storage holds, in the spirit of go-containerregistry's v1.Image,
 * v1.ImageIndex and v1.Layer: the same shapes whether the bytes live in a layout, a registry or
 * an archive. Manifests and configs are small and held as exact bytes (their digests are of
 * those bytes); layers are re-readable blobs, opened when needed and never held.
 */

/** A blob of an image: re-readable whole (verified against its digest) or as a source for chunked uploads. */
export interface BlobView {
  readonly descriptor: Descriptor;
  open(options?: OperationOptions): Promise<Readable>;
  /** The same blob for a reader that needs ranges and repeats (uploads). */
  source(): BlobSource;
}

export interface LayerView extends BlobView {
  /** The digest of the uncompressed tar: the config's `rootfs.diff_ids` entry for this layer. */
  readonly diffId: Digest;
}

/** One single-platform image. */
export interface ImageView {
  readonly kind: 'image';
  /** The manifest's descriptor, its media type the manifest's own (a platform entry keeps its platform). */
  readonly descriptor: Descriptor;
  readonly manifestBytes: Buffer;
  readonly manifest: ImageManifest;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
  readonly configBlob: BlobView;
  /** Layers in manifest order (base first), each with its diff_id. */
  readonly layers: readonly LayerView[];
  /** The platform the config declares (a variant it leaves out: the one of the index entry that chose the image). */
  readonly platform: Platform;
  /** `docker` for a Docker v2 schema 2 manifest, else `oci`. */
  readonly format: ImageFormat;
  /** The index this image was chosen from, when the reference named one. */
  readonly index?: Descriptor;
}

/** A multi-platform image index (or a Docker manifest list). */
export interface IndexView {
  readonly kind: 'index';
  readonly descriptor: Descriptor;
  readonly manifestBytes: Buffer;
  readonly index: ImageIndex;
  /** The index's entries, as it lists them. */
  readonly children: readonly Descriptor[];
}

/** What a descriptor names: an image or an index. */
export type ImageOrIndex = ImageView | IndexView;
