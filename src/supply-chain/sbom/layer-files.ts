import { createHash, type Hash } from 'node:crypto';
import { hexDigestOf } from '../../oci/digest.js';
import { posix } from 'node:path';
import type { ContentSink, ObservedEntry, TarObserver } from '../../layer/tar.js';
import { GoBuildInfoScanner, type GoBuildInfo } from './go-buildinfo.js';

/** What the SBOM knows of one regular file of a layer. */
export interface FileFacts {
  /** Relative, clean: `usr/bin/env`. */
  readonly path: string;
  readonly size: number;
  readonly mode: number;
  /** Hex. */
  readonly sha1: string;
  readonly sha256: string;
  /** Kept for the files package detection reads (dpkg status, package.json, METADATA …). */
  content?: Buffer | undefined;
  readonly go?: GoBuildInfo | undefined;
}

/** One regular file of the image's final filesystem (after every layer and whiteout). */
export interface ImageFile extends FileFacts {
  /** Index of the layer the file comes from. */
  readonly layer: number;
}

/**
 * The SHA1 and SHA256 of many files, as bytes in one growing buffer. A build records tens of
 * thousands of files while its cores compress: two hex strings per file, alive until the SBOM is
 * written, were two more objects per file for the collector to copy and promote (and 20 MB more
 * at the peak of `build --sbom` on Node 24); here they are 52 bytes of one buffer, turned back
 * into hex only as the document is written.
 */
export class ChecksumTable {
  private bytes = Buffer.allocUnsafe(ROW * 1024);
  private rows = 0;

  /** Stores one file's digests (hex strings or finished hashes); returns its row. */
  add(sha1: Hash | string, sha256: Hash | string): number {
    if ((this.rows + 1) * ROW > this.bytes.length) {
      const larger = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(larger);
      this.bytes = larger;
    }
    const row = this.rows++;
    this.put(row, 'sha1', sha1);
    this.put(row, 'sha256', sha256);
    return row;
  }

  sha1(row: number): string { return this.hex(row, 'sha1'); }
  sha256(row: number): string { return this.hex(row, 'sha256'); }

  /** Writes one digest of `row` as lowercase hex at `out[at]` (as `sha1`/`sha256` give it); returns where it ended. */
  putHex(row: number, digest: Algorithm, out: Buffer, at: number): number {
    const from = row * ROW + OFFSET[digest];
    const end = from + LENGTH[digest];
    for (let i = from; i < end; i++) {
      const b = this.bytes[i]!;
      out[at++] = HEX_DIGITS[b >> 4]!;
      out[at++] = HEX_DIGITS[b & 15]!;
    }
    return at;
  }

  private hex(row: number, digest: Algorithm): string {
    const from = row * ROW + OFFSET[digest];
    return this.bytes.toString('hex', from, from + LENGTH[digest]);
  }

  private put(row: number, digest: Algorithm, value: Hash | string): void {
    const at = row * ROW + OFFSET[digest];
    if (typeof value === 'string') this.bytes.write(value, at, LENGTH[digest], 'hex');
    else value.digest().copy(this.bytes, at);
  }
}

type Algorithm = 'sha1' | 'sha256';
/** A row of the table: SHA1's 20 bytes, then SHA256's 32. */
const LENGTH = { sha1: 20, sha256: 32 } as const;
const OFFSET = { sha1: 0, sha256: LENGTH.sha1 } as const;
const ROW = LENGTH.sha1 + LENGTH.sha256;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A regular file of a layer's tar, as recorded: one object per file (its entry and its facts),
 * whose digests stay in the recorder's table until they are read.
 */
export class RecordedFile implements FileFacts {
  readonly kind = 'file';
  constructor(
    readonly path: string,
    readonly size: number,
    readonly mode: number,
    readonly checksums: ChecksumTable,
    readonly row: number,
    public content: Buffer | undefined,
    readonly go: GoBuildInfo | undefined,
  ) {}

  get sha1(): string { return this.checksums.sha1(this.row); }
  get sha256(): string { return this.checksums.sha256(this.row); }
}

/**
 * A file of the merged image: a recorded file under its name in the image and the layer it comes
 * from. Every one has the same shape (its optional fields always there, undefined when absent),
 * which the document and package detection then read fast; spreading facts of varying shapes
 * made the merge and each read after it slower.
 */
export class MergedFile extends RecordedFile implements ImageFile {
  constructor(file: RecordedFile, path: string, readonly layer: number) {
    super(path, file.size, file.mode, file.checksums, file.row, file.content, file.go);
  }

  /** The same file under another name and layer (a hard link to it). */
  at(path: string, layer: number): MergedFile {
    return new MergedFile(this, path, layer);
  }
}

/**
 * One entry of a layer's tar as the merge needs it. The same list comes from a tar being written
 * (LayerFilesRecorder, during a build) or from a layer streamed back (scan.ts), so the merge, and
 * with it the SBOM, cannot depend on which one produced it.
 */
export type LayerEntry =
  | RecordedFile
  | { kind: 'link'; path: string; target: string }
  /** A directory, symlink, device or fifo, or a whiteout (recognised by its name). */
  | { kind: 'other'; path: string };

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** The digests of no bytes: an empty file is never fed to its hasher. */
const EMPTY_SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Package metadata files are small; a larger one is hashed but not parsed. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/** The files whose contents package detection needs. */
export function isMetadataPath(path: string): boolean {
  return path === 'var/lib/dpkg/status'
    || path.startsWith('var/lib/dpkg/status.d/')
    || path === 'lib/apk/db/installed'
    || path === 'etc/os-release' || path === 'usr/lib/os-release'
    || (path.endsWith('/package.json') && path.includes('node_modules/'))
    || path.endsWith('/package-lock.json') || path === 'package-lock.json'
    || /\.dist-info\/METADATA$/.test(path);
}

/** A tar entry name as a clean relative path (`./usr/bin/` → `usr/bin`). */
export function cleanPath(name: string): string {
  // Most names (all of those ocipush writes) are clean already but for a directory's `/`.
  const p = NEEDS_NORMALIZING.test(name) ? posix.normalize(`/${name}`).slice(1) : name;
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

/** A leading `/`, `.` or `..` segments, or an empty segment. */
const NEEDS_NORMALIZING = /^\/|(^|\/)\.{1,2}(\/|$)|\/\//;

/** A whiteout or opaque marker: its content is never hashed. */
export function isWhiteoutPath(path: string): boolean {
  return path.startsWith(WHITEOUT, path.lastIndexOf('/') + 1);
}

/**
 * What a whiteout entry removes: its directory's contents (an opaque marker) or the one path it
 * names; undefined for any other entry. Paths are clean: no trailing `/`, no empty segment.
 */
export function whiteoutTarget(path: string): { path: string; opaque: boolean } | undefined {
  if (!isWhiteoutPath(path)) return undefined;
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = path.slice(slash + 1);
  return base === OPAQUE ? { path: dir, opaque: true } : { path: posix.join(dir, base.slice(WHITEOUT.length)), opaque: false };
}

function removeTree(files: Map<string, MergedFile>, path: string, below?: number): void {
  const prefix = path === '' ? '' : `${path}/`;
  for (const [p, f] of files) {
    if ((p === path || p.startsWith(prefix)) && (below === undefined || f.layer < below)) files.delete(p);
  }
}

/** Applies one entry of layer `index` to the files of the layers below it: the one merge of layers. */
export function applyEntry(files: Map<string, MergedFile>, entry: LayerEntry, index: number): void {
  const path = entry.path;
  const whiteout = whiteoutTarget(path);
  if (whiteout) {
    // An opaque marker clears what the layers below left, not what its own layer put there.
    removeTree(files, whiteout.path, whiteout.opaque ? index : undefined);
    return;
  }
  if (entry.kind === 'file') { files.set(path, new MergedFile(entry, path, index)); return; }
  if (entry.kind === 'link') {
    const target = files.get(entry.target);
    if (target) files.set(path, target.at(path, index));
    return;
  }
  // A directory, symlink or device replaces a file of the same name.
  files.delete(path);
}

/**
 * Hashes one regular file's bytes as they go by (SHA1, SHA256), keeps a package metadata file's
 * content and looks for Go build info in an ELF executable. Chunks may be views of buffers that
 * are reused after `update` returns: whatever is kept is copied.
 */
export class FileHasher implements ContentSink {
  private sha1: Hash | string | undefined;
  private sha256: Hash | string | undefined;
  /** A package metadata file's chunks, copied (undefined for any other file). */
  private readonly kept: Buffer[] | undefined;
  private size = 0;
  private go: GoBuildInfoScanner | undefined;
  /** The first bytes of an executable, until its first 4 tell whether it is ELF. */
  private head: Buffer[] | undefined;

  /** `expectedSize`: the size the tar header declares, when known (a file that comes in one piece is hashed in one call). */
  constructor(
    private readonly path: string,
    private readonly mode: number,
    private readonly checksums: ChecksumTable,
    private readonly expectedSize?: number,
    private readonly done?: (file: RecordedFile) => void,
  ) {
    if (isMetadataPath(path)) this.kept = [];
    if ((mode & 0o111) !== 0) this.head = [];
  }

  update(chunk: Buffer): void {
    if (this.size === 0 && chunk.length === this.expectedSize) {
      // Most files: no Hash objects to make and collect.
      this.sha1 = hexDigestOf('sha1', chunk);
      this.sha256 = hexDigestOf('sha256', chunk);
    } else {
      if (typeof this.sha1 !== 'object') {
        this.sha1 = createHash('sha1');
        this.sha256 = createHash('sha256');
      }
      this.sha1.update(chunk);
      (this.sha256 as Hash).update(chunk);
    }
    this.size += chunk.length;
    if (this.kept && this.size <= MAX_METADATA_BYTES) this.kept.push(Buffer.from(chunk));
    if (this.head) this.sniff(chunk);
    else this.go?.update(chunk);
  }

  end(): void {
    this.done?.(this.result());
  }

  result(): RecordedFile {
    const row = this.checksums.add(this.sha1 ?? EMPTY_SHA1, this.sha256 ?? EMPTY_SHA256);
    const content = this.kept && this.size <= MAX_METADATA_BYTES ? Buffer.concat(this.kept) : undefined;
    return new RecordedFile(this.path, this.size, this.mode, this.checksums, row, content, this.go?.result());
  }

  /** ELF executables may carry Go build info: decided on the first 4 bytes, however they were split. */
  private sniff(chunk: Buffer): void {
    const head = this.head!;
    head.push(Buffer.from(chunk.subarray(0, 4)));
    const first = Buffer.concat(head);
    if (first.length < 4) return;
    this.head = undefined;
    if (first[0] !== 0x7f || first[1] !== 0x45 || first[2] !== 0x4c || first[3] !== 0x46) return;
    this.go = new GoBuildInfoScanner();
    // The bytes before this chunk (fewer than 4) and then the chunk itself.
    const before = first.subarray(0, first.length - Math.min(4, chunk.length));
    if (before.length > 0) this.go.update(before);
    this.go.update(chunk);
  }
}

/**
 * The entries of a layer's tar, recorded while the tar is written (a TarObserver): each regular
 * file hashed from the bytes read for the tar, nothing read twice, nothing decompressed.
 */
export class LayerFilesRecorder implements TarObserver {
  private readonly seen: LayerEntry[] = [];
  private readonly checksums = new ChecksumTable();
  private complete = false;

  /** `see`: takes each entry as it comes instead of keeping them (a layer streamed back and merged at once). */
  constructor(private readonly see?: (entry: LayerEntry) => void) {}

  /** Every entry of the archive, once it has been written to its end; undefined before (or if the layer was not a tar this recorder watched). */
  get entries(): readonly LayerEntry[] | undefined {
    return this.complete ? this.seen : undefined;
  }

  end(): void {
    this.complete = true;
  }

  entry(e: ObservedEntry): ContentSink | undefined {
    const path = cleanPath(e.name.toString('utf8'));
    if (e.type === 'file' && !isWhiteoutPath(path)) {
      return new FileHasher(path, e.mode, this.checksums, e.size, (file) => this.add(file));
    }
    if (e.type === 'hardlink' && e.linkname && e.linkname.length > 0) {
      this.add({ kind: 'link', path, target: cleanPath(e.linkname.toString('utf8')) });
    } else {
      this.add({ kind: 'other', path });
    }
    return undefined;
  }

  private add(entry: LayerEntry): void {
    if (this.see) this.see(entry);
    else this.seen.push(entry);
  }
}
