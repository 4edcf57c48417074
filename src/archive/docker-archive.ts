import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import { OcipushError } from '../errors.js';
import type { OciLayout } from '../content/layout.js';
import type { ReadOnlyStorage } from '../content/storage.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { digestAlgorithm, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { encodeJson, platformOfConfig, type ImageIndex } from '../oci/manifest.js';
import { blobPathInArchive } from './archive-storage.js';
import { qualifiedName } from './names.js';
import { addBuffer, addDirectory, addStream, copyInto } from './tar-pack.js';
import type { SelectedImage } from './select.js';

/**
 * The archive `docker load` and `podman load` read (the `manifest.json` + `RepoTags` format):
 *
 *   manifest.json               [{ Config, RepoTags, Layers }], one entry per image
 *   blobs/sha256/<hex>          manifests, configs and layers, each once, named by digest as
 *                               docker save ≥ 25 names them
 *   oci-layout, index.json      only with `ociLayout`: the same blobs read as an OCI layout
 *
 * The OCI index is optional, not the default, because loaders prefer it when it is there and
 * name images differently from it: podman load takes a one-image archive through its OCI path
 * (naming `hello:1` docker.io/library/hello:1) but a two-image archive through manifest.json
 * (localhost/hello:1), and containerd (docker's containerd store) reads index.json only and
 * ignores manifest.json. Without it, every loader names images from RepoTags alike.
 *
 * Layers are copied as the layout stores them (gzip stays gzip): docker load, podman load,
 * skopeo and containerd decompress layers whose bytes are compressed and check them against the
 * config's diff_ids, so nothing is recompressed and the blob digests stay those of the registry.
 */

/** One `manifest.json` entry, as docker save writes it. */
export interface DockerArchiveManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export interface ArchiveImageSummary {
  repoTags: string[];
  sources: string[];
  manifest: Digest;
  config: Digest;
  layers: Digest[];
}

export interface ArchiveOptions {
  /** Also write `oci-layout` and `index.json`, as docker save ≥ 25 does (see above). */
  ociLayout?: boolean;
  /** Called before each blob is copied into the archive. */
  onBlob?(blob: Descriptor, index: number, total: number): void;
}

export interface ArchiveSummary {
  images: ArchiveImageSummary[];
  /** Bytes of blobs written (tar headers and padding not counted). */
  blobBytes: number;
  blobCount: number;
}

function dockerManifestJson(images: SelectedImage[]): DockerArchiveManifestEntry[] {
  return images.map((image) => ({
    Config: blobPathInArchive(image.manifest.config.digest),
    RepoTags: image.repoTags,
    Layers: image.manifest.layers.map((l) => blobPathInArchive(l.digest)),
  }));
}

/**
 * The archive's own index.json: one entry per name (an untagged image gets one unnamed entry).
 * ref.name is the RepoTag as written, like skopeo's `oci:DIR:NAME`; the containerd annotation
 * carries the qualified name, as docker save writes it.
 */
function archiveIndex(images: SelectedImage[]): ImageIndex {
  const manifests: Descriptor[] = [];
  for (const image of images) {
    const base: Descriptor = {
      mediaType: image.descriptor.mediaType,
      digest: image.descriptor.digest,
      size: image.descriptor.size,
      platform: image.descriptor.platform ?? platformOfConfig(image.config),
    };
    if (image.repoTags.length === 0) manifests.push(base);
    for (const repoTag of image.repoTags) {
      manifests.push({
        ...base,
        annotations: { [Annotation.ContainerdImageName]: qualifiedName(repoTag), [Annotation.RefName]: repoTag },
      });
    }
  }
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
}

/** Where the layers come from: the layout, or a view of it that reads a lazy build's base layers from their registry. */
export type ArchiveBlobs = Pick<ReadOnlyStorage, 'exists' | 'fetch'>;

interface PlannedBlob {
  descriptor: Descriptor;
  /** Small blobs already read (manifests, configs); layers are streamed from the layout. */
  bytes?: Buffer;
}

/**
 * Manifests, configs and layers, each once. The manifest goes in without an OCI index too, as copy
 * writes a docker-archive: loaders read manifest.json alone, and a reader of the archive that finds
 * it (ocipush's, as docker save ≥ 25 keeps them) has the image under the layout's digest instead of
 * a Docker manifest made up from manifest.json, another digest.
 */
function planBlobs(images: SelectedImage[]): PlannedBlob[] {
  const seen = new Set<string>();
  const blobs: PlannedBlob[] = [];
  const add = (descriptor: Descriptor, bytes?: Buffer) => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    blobs.push(bytes ? { descriptor, bytes } : { descriptor });
  };
  for (const image of images) {
    add(image.descriptor, image.manifestBytes);
    add(image.manifest.config, image.configBytes);
    for (const layer of image.manifest.layers) add(layer);
  }
  return blobs;
}

/**
 * Writes the archive for `images` to `destination`, streaming each layer from the layout (and
 * verifying it against its digest on the way). Every layer is checked to exist before the first
 * byte is written, so a layout with a missing blob fails without output.
 */
export async function writeDockerArchive(
  layout: OciLayout,
  images: SelectedImage[],
  destination: Writable,
  options: ArchiveOptions = {},
  source: ArchiveBlobs = layout,
): Promise<ArchiveSummary> {
  if (images.length === 0) throw new OcipushError('ENOTFOUND', `${layout.root}: no image to export`);
  const blobs = planBlobs(images);
  for (const { descriptor, bytes } of blobs) {
    if (!bytes && !(await source.exists(descriptor))) {
      throw await layout.unusableBlobError(descriptor);
    }
  }

  const pack = tar.pack();
  const consumer = copyInto(pack, destination);
  const producer = (async () => {
    if (options.ociLayout) {
      await addBuffer(pack, 'oci-layout', encodeJson({ imageLayoutVersion: '1.0.0' }));
      await addBuffer(pack, 'index.json', encodeJson(archiveIndex(images)));
    }
    await addBuffer(pack, 'manifest.json', encodeJson(dockerManifestJson(images)));
    await addDirectory(pack, 'blobs/');
    for (const algorithm of new Set(blobs.map((b) => digestAlgorithm(b.descriptor.digest)))) {
      await addDirectory(pack, `blobs/${algorithm}/`);
    }
    let blobBytes = 0;
    for (const [i, blob] of blobs.entries()) {
      options.onBlob?.(blob.descriptor, i, blobs.length);
      const name = blobPathInArchive(blob.descriptor.digest);
      if (blob.bytes) await addBuffer(pack, name, blob.bytes);
      else await addStream(pack, name, blob.descriptor.size, await source.fetch(blob.descriptor), `blob ${blob.descriptor.digest} in ${layout.root}`);
      blobBytes += blob.descriptor.size;
    }
    pack.finalize();
    return blobBytes;
  })();
  producer.catch((err) => pack.destroy(err));

  const [produced, consumed] = await Promise.allSettled([producer, consumer]);
  // The first cause wins: a bad blob explains a destroyed pack, a full disk explains a failed entry.
  if (produced.status === 'rejected' && (produced.reason instanceof OcipushError || consumed.status === 'fulfilled')) throw produced.reason;
  if (consumed.status === 'rejected') throw consumed.reason;
  if (produced.status === 'rejected') throw produced.reason;

  return {
    images: images.map((image) => ({
      repoTags: image.repoTags,
      sources: image.sources,
      manifest: image.descriptor.digest,
      config: image.manifest.config.digest,
      layers: image.manifest.layers.map((l) => l.digest),
    })),
    blobBytes: produced.value,
    blobCount: blobs.length,
  };
}
