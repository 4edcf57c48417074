import type { Writable } from 'node:stream';
import { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcipushError } from '../../errors.js';
import { Digester } from '../../oci/digest.js';
import { layerMediaType, type Compression } from '../../oci/media-types.js';
import { createCompressor } from '../codec.js';
import type { LayerResult, StagingArea } from '../layer.js';
import { StagedBlob } from '../staged-blob.js';
import { pumpTar, TarProducer } from '../tar.js';
import type { FsEntry } from '../walk.js';
import type { TreeWriter } from './copy.js';
import type { ArchiveFiles } from './extract.js';
import { sortPaths, splitPath, type FsNode } from './tree.js';

/**
 * The layer of one file step: every path the step created or changed, with the directories
 * above them (as a layer diff has them), in the order the walker of `ocipush build` writes
 * (depth first, names by their bytes), as they were when the step ended.
 */

export interface PlannedEntry {
  path: string;
  /** A copy of the node's metadata at the end of the step. */
  node: FsNode;
  /** A later path of a file already in this layer: written as a hard link to it. */
  linkTo?: string;
  /** For bytes inside an archive: the temp file name ArchiveFiles will write them to. */
  extracted?: string;
}

export function plannedEntries(writer: TreeWriter): PlannedEntry[] {
  const paths = new Set<string>();
  for (const path of writer.touched) {
    const parts = splitPath(path);
    for (let i = 1; i <= parts.length; i++) paths.add('/' + parts.slice(0, i).join('/'));
  }
  const out: PlannedEntry[] = [];
  const firstOf = new Map<object, string>();
  for (const path of sortPaths(paths)) {
    const found = writer.tree.lstat(path);
    if (found.status !== 'found' || found.node.unknown) continue;
    const { children: _children, ...meta } = found.node;
    const entry: PlannedEntry = { path, node: meta };
    if (meta.type === 'file' && meta.inode) {
      const first = firstOf.get(meta.inode);
      if (first) entry.linkTo = first;
      else firstOf.set(meta.inode, path);
    }
    out.push(entry);
  }
  return out;
}

/** Asks for the bytes of every file of these entries that lives inside an archive. */
export function requestArchiveFiles(entries: PlannedEntry[], files: ArchiveFiles): void {
  for (const e of entries) {
    const content = e.node.content;
    if (!e.linkTo && e.node.type === 'file' && e.node.size > 0 && content?.kind === 'archive') e.extracted = files.want(content.archive, content.entry);
  }
}

/** The walker's view of planned entries, reading file bytes from the context or extracted temp files. */
export function* fsEntries(entries: readonly PlannedEntry[], files: ArchiveFiles): Generator<FsEntry> {
  for (const e of entries) {
    const rel = e.path.slice(1);
    const n = e.node;
    const entry: FsEntry = {
      path: Buffer.alloc(0),
      name: Buffer.from(n.type === 'dir' ? rel + '/' : rel),
      type: e.linkTo ? 'hardlink' : n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      size: e.linkTo || n.type !== 'file' ? 0 : n.size,
      mtime: n.mtime,
    };
    if (e.linkTo) entry.linkname = Buffer.from(e.linkTo.slice(1));
    else if (n.type === 'symlink') entry.linkname = Buffer.from(n.linkname ?? '');
    if (n.type === 'char' || n.type === 'block') {
      entry.devmajor = n.devmajor ?? 0;
      entry.devminor = n.devminor ?? 0;
    }
    if (!e.linkTo && n.type === 'file' && n.size > 0) {
      if (n.content?.kind === 'disk') entry.path = Buffer.from(n.content.path);
      else if (e.extracted) entry.path = Buffer.from(files.resolve(e.extracted));
      else throw new OcipushError('EREAD', `internal: no content for ${e.path}`);
    }
    yield entry;
  }
}

export interface WriteLayerOptions {
  compression: Compression;
  level?: number;
  threads?: number;
  clampMtime: number;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** Writes planned entries as one layer: tar → sha256 (diff_id) → compressor → sha256 → staged blob. */
export async function writeLayer(entries: Iterable<FsEntry>, staging: StagingArea, options: WriteLayerOptions): Promise<LayerResult> {
  const blob = await StagedBlob.create(staging.dir, staging.where);
  try {
    const producer = new TarProducer(entries[Symbol.iterator](), { clampMtime: options.clampMtime });
    const diff = new Digester();
    const pump = (sink: Writable) => pumpTar(producer, sink, {
      onChunk: (chunk) => {
        diff.update(chunk);
        options.onProgress?.(producer.bytes);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (options.compression === 'none') {
      await pump(blob.stream);
    } else {
      const compressor = createCompressor({
        compression: options.compression,
        ...(options.level !== undefined ? { level: options.level } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
      });
      await Promise.all([pump(compressor), run(compressor, blob.stream, options.signal)]);
    }
    return {
      descriptor: { mediaType: layerMediaType(options.compression), digest: blob.digest, size: blob.size },
      diffId: diff.digest(),
      uncompressedSize: diff.size,
      blob,
    };
  } catch (err) {
    await blob.discard();
    throw err;
  }
}

async function run(from: Duplex, to: Writable, signal?: AbortSignal): Promise<void> {
  try {
    await pipeline(from, to, ...(signal ? [{ signal }] : []) as []);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new OcipushError('EABORTED', 'build interrupted', { cause: err });
    throw err;
  }
}
