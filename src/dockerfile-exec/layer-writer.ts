import { OcipushError } from '../errors.js';
import { Writable } from 'node:stream';
import { compressTar, stageLayer, type CompressionSettings, type LayerResult, type StagingArea, type Uncompressed } from '../layer/layer.js';
import { TarProducer, type TarObserver } from '../layer/tar.js';
import type { KeyedEntry } from '../layer/cache-key.js';
import type { FsEntry } from '../layer/walk.js';
import type { TreeWriter } from './copy-instruction.js';
import type { ArchiveFiles } from './extract.js';
import { nameBytes } from './raw-names.js';
import { childPath, cleanAbsolute, sortedNames, type FsNode } from './tree.js';

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
    // The path and the directories above it, up to one already there (its own are there then).
    for (let p = cleanAbsolute(path); p !== '/' && !paths.has(p); p = p.slice(0, p.lastIndexOf('/')) || '/') paths.add(p);
  }
  const out: PlannedEntry[] = [];
  const firstOf = new Map<object, string>();
  // Depth first from the root, names by their bytes: a parent right before its children, the
  // walker's order, with each node in hand (no path is looked up or sorted whole).
  const visit = (dir: string, node: FsNode): void => {
    if (!node.children) return;
    const names: string[] = [];
    for (const name of node.children.keys()) if (paths.has(childPath(dir, name))) names.push(name);
    for (const name of sortedNames(names)) {
      const path = childPath(dir, name);
      const child = node.children.get(name)!;
      if (!child.unknown) {
        const { children: _children, ...meta } = child;
        const entry: PlannedEntry = { path, node: meta };
        if (meta.type === 'file' && meta.inode) {
          const first = firstOf.get(meta.inode);
          if (first) entry.linkTo = first;
          else firstOf.set(meta.inode, path);
        }
        out.push(entry);
      }
      if (child.type === 'dir') visit(path, child);
    }
  };
  visit('/', writer.tree.root);
  return out;
}

/** Whether the layer reads bytes for this entry: a non-empty file, at its first path in the layer. */
export function hasContent(e: PlannedEntry): boolean {
  return !e.linkTo && e.node.type === 'file' && e.node.size > 0;
}

/** Asks for the bytes of every file of these entries that lives inside an archive, or in the Dockerfile. */
export function requestArchiveFiles(entries: PlannedEntry[], files: ArchiveFiles): void {
  for (const e of entries) {
    const content = e.node.content;
    if (!hasContent(e)) continue;
    if (content?.kind === 'archive') e.extracted = files.want(content.archive, content.entry);
    else if (content?.kind === 'inline') e.extracted = files.wantData(content.data);
  }
}

/** A planned entry as the layer cache's key reads it: the tar entry's fields, names as strings. */
export function plannedKeyEntry(e: PlannedEntry): KeyedEntry & { name: string; linkname?: string } {
  const rel = e.path.slice(1);
  const n = e.node;
  const entry: KeyedEntry & { name: string; linkname?: string } = {
    name: n.type === 'dir' ? rel + '/' : rel,
    type: e.linkTo ? 'hardlink' : n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    size: e.linkTo || n.type !== 'file' ? 0 : n.size,
    mtime: n.mtime,
  };
  if (e.linkTo) entry.linkname = e.linkTo.slice(1);
  else if (n.type === 'symlink') entry.linkname = n.linkname ?? '';
  if (n.type === 'char' || n.type === 'block') {
    entry.devmajor = n.devmajor ?? 0;
    entry.devminor = n.devminor ?? 0;
  }
  // In the key too (hashEntry): the same file with or without its capability is another layer.
  // On a hard link as well, as BuildKit's layer writer puts it: containerd and docker chown a
  // hard link they unpack, which clears the file's capability, then set the link entry's own.
  if (n.xattrs) entry.xattrs = n.xattrs;
  return entry;
}

/** The tar entry of a planned entry, as the walker would make it, without where its bytes are (`path` is empty). */
export function plannedFsEntry(e: PlannedEntry): FsEntry {
  const k = plannedKeyEntry(e);
  // Field by field, not by spreading `k`: a spread copy is a slower, larger object, and a layer
  // has one per entry (30 MB more peak memory on the 48,828-file bench tree).
  const entry: FsEntry = { path: Buffer.alloc(0), name: nameBytes(k.name), type: k.type, mode: k.mode, uid: k.uid, gid: k.gid, size: k.size, mtime: k.mtime };
  if (k.linkname !== undefined) entry.linkname = nameBytes(k.linkname);
  if (k.devmajor !== undefined) entry.devmajor = k.devmajor;
  if (k.devminor !== undefined) entry.devminor = k.devminor;
  if (k.xattrs !== undefined) entry.xattrs = k.xattrs;
  return entry;
}

/** The walker's view of planned entries, reading file bytes from the context or extracted temp files. */
export function* fsEntries(entries: readonly PlannedEntry[], files: ArchiveFiles): Generator<FsEntry> {
  for (const e of entries) {
    const entry = plannedFsEntry(e);
    if (hasContent(e)) {
      const n = e.node;
      if (n.content?.kind === 'disk') entry.path = nameBytes(n.content.path);
      else if (e.extracted) entry.path = Buffer.from(files.resolve(e.extracted));
      else throw new OcipushError('EREAD', `internal: no content for ${e.path}`);
    }
    yield entry;
  }
}

export interface WriteLayerOptions extends CompressionSettings {
  clampMtime: number;
  onProgress?: (bytes: number) => void;
  /** Sees every entry as it is archived (the SBOM's file facts). */
  observer?: TarObserver;
}

/** Writes planned entries as one layer: tar → sha256 (diff_id) → compressor → sha256 → staged blob. */
export function writeLayer(entries: Iterable<FsEntry>, staging: StagingArea, options: WriteLayerOptions): Promise<LayerResult> {
  return stageLayer(staging, options.compression, (blob) => {
    const producer = new TarProducer(entries[Symbol.iterator](), { clampMtime: options.clampMtime, ...(options.observer ? { observer: options.observer } : {}) });
    return compressTar(producer, blob.stream, options, () => options.onProgress?.(producer.bytes));
  });
}

/** A layer's diff_id alone: the entries' tar through sha256, nothing compressed or stored (to ask a registry cache). */
export function hashEntries(entries: Iterable<FsEntry>, options: { clampMtime: number; signal?: AbortSignal; observer?: TarObserver }): Promise<Uncompressed> {
  const producer = new TarProducer(entries[Symbol.iterator](), { clampMtime: options.clampMtime, ...(options.observer ? { observer: options.observer } : {}) });
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  return compressTar(producer, discard, { compression: 'none', ...(options.signal ? { signal: options.signal } : {}) });
}
