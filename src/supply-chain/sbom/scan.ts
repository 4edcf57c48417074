import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../../errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { layerCompression } from '../../oci/media-types.js';
import type { ImageManifest } from '../../oci/manifest.js';
import type { ReadOnlyStorage } from '../../content/storage.js';
import { createDecompressor } from '../../layer/compress/decompressor.js';
import { TarReader } from '../../layer/tar-reader.js';
import { LayerFilesRecorder, applyEntry, whiteoutTarget, type ImageFile, type LayerEntry, type MergedFile } from './layer-files.js';

export { isMetadataPath, type ImageFile } from './layer-files.js';

export interface ScanOptions {
  signal?: AbortSignal;
  /** Layers not to read at all (a lazily referenced base's). */
  skipLayer?: (layer: Descriptor) => boolean;
  /**
   * The entries of a layer already known (recorded while this build wrote its tar); a layer
   * without them is streamed back from `storage`.
   */
  knownEntries?: (layer: Descriptor) => readonly LayerEntry[] | undefined;
  /** Told of each whiteout: the path it removes (an opaque marker: its directory's contents) and its layer. */
  onWhiteout?: (path: string, layer: number, opaque: boolean) => void;
}

/**
 * The final filesystem's regular files, hashed, in path order: each layer's entries, recorded
 * during the build or streamed once from `storage` (decompressed on the fly, never unpacked to
 * disk), merged in one place (applyEntry) whichever way they came.
 */
export async function scanImageFiles(storage: ReadOnlyStorage, manifest: ImageManifest, options: ScanOptions = {}): Promise<ImageFile[]> {
  const files = new Map<string, MergedFile>();
  for (const [index, layer] of manifest.layers.entries()) {
    if (options.skipLayer?.(layer)) continue;
    const apply = (entry: LayerEntry) => {
      const whiteout = options.onWhiteout && whiteoutTarget(entry.path);
      if (whiteout) options.onWhiteout!(whiteout.path, index, whiteout.opaque);
      applyEntry(files, entry, index);
    };
    const known = options.knownEntries?.(layer);
    if (known) for (const entry of known) apply(entry);
    else await scanLayer(storage, layer, apply, options.signal);
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Streams one layer (decompressed on the fly) through the same tar reading a build of a tar file
 * uses, and hands each of its entries to `see`, in tar order.
 */
async function scanLayer(storage: ReadOnlyStorage, layer: Descriptor, see: (entry: LayerEntry) => void, signal?: AbortSignal): Promise<void> {
  const body = await storage.fetch(layer, { signal });
  const decompressor = createDecompressor(layerCompression(layer.mediaType));
  const reader = new TarReader(new LayerFilesRecorder(see));
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      try { reader.write(chunk); done(); } catch (err) { done(err as Error); }
    },
    final(done) {
      try { reader.end(); done(); } catch (err) { done(err as Error); }
    },
  });
  try {
    await pipeline(body as Readable, decompressor, sink);
  } catch (err) {
    if (err instanceof OcipushError) throw err;
    throw new OcipushError('EINVALID', `layer ${layer.digest}: cannot read it as a tar archive: ${(err as Error).message}`, { digest: layer.digest, cause: err });
  }
}
