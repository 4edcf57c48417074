import { isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import type { ContentSink, ObservedEntry, TarObserver } from '../../layer/tar.js';
import { binaryDigestOf } from '../../oci/digest.js';
import { ChecksumTable, type Algorithm, type Digested } from './checksum-table.js';
import { GoBuildInfoScanner, type GoBuildInfo } from './go-buildinfo.js';
import { mavenArtifacts, type MavenArtifact } from './java-archives.js';
import { cleanPath, isJavaArchivePath, isMetadataPath } from './paths.js';

/** What an entry of a layer is to the SBOM. */
export const EntryKind = { file: 0, link: 1, other: 2, whiteout: 3, directory: 4 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

const SLASH = 0x2f;
const DOT = 0x2e;
/** The first UTF-8 byte of U+E000 and above: from there UTF-8's byte order and JavaScript's UTF-16 order may part. */
const HIGH_LEAD_BYTE = 0xee;

/**
 * The entries of one layer's tar, in tar order, as the SBOM needs them — kept as columns, not as
 * an object per entry. A build records tens of thousands of files while both cores compress; an
 * object, a path string and a hasher per file, kept until the document is written, were promoted
 * and copied by the collector in the middle of the build. Here a path is the bytes of its tar
 * name in one growing buffer, a file's size and mode are numbers in arrays and its digests a row
 * of a ChecksumTable; strings are made only for the few files package detection reads, or when
 * the layers must be merged path by path (image-files.ts).
 */
export class LayerEntries {
  /** Every entry's path, clean and valid UTF-8, one after the other. */
  private names = Buffer.allocUnsafe(1 << 16);
  /** Where each entry's path ends in `names` (it starts where the one before it ends). */
  private readonly ends: number[] = [];
  private readonly kinds: EntryKind[] = [];
  /** The entry each regular file is: files are numbered in tar order, and a file's number is its row in `checksums`. */
  private readonly fileEntry: number[] = [];
  private readonly sizes: number[] = [];
  private readonly modes: number[] = [];
  private readonly checksums = new ChecksumTable();
  /** Package metadata files' contents and Go binaries' build info, by file number: a few among many. */
  private contents = new Map<number, Buffer>();
  private readonly goInfo = new Map<number, GoBuildInfo>();
  /** A Java archive's Maven artifacts, read from it as it ended: the archive itself is not kept. */
  private readonly mavenInfo = new Map<number, MavenArtifact[]>();
  /** Hard links' targets (clean paths), by entry number. */
  private readonly linkTargets = new Map<number, string>();
  /** Every path comes after the one before it in the order a walk of a directory writes them: no path is there twice. */
  private walkOrdered = true;
  /** Files ended whose digests have not come yet (endFileLater). */
  digestsPending = 0;
  private whiteouts = false;
  private highCharacters = false;

  get entryCount(): number { return this.kinds.length; }
  get fileCount(): number { return this.fileEntry.length; }

  kind(entry: number): EntryKind { return this.kinds[entry]!; }
  path(entry: number): string { return this.names.toString('utf8', this.start(entry), this.ends[entry]); }
  linkTarget(entry: number): string | undefined { return this.linkTargets.get(entry); }

  filePath(file: number): string { return this.path(this.fileEntry[file]!); }
  size(file: number): number { return this.sizes[file]!; }
  mode(file: number): number { return this.modes[file]!; }
  content(file: number): Buffer | undefined { return this.contents.get(file); }
  go(file: number): GoBuildInfo | undefined { return this.goInfo.get(file); }
  maven(file: number): MavenArtifact[] | undefined { return this.mavenInfo.get(file); }
  /** Whether package detection reads file `file`: package metadata (its content kept), a Go binary or a Java archive. */
  declares(file: number): boolean { return this.contents.has(file) || this.goInfo.has(file) || this.mavenInfo.has(file); }
  sha1(file: number): string { return this.checksums.sha1(file); }
  sha256(file: number): string { return this.checksums.sha256(file); }
  putHex(file: number, digest: Algorithm, out: Buffer, at: number): number { return this.checksums.putHex(file, digest, out, at); }

  /** Package metadata was kept for package detection alone. */
  dropContents(): void { this.contents = new Map(); }

  /**
   * Whether the files, sorted by their paths' bytes, are the image's files of this layer alone:
   * no path twice (so no entry replaces another), no whiteout, no hard link to resolve by name,
   * and no character whose UTF-8 bytes sort apart from JavaScript's order of strings.
   */
  get filesStandAlone(): boolean {
    return this.walkOrdered && !this.whiteouts && this.linkTargets.size === 0 && !this.highCharacters;
  }

  /** File numbers in the order of their paths (as JavaScript orders the strings, when filesStandAlone holds). */
  filesByPath(): number[] {
    const order = Array.from(this.fileEntry.keys());
    // Entries come in a walk's order, which differs from path order only where a name holds a
    // byte below `/`: nearly sorted, which the sort merges in few passes.
    return order.sort((a, b) => this.compareEntries(this.fileEntry[a]!, this.fileEntry[b]!));
  }

  /** Room for `"/<path>"` as a JSON string: an escape takes up to 6 bytes a byte. */
  maxPathJsonBytes(file: number): number {
    const entry = this.fileEntry[file]!;
    return (this.ends[entry]! - this.start(entry)) * 6 + 4;
  }

  /** `"/<path>"` as JSON.stringify writes it: the path's bytes as they are, unless one needs escaping. */
  putPathJson(file: number, out: Buffer, at: number): number {
    const entry = this.fileEntry[file]!;
    const names = this.names;
    const end = this.ends[entry]!;
    let to = at;
    out[to++] = 0x22; // "
    out[to++] = SLASH;
    for (let i = this.start(entry); i < end; i++) {
      const b = names[i]!;
      if (b < 0x20 || b === 0x22 || b === 0x5c) return at + out.write(JSON.stringify(`/${this.path(entry)}`), at);
      out[to++] = b;
    }
    out[to++] = 0x22;
    return to;
  }

  /** Adds an entry named `name` (a tar name: cleaned here) of `kind` (a whiteout by its name, whatever its kind); returns its number. */
  record(name: Buffer, kind: EntryKind): number {
    const cleanLength = cleanNameLength(name);
    const path = cleanLength >= 0 ? name : Buffer.from(cleanPath(name.toString('utf8')));
    const length = cleanLength >= 0 ? cleanLength : path.length;
    const start = this.ends.length === 0 ? 0 : this.ends[this.ends.length - 1]!;
    if (start + length > this.names.length) {
      const larger = Buffer.allocUnsafe(Math.max(this.names.length * 2, start + length));
      this.names.copy(larger, 0, 0, start);
      this.names = larger;
    }
    const names = this.names;
    let lastSlash = -1;
    for (let i = 0; i < length; i++) {
      const b = path[i]!;
      names[start + i] = b;
      if (b === SLASH) lastSlash = i;
      else if (b >= HIGH_LEAD_BYTE) this.highCharacters = true;
    }
    const entry = this.kinds.length;
    const end = start + length;
    if (entry > 0 && this.walkOrdered && !followsInWalk(names, this.start(entry - 1), start, start, end)) this.walkOrdered = false;
    const base = start + lastSlash + 1;
    const whiteout = end - base >= 4 && names[base] === DOT && names[base + 1] === 0x77 && names[base + 2] === 0x68 && names[base + 3] === DOT; // .wh.
    this.ends.push(end);
    this.kinds.push(whiteout ? EntryKind.whiteout : kind);
    if (whiteout) this.whiteouts = true;
    if (!whiteout && kind === EntryKind.file) this.fileEntry.push(entry);
    return entry;
  }

  setLinkTarget(entry: number, target: string): void { this.linkTargets.set(entry, target); }

  /** The number of the file recorded last. */
  lastFile(): number { return this.fileEntry.length - 1; }

  /** A regular file's facts, once its bytes have all gone by: files end in the order they were recorded. */
  endFile(file: number, size: number, mode: number, sha1: Digested, sha256: Digested, content: Buffer | undefined, go: GoBuildInfo | undefined): void {
    this.endRow(file, this.checksums.add(sha1, sha256), size, mode);
    if (content && isJavaArchivePath(this.filePath(file))) this.mavenInfo.set(file, mavenArtifacts(content));
    else if (content) this.contents.set(file, content);
    if (go) this.goInfo.set(file, go);
  }

  /** A regular file whose digests come later (`setDigests`), in its turn like endFile. */
  endFileLater(file: number, size: number, mode: number): void {
    this.endRow(file, this.checksums.reserve(), size, mode);
    this.digestsPending++;
  }

  /** The digests of a file ended later: SHA1's 20 bytes and SHA256's 32 at `digests[at]`. */
  setDigests(file: number, digests: Buffer, at: number): void {
    this.checksums.set(file, digests, at);
    this.digestsPending--;
  }

  private endRow(file: number, row: number, size: number, mode: number): void {
    if (row !== file || this.sizes.length !== file) throw new Error(`internal error: file ${file} of a layer ended out of order (row ${row})`);
    this.sizes.push(size);
    this.modes.push(mode);
  }

  /** Whether file `file`'s path may be package metadata: its last byte or first rules most paths out without a string. */
  mayDeclarePackages(file: number): boolean {
    const entry = this.fileEntry[file]!;
    const start = this.start(entry);
    const end = this.ends[entry]!;
    if (end === start) return false;
    const last = this.names[end - 1];
    // status, installed, os-release, *.json, METADATA, PKG-INFO, *.egg-info, rpmdb.sqlite, Packages;
    // and everything under var/lib/dpkg/status.d/. A name ending in `o` (every .so and .mo) is asked
    // only when it ends in `info`.
    const info = last === 0x6f && end - start >= 4 && this.names[end - 2] === 0x66 && this.names[end - 3] === 0x6e && this.names[end - 4] === 0x69;
    // A Java archive: `.?ar` (jar, war, ear …) or `.?pi` (Jenkins' jpi, hpi).
    const java = end - start >= 4 && this.names[end - 4] === 0x2e && ((last === 0x72 && this.names[end - 2] === 0x61) || (last === 0x69 && this.names[end - 2] === 0x70));
    // A gem's specification: `.gemspec`, told by its `p` and `c` (not every `.c` and `.pyc`).
    const gemspec = last === 0x63 && end - start >= 8 && this.names[end - 2] === 0x65 && this.names[end - 3] === 0x70 && this.names[end - 8] === 0x2e;
    if (last !== 0x73 && last !== 0x64 && last !== 0x65 && last !== 0x6e && last !== 0x41 && last !== 0x4f && !info && !java && !gemspec && this.names[start] !== 0x76) return false;
    return isMetadataPath(this.path(entry));
  }

  private start(entry: number): number {
    return entry === 0 ? 0 : this.ends[entry - 1]!;
  }

  /** Entries' paths by their bytes (which is JavaScript's order of the strings when no name holds a character at or above U+E000). */
  private compareEntries(a: number, b: number): number {
    const names = this.names;
    const aStart = this.start(a);
    const bStart = this.start(b);
    const aLength = this.ends[a]! - aStart;
    const bLength = this.ends[b]! - bStart;
    const n = Math.min(aLength, bLength);
    for (let i = 0; i < n; i++) {
      const d = names[aStart + i]! - names[bStart + i]!;
      if (d !== 0) return d;
    }
    return aLength - bLength;
  }
}

/**
 * The length of `name` as a clean relative path, when it is one but for a directory's trailing
 * `/` (the names ocipush writes); -1 when it must be cleaned as a string (a leading `/`, `.` or
 * `..` segments, an empty segment) or is not valid UTF-8. What cleanPath's test looks for, on bytes.
 */
function cleanNameLength(name: Buffer): number {
  let length = name.length;
  if (length > 0 && name[length - 1] === SLASH) length--;
  let ascii = true;
  for (let i = 0; i < length; i++) {
    const b = name[i]!;
    if (b >= 0x80) ascii = false;
    else if (b === SLASH) {
      if (i === 0 || i === length - 1 || name[i - 1] === SLASH) return -1;
    } else if (b === DOT && (i === 0 || name[i - 1] === SLASH)) {
      const next = i + 1 < length ? name[i + 1] : SLASH;
      if (next === SLASH || (next === DOT && (i + 2 >= length || name[i + 2] === SLASH))) return -1;
    }
  }
  return ascii || isUtf8(name) ? length : -1;
}

/**
 * Whether the path at [start, end) comes after the one at [prevStart, prevEnd) in a walk: depth
 * first, a directory before what it holds, each directory's names in byte order. That is byte
 * order with `/` below every other byte.
 */
function followsInWalk(names: Buffer, prevStart: number, prevEnd: number, start: number, end: number): boolean {
  const n = Math.min(prevEnd - prevStart, end - start);
  for (let i = 0; i < n; i++) {
    const before = names[prevStart + i]!;
    const after = names[start + i]!;
    if (before !== after) return before === SLASH || (after !== SLASH && after > before);
  }
  return end - start > prevEnd - prevStart;
}

/** The digests of no bytes: an empty file is never fed to its hasher. */
const EMPTY_SHA1 = Buffer.from('da39a3ee5e6b4b0d3255bfef95601890afd80709', 'hex');
const EMPTY_SHA256 = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');
/** Package metadata files are small; a larger one is hashed but not parsed. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/**
 * Hashes one regular file's bytes as they go by (SHA1, SHA256), keeps a package metadata file's
 * content and looks for Go build info in an ELF executable. A tar is written and read one entry at
 * a time, so one hasher serves every file of a layer, started again for each. Chunks may be views
 * of buffers that are reused after `update` returns: whatever is kept is copied.
 */
class FileHasher implements ContentSink {
  private file = 0;
  private mode = 0;
  private expectedSize = 0;
  private size = 0;
  private sha1: Hash | string | undefined;
  private sha256: Hash | string | undefined;
  /** A package metadata file's chunks, copied (undefined for any other file). */
  private kept: Buffer[] | undefined;
  private go: GoBuildInfoScanner | undefined;
  /** The first bytes of an executable, until its first 4 tell whether it is ELF. */
  private head: Buffer[] | undefined;

  constructor(private readonly entries: LayerEntries) {}

  /** `expectedSize`: the size the tar header declares (a file that comes in one piece is hashed in one call). */
  start(file: number, mode: number, expectedSize: number, keep: boolean): this {
    this.file = file;
    this.mode = mode;
    this.expectedSize = expectedSize;
    this.size = 0;
    this.sha1 = undefined;
    this.sha256 = undefined;
    this.kept = keep ? [] : undefined;
    this.go = undefined;
    this.head = (mode & 0o111) !== 0 ? [] : undefined;
    return this;
  }

  /**
   * A file whose bytes this hasher needs only for its digests (no content kept, no executable
   * looked into) is ended here, its digests set when they come: the tar producer has them made
   * where the bytes are compressed. Returns its number; -1 for a file to be fed its bytes.
   */
  deferDigests(): number {
    if (this.kept || this.head) return -1;
    this.entries.endFileLater(this.file, this.expectedSize, this.mode);
    return this.file;
  }

  digested(file: number, digests: Buffer, at: number): void {
    this.entries.setDigests(file, digests, at);
  }

  update(chunk: Buffer): void {
    if (this.size === 0 && chunk.length === this.expectedSize) {
      // Most files: no Hash objects to make and collect.
      this.sha1 = binaryDigestOf('sha1', chunk);
      this.sha256 = binaryDigestOf('sha256', chunk);
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
    const content = this.kept && this.size <= MAX_METADATA_BYTES ? Buffer.concat(this.kept) : undefined;
    this.entries.endFile(this.file, this.size, this.mode, this.sha1 ?? EMPTY_SHA1, this.sha256 ?? EMPTY_SHA256, content, this.go?.result());
    this.kept = undefined;
    this.go = undefined;
  }

  /** ELF executables may carry Go build info: decided on the first 4 bytes, however they were split. */
  private sniff(chunk: Buffer): void {
    const head = this.head!;
    if (head.length === 0 && chunk.length >= 4) {
      // Most executables: the first chunk holds the magic, and nothing is copied.
      this.head = undefined;
      if (isElf(chunk)) this.scanForGo([chunk]);
      return;
    }
    head.push(Buffer.from(chunk.subarray(0, 4)));
    const first = Buffer.concat(head);
    if (first.length < 4) return;
    this.head = undefined;
    // The bytes before this chunk (fewer than 4) and then the chunk itself.
    if (isElf(first)) this.scanForGo([first.subarray(0, first.length - Math.min(4, chunk.length)), chunk]);
  }

  private scanForGo(pieces: Buffer[]): void {
    this.go = new GoBuildInfoScanner();
    for (const piece of pieces) if (piece.length > 0) this.go.update(piece);
  }
}

function isElf(bytes: Buffer): boolean {
  return bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * The entries of a layer's tar, recorded while the tar is written or read (a TarObserver): each
 * regular file hashed from the bytes that go by, nothing read twice, nothing decompressed again.
 */
export class LayerFilesRecorder implements TarObserver {
  private readonly recorded = new LayerEntries();
  private readonly hasher = new FileHasher(this.recorded);
  private complete = false;

  /** Every entry of the archive, once it has been written to its end and every file digest made elsewhere has come; undefined before (or if the layer was not a tar this recorder watched). */
  get entries(): LayerEntries | undefined {
    return this.complete && this.recorded.digestsPending === 0 ? this.recorded : undefined;
  }

  end(): void {
    this.complete = true;
  }

  entry(e: ObservedEntry): ContentSink | undefined {
    const link = e.type === 'hardlink' && e.linkname !== undefined && e.linkname.length > 0;
    const entry = this.recorded.record(e.name, e.type === 'file' ? EntryKind.file : link ? EntryKind.link : e.type === 'dir' ? EntryKind.directory : EntryKind.other);
    const kind = this.recorded.kind(entry);
    if (kind === EntryKind.file) {
      const file = this.recorded.lastFile();
      return this.hasher.start(file, e.mode, e.size, this.recorded.mayDeclarePackages(file));
    }
    if (kind === EntryKind.link) this.recorded.setLinkTarget(entry, cleanPath(e.linkname!.toString('utf8')));
    return undefined;
  }
}
