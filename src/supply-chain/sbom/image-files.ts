import type { Algorithm } from './checksum-table.js';
import type { GoBuildInfo } from './go-buildinfo.js';
import type { MavenArtifact } from './java-archives.js';
import { EntryKind, type LayerEntries } from './layer-entries.js';
import { whiteoutTarget } from './paths.js';

/**
 * The regular files of an image's final filesystem (after every layer and whiteout), in path
 * order, read by number: the document writes tens of thousands of them straight from the layers'
 * columns (layer-entries.ts).
 */
export interface ImageFiles {
  readonly length: number;
  /** Relative, clean: `usr/bin/env`. */
  path(i: number): string;
  /** Every file's path, in order. */
  paths(): string[];
  size(i: number): number;
  mode(i: number): number;
  /** Index of the layer the file comes from. */
  layer(i: number): number;
  /** Hex. */
  sha1(i: number): string;
  sha256(i: number): string;
  /** Room for the path as a JSON string `"/<path>"` (putPathJson). */
  maxPathJsonBytes(i: number): number;
  /** Writes `"/<path>"` as JSON.stringify would at `out[at]`; returns where it ended. */
  putPathJson(i: number, out: Buffer, at: number): number;
  /** Writes a digest as lowercase hex at `out[at]`; returns where it ended. */
  putHex(i: number, digest: Algorithm, out: Buffer, at: number): number;
  /** The files package detection reads: package metadata (with its content), Go binaries (with their build info) and Java archives (with their Maven artifacts). */
  declaring(): DeclaringFile[];
  /** Package metadata was kept for package detection alone. */
  dropContents(): void;
}

export interface DeclaringFile {
  readonly path: string;
  readonly content: Buffer | undefined;
  readonly go: GoBuildInfo | undefined;
  /** A Java archive's Maven artifacts (its content is not kept). */
  readonly maven: MavenArtifact[] | undefined;
}

/** One layer's recorded entries and its index in the image's manifest. */
export interface IndexedLayer {
  entries: LayerEntries;
  index: number;
}

/**
 * The merge of layers: each layer's entries in tar order, a later one replacing an earlier of the
 * same path, a whiteout removing what it names (an opaque one, what the layers below it left in
 * its directory), a hard link naming its target's file under another path, anything but a
 * directory removing the directory it replaces with its tree. `onRemoved` is told of each path
 * a layer removes with whatever is under it (a whiteout's; a symlink's or device's, written over
 * a file or a directory a lower layer may have had) and its layer; `opaque`: what is under it only.
 *
 * A single layer written from a walk of a directory (any build of one) has none of that to do:
 * its files are the image's, only sorted, and no string or object is made per file for it.
 */
export function mergeLayers(layers: readonly IndexedLayer[], onRemoved?: (path: string, layer: number, opaque: boolean) => void): ImageFiles {
  const only = layers.length === 1 ? layers[0]! : undefined;
  if (only && only.entries.filesStandAlone) {
    // Its symlinks may still replace what a base whose layers were not read had (a directory).
    if (onRemoved) for (let entry = 0; entry < only.entries.entryCount; entry++) if (only.entries.kind(entry) === EntryKind.other) onRemoved(only.entries.path(entry), only.index, false);
    const files = only.entries.filesByPath();
    return new MergedFiles([only.entries], new Array<number>(files.length).fill(0), files, new Array<number>(files.length).fill(only.index), undefined);
  }
  const merged = new Map<string, Pick>();
  // Paths that have been directories (an entry's, or a file's parent), with the directories above
  // each: a non-directory written over one removes its tree, as runtimes apply a layer (buildah's
  // and docker's layers replace a directory by a symlink with no whiteout). Only these are
  // searched for a tree to remove (by that or a whiteout): a layer removing thousands of files
  // one by one (apt-get purge) costs a lookup each, not a pass over the image's files.
  const directories = new Set<string>();
  const replace = (path: string) => {
    if (!directories.delete(path)) return;
    removeTree(merged, path);
    for (const dir of directories) if (dir.startsWith(`${path}/`)) directories.delete(dir);
  };
  layers.forEach(({ entries, index }, slot) => {
    let file = 0;
    for (let entry = 0; entry < entries.entryCount; entry++) {
      const kind = entries.kind(entry);
      const path = entries.path(entry);
      if (kind === EntryKind.whiteout) {
        const whiteout = whiteoutTarget(path)!;
        onRemoved?.(whiteout.path, index, whiteout.opaque);
        // An opaque marker clears what the layers below left, not what its own layer put there.
        if (!whiteout.opaque) merged.delete(whiteout.path);
        if (whiteout.path === '' || directories.has(whiteout.path)) removeTree(merged, whiteout.path, whiteout.opaque ? index : undefined);
      } else if (kind === EntryKind.file) {
        replace(path);
        addDirectory(directories, parentOf(path));
        merged.set(path, { slot, file: file++, layer: index });
      } else if (kind === EntryKind.link) {
        replace(path);
        const target = merged.get(entries.linkTarget(entry)!);
        if (target) { addDirectory(directories, parentOf(path)); merged.set(path, { slot: target.slot, file: target.file, layer: index }); }
      } else if (kind === EntryKind.directory) {
        // A directory replaces a file of the same name, and keeps what was under the one it replaces.
        merged.delete(path);
        addDirectory(directories, path);
      } else {
        // A symlink or device replaces a file, or a directory and its tree.
        replace(path);
        merged.delete(path);
        onRemoved?.(path, index, false);
      }
    }
  });
  const sorted = [...merged].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new MergedFiles(layers.map((l) => l.entries), sorted.map(([, p]) => p.slot), sorted.map(([, p]) => p.file), sorted.map(([, p]) => p.layer), sorted.map(([path]) => path));
}

/** A file of the image as the general merge finds it: which layer's file, and the layer its path is from (a hard link's own). */
interface Pick {
  slot: number;
  file: number;
  layer: number;
}

/** Removes what is under `path` (what layers below `below` put there, when given). */
function removeTree(files: Map<string, Pick>, path: string, below?: number): void {
  const prefix = path === '' ? '' : `${path}/`;
  for (const [p, f] of files) {
    if (p.startsWith(prefix) && (below === undefined || f.layer < below)) files.delete(p);
  }
}

function parentOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf('/')));
}

/** Records `dir` and the directories above it (stopping at one already known: those above it are too). */
function addDirectory(directories: Set<string>, dir: string): void {
  for (let d = dir; d !== '' && !directories.has(d); d = parentOf(d)) directories.add(d);
}

/** Image file i is file `files[i]` of layer `sources[slots[i]]`, under its own name, or `named[i]` when the merge named it. */
class MergedFiles implements ImageFiles {
  constructor(
    private readonly sources: readonly LayerEntries[],
    private readonly slots: readonly number[],
    private readonly files: readonly number[],
    private readonly layers: readonly number[],
    private readonly named: readonly string[] | undefined,
  ) {}

  get length(): number { return this.files.length; }

  path(i: number): string { return this.named ? this.named[i]! : this.source(i).filePath(this.files[i]!); }
  paths(): string[] { return Array.from({ length: this.files.length }, (_, i) => this.path(i)); }
  size(i: number): number { return this.source(i).size(this.files[i]!); }
  mode(i: number): number { return this.source(i).mode(this.files[i]!); }
  layer(i: number): number { return this.layers[i]!; }
  sha1(i: number): string { return this.source(i).sha1(this.files[i]!); }
  sha256(i: number): string { return this.source(i).sha256(this.files[i]!); }
  putHex(i: number, digest: Algorithm, out: Buffer, at: number): number { return this.source(i).putHex(this.files[i]!, digest, out, at); }

  maxPathJsonBytes(i: number): number {
    return this.named ? this.named[i]!.length * 6 + 4 : this.source(i).maxPathJsonBytes(this.files[i]!);
  }

  putPathJson(i: number, out: Buffer, at: number): number {
    return this.named ? putPathString(out, at, this.named[i]!) : this.source(i).putPathJson(this.files[i]!, out, at);
  }

  declaring(): DeclaringFile[] {
    const out: DeclaringFile[] = [];
    for (let i = 0; i < this.files.length; i++) {
      const source = this.source(i);
      const file = this.files[i]!;
      if (source.declares(file)) out.push({ path: this.path(i), content: source.content(file), go: source.go(file), maven: source.maven(file) });
    }
    return out;
  }

  dropContents(): void {
    for (const s of this.sources) s.dropContents();
  }

  private source(i: number): LayerEntries {
    return this.sources[this.slots[i]!]!;
  }
}

/** What JSON.stringify escapes (controls, quote, backslash) and surrogates: such a path goes through JSON.stringify itself. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** `"/<path>"`, as JSON.stringify(`/${path}`) writes it. */
function putPathString(out: Buffer, at: number, path: string): number {
  if (NEEDS_ESCAPE.test(path)) return at + out.write(JSON.stringify(`/${path}`), at);
  out[at++] = 0x22; // "
  out[at++] = 0x2f; // /
  at += out.write(path, at);
  out[at++] = 0x22;
  return at;
}
