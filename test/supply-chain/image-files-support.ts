import { mergeLayers, type ImageFiles } from '../../src/supply-chain/sbom/image-files.js';
import { EntryKind, LayerEntries } from '../../src/supply-chain/sbom/layer-entries.js';

export interface FileFacts {
  path: string;
  sha1: string;
  sha256: string;
  size?: number;
  mode?: number;
}

/**
 * The files of a one-layer image, recorded as a layer's tar would record them (in the order
 * given). `split`: merged as two layers (the second empty), which takes the general merge
 * instead of the single-layer one.
 */
export function recordedFiles(files: readonly FileFacts[], options: { split?: boolean } = {}): ImageFiles {
  const entries = new LayerEntries();
  for (const [i, f] of files.entries()) {
    entries.record(Buffer.from(f.path), EntryKind.file);
    entries.endFile(entries.lastFile(), f.size ?? i, f.mode ?? 0o644, Buffer.from(f.sha1, 'hex'), Buffer.from(f.sha256, 'hex'), undefined, undefined);
  }
  const layers = [{ entries, index: 0 }];
  if (options.split) layers.push({ entries: new LayerEntries(), index: 1 });
  return mergeLayers(layers);
}

/** Every file as plain values (two scans keep their digests in tables of their own). */
export function plainFiles(files: ImageFiles) {
  const declaring = new Map(files.declaring().map((f) => [f.path, f]));
  return Array.from({ length: files.length }, (_, i) => ({
    path: files.path(i), size: files.size(i), mode: files.mode(i), sha1: files.sha1(i), sha256: files.sha256(i), layer: files.layer(i),
    content: declaring.get(files.path(i))?.content, go: declaring.get(files.path(i))?.go,
  }));
}
