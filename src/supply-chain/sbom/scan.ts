import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../../errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import type { ImageManifest } from '../../oci/manifest.js';
import type { ReadOnlyStorage } from '../../content/storage.js';
import { decompressedLayer } from '../../layer/compress/decompressor.js';
import { TarReader } from '../../layer/tar-reader.js';
import { LayerFilesRecorder, type LayerEntries } from './layer-entries.js';
import { mergeLayers, type ImageFiles, type IndexedLayer } from './image-files.js';

export type { ImageFiles } from './image-files.js';

export interface ScanOptions {
  signal?: AbortSignal;
  /** Layers not to read at all (a lazily referenced base's). */
  skipLayer?: (layer: Descriptor) => boolean;
  /**
   * The entries of a layer already known (recorded while this build wrote its tar); a layer
   * without them is streamed back from `storage`.
   */
  knownEntries?: (layer: Descriptor) => LayerEntries | undefined;
  /** Told of each path a layer removes with what is under it (a whiteout's, a symlink's: see mergeLayers) and its layer; `opaque`: only what is under it. */
  onRemoved?: (path: string, layer: number, opaque: boolean) => void;
}

/**
 * The final filesystem's regular files, hashed, in path order: each layer's entries, recorded
 * during the build or streamed once from `storage` (decompressed on the fly, never unpacked to
 * disk), merged in one place (mergeLayers) whichever way they came.
 */
export async function scanImageFiles(storage: ReadOnlyStorage, manifest: ImageManifest, options: ScanOptions = {}): Promise<ImageFiles> {
  const layers: IndexedLayer[] = [];
  for (const [index, layer] of manifest.layers.entries()) {
    if (options.skipLayer?.(layer)) continue;
    layers.push({ entries: options.knownEntries?.(layer) ?? await scanLayer(storage, layer, options.signal), index });
  }
  return mergeLayers(layers, options.onRemoved);
}

/**
 * Streams one layer (decompressed on the fly) through the same tar reading and recording a build
 * of a tar file uses: its entries as a build would have recorded them.
 */
async function scanLayer(storage: ReadOnlyStorage, layer: Descriptor, signal?: AbortSignal): Promise<LayerEntries> {
  const body = await storage.fetch(layer, { signal }) as Readable;
  const { stream: decompressed } = await decompressedLayer(body).catch((err: unknown) => { throw layerError(layer, err); });
  const recorder = new LayerFilesRecorder();
  const reader = new TarReader(recorder);
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
    await pipeline(decompressed, sink);
  } catch (err) {
    throw layerError(layer, err);
  }
  // The reader ends its observer when the archive ended whole, or throws (above).
  return recorder.entries!;
}

/** A failure reading `layer`: ours as it is (one that cannot decompress it named with the layer), any other as a layer that is no tar. */
function layerError(layer: Descriptor, err: unknown): OcipushError {
  if (err instanceof OcipushError) return err.code === 'EUNSUPPORTED' ? new OcipushError(err.code, `layer ${layer.digest}: ${err.message}`, { digest: layer.digest, cause: err }) : err;
  return new OcipushError('EINVALID', `layer ${layer.digest}: cannot read it as a tar archive: ${(err as Error).message}`, { digest: layer.digest, cause: err });
}
