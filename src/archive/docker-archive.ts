import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import { OcipushError, systemReason } from '../errors.js';
import type { OciLayout } from '../content/layout.js';
import { Annotation, type Descriptor } from '../oci/descriptor.js';
import { digestAlgorithm, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { encodeJson, platformOfConfig, type ImageIndex } from '../oci/manifest.js';
import { blobPathInArchive } from './archive-storage.js';
import { qualifiedName } from './names.js';
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

/** The fixed time every entry carries, so the same images give the same archive bytes. */
const ENTRY_TIME = new Date(0);

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

interface PlannedBlob {
  descriptor: Descriptor;
  /** Small blobs already read (manifests, configs); layers are streamed from the layout. */
  bytes?: Buffer;
}

/** Configs and layers, each once; manifests too when an OCI index will point at them. */
function planBlobs(images: SelectedImage[], withManifests: boolean): PlannedBlob[] {
  const seen = new Set<string>();
  const blobs: PlannedBlob[] = [];
  const add = (descriptor: Descriptor, bytes?: Buffer) => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    blobs.push(bytes ? { descriptor, bytes } : { descriptor });
  };
  for (const image of images) {
    if (withManifests) add(image.descriptor, image.manifestBytes);
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
): Promise<ArchiveSummary> {
  if (images.length === 0) throw new OcipushError('ENOTFOUND', `${layout.root}: no image to export`);
  const blobs = planBlobs(images, Boolean(options.ociLayout));
  for (const { descriptor, bytes } of blobs) {
    if (!bytes && !(await layout.exists(descriptor))) {
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
      else await addStream(pack, name, blob.descriptor.size, await layout.fetch(blob.descriptor), `blob ${blob.descriptor.digest} in ${layout.root}`);
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

/**
 * Moves the tar stream into the destination with backpressure. Written by hand rather than with
 * stream.pipeline: tar-stream's pack is a streamx stream, and pipeline never settles when a Node
 * destination fails under it (a full disk would hang the export instead of reporting it).
 */
export async function copyInto(pack: tar.Pack, destination: Writable): Promise<void> {
  const failed = new Promise<never>((_, fail) => destination.once('error', fail));
  failed.catch(() => {});
  try {
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      if (!destination.write(chunk)) await Promise.race([once(destination, 'drain'), failed]);
    }
    destination.end();
    await Promise.race([finished(destination), failed]);
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
}

function header(name: string, size: number): Partial<tar.Header> & { name: string } {
  return { name, size, mode: 0o644, uid: 0, gid: 0, mtime: ENTRY_TIME, type: 'file' };
}

export function addDirectory(pack: tar.Pack, name: string): Promise<void> {
  return new Promise((ok, fail) => {
    quiet(pack.entry({ name, mode: 0o755, uid: 0, gid: 0, mtime: ENTRY_TIME, type: 'directory' }, (err) => (err ? fail(err) : ok())));
  });
}

export function addBuffer(pack: tar.Pack, name: string, bytes: Buffer): Promise<void> {
  return new Promise((ok, fail) => {
    quiet(pack.entry(header(name, bytes.length), bytes, (err) => (err ? fail(err) : ok())));
  });
}

/**
 * Copies a stream into one entry, with backpressure. A failure of the source (a bad blob) fails
 * the entry and is reported as a read error; a failure of the entry (the destination broke and
 * took the pack down) is passed on as it is, so the caller reports the destination's cause.
 */
export async function addStream(pack: tar.Pack, name: string, size: number, source: AsyncIterable<Buffer>, what: string): Promise<void> {
  let settle: (err?: Error | null) => void = () => {};
  const written = new Promise<void>((ok, fail) => { settle = (err) => (err ? fail(err) : ok()); });
  written.catch(() => {});
  const entry = quiet(pack.entry(header(name, size), (err) => settle(err)));
  const chunks = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        const cause = err instanceof OcipushError ? err : new OcipushError('EREAD', `cannot read ${what}: ${systemReason(err as NodeJS.ErrnoException)}`, { cause: err });
        entry.destroy(cause);
        throw cause;
      }
      if (next.done) break;
      // `written` settles with the error if the pack was destroyed meanwhile (its 'error' and
      // 'close' events may already be past), so a failed destination never leaves this waiting.
      if (!entry.write(next.value)) await Promise.race([waitForDrain(entry), written]);
    }
  } catch (err) {
    await chunks.return?.();
    throw err;
  }
  entry.end(null);
  await written;
}

type TarEntry = ReturnType<tar.Pack['entry']>;

/**
 * An entry fails when the pack does (a full disk destroys both); its callback already carries the
 * error, so the entry's own 'error' event must not crash the process as an unhandled one.
 */
function quiet(entry: TarEntry): TarEntry {
  entry.on('error', () => {});
  return entry;
}

function waitForDrain(entry: TarEntry): Promise<void> {
  return new Promise((ok, fail) => {
    const cleanup = () => { entry.off('drain', onDrain); entry.off('error', onError); entry.off('close', onClose); };
    const onDrain = () => { cleanup(); ok(); };
    const onError = (err: Error) => { cleanup(); fail(err); };
    const onClose = () => { cleanup(); fail(new Error('tar entry closed before it was written')); };
    entry.once('drain', onDrain);
    entry.once('error', onError);
    entry.once('close', onClose);
  });
}
