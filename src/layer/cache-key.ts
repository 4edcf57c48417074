import type { BigIntStats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { BufferedHash } from './buffered-hash.js';
import { VERSION } from '../version.js';
import { effectiveLevel } from './compress/options.js';
import type { Compression } from '../oci/media-types.js';
import type { LayerSource } from './layer-source.js';
import { walk, type FsEntry } from './walk.js';

/**
 * The keys of the layer cache (kept by layer-cache-store.ts), which lets a rebuild of an
 * unchanged tree skip reading, tarring and compressing it.
 *
 * A key is a sha256 of everything that makes the layer's bytes: the options, the source's path,
 * and for every walked entry its path, type, mode, owner, size, link target, device numbers and
 * its inode, mtime and ctime in nanoseconds. ctime is what makes it safe: every write, chmod,
 * chown or setcap moves it, and no user can set it back. Anything unsure is a miss, and a miss is
 * a full build.
 *
 * A key is taken from the very walk that builds the layer (TreeKeyHasher on the walk's onStats),
 * so a cold build walks the tree once; only a source that has entries already is walked ahead of
 * the build, to look its key up. Each entry is stat'ed before its content is read, so the key
 * describes the layer's entries exactly; for their contents:
 *
 * - A change after an entry's stat moves its ctime to the time of the change, later than the stat,
 *   unless the change falls in the same clock tick as the ctime the stat saw. The latter is only
 *   possible when that ctime is within a tick of the stat, which the racy rule below refuses.
 * - Otherwise the entry's ctime has moved on from the one in the key, and never comes back (ctime
 *   follows the wall clock and cannot be set): no later tree has this key, so the entry can never
 *   be served. Re-stat'ing every file after the build would only prove the same, for 0.13 s on
 *   47,000 files.
 *
 * The racy rule (git's): a key is not stored when any entry changed in the two seconds before the
 * walk began, or later; nor when the wall clock went back during the walk, which the argument above
 * relies on. Xattrs are the one part of an entry read before its stat (one getfattr scan of the
 * tree, which the CLI starts ahead of the build): a walk whose scan began earlier starts its key
 * from the scan's start (build-image.ts), so a setfattr in between is racy too.
 *
 * A Dockerfile layer (dockerfile-exec/layer-cache.ts) is keyed the same way, from its plan instead
 * of a walk: each entry as written, with the stamp of the file its bytes come from (taken when the
 * plan looked at it, before any read) or the digest of the base layer holding them.
 */

/** What a key reads of an entry: a walked entry, or a planned one whose names are still strings. */
export type KeyedEntry = Omit<FsEntry, 'path' | 'name' | 'linkname'> & { name: Uint8Array | string; linkname?: Uint8Array | string };

/** Bumped whenever what the key covers, or what an entry holds, changes. */
const FORMAT = 'ocipush-layer-cache-5';
/** Entries changed this recently before the walk began make the key unsure: not stored. */
const RACY_NS = 2_000_000_000n;

/** Everything besides the tree that goes into the layer's bytes. */
export interface LayerKeyOptions {
  compression: string;
  level?: number;
  threads?: number;
  clampMtime: number;
  owner?: { uid: number; gid: number };
  /** Entries written before the tree's own (whiteouts). */
  prepend?: FsEntry[];
  /** Real paths left out of the walk (the layout). */
  exclude: string[];
}

/** The wall clock file times are compared with, in ms since the epoch (Date.now); tests move it. */
export type WallClock = () => number;

export interface LayerKey {
  /** sha256 hex of the source's path and options: the entries a lookup could match share it. */
  source: string;
  /** sha256 hex of the source, and of the tree's metadata. */
  hex: string;
  /** Some entry changed too recently for its metadata to prove the content: do not store. */
  racy: boolean;
}

/**
 * What a key names besides a rootfs: one layer of a Dockerfile build (`path` says which: the
 * context, the Dockerfile, the stage and the layer's place in it). Its entries and their contents
 * come from the build's plan (TreeKeyHasher.add), not from a walk.
 */
export interface PlannedSource {
  kind: 'dockerfile';
  path: string;
}

/** Names a source (its real path and kind) with the options: every key of it starts from this. */
export function sourceId(source: LayerSource | PlannedSource, options: LayerKeyOptions): string {
  const hash = new BufferedHash();
  hash.text(JSON.stringify({
    format: FORMAT,
    version: VERSION,
    node: process.version,
    zlib: process.versions.zlib,
    zstd: (process.versions as Record<string, string | undefined>).zstd ?? null,
    kind: source.kind,
    path: source.path,
    from: source.kind === 'tar' ? source.compression : null,
    compression: options.compression,
    level: effectiveLevel(options.compression as Compression, options.level) ?? null,
    threads: options.threads ?? null,
    clampMtime: options.clampMtime,
    owner: options.owner ?? null,
    exclude: options.exclude,
  }));
  hash.text('\0');
  for (const e of options.prepend ?? []) hashEntry(hash, e);
  return hash.hex();
}

/**
 * What a key keeps of a file's lstat: the facts that move with any change (inode, size, mtime and
 * ctime in nanoseconds …), as text or bytes, and the latest of its times, for the racy rule.
 */
export interface StatStamp {
  facts: string | readonly (string | Uint8Array)[];
  changedNs: bigint;
}

const STAT_FIELDS = 10;

/**
 * Writes `st`'s facts at `into[at]`, ten 64-bit fields: the bytes both a walked file and a planned
 * one are keyed by. (A BigInt64Array element takes a value modulo 2^64: an unsigned dev or ino
 * above 2^63 wraps.)
 */
function putStatFacts(into: BigInt64Array, at: number, st: BigIntStats): void {
  into[at] = st.dev; into[at + 1] = st.ino; into[at + 2] = st.mode; into[at + 3] = st.nlink; into[at + 4] = st.uid;
  into[at + 5] = st.gid; into[at + 6] = st.rdev; into[at + 7] = st.size; into[at + 8] = st.mtimeNs; into[at + 9] = st.ctimeNs;
}

const STATS_PER_CHUNK = 4096;

/**
 * The lstat facts of many files, kept for keys to come (a Dockerfile plan keeps one per context
 * file it looked at): 80 bytes each in shared chunks, where a stamp object per file would hold
 * ten times that on the heap.
 */
export class StatTable {
  private readonly chunks: BigInt64Array[] = [];
  private count = 0;

  /** Keeps `st`'s facts; returns the number that names them. */
  add(st: BigIntStats): number {
    const i = this.count++;
    if (i % STATS_PER_CHUNK === 0) this.chunks.push(new BigInt64Array(STATS_PER_CHUNK * STAT_FIELDS));
    putStatFacts(this.chunks[this.chunks.length - 1]!, (i % STATS_PER_CHUNK) * STAT_FIELDS, st);
    return i;
  }

  /** The stamp of facts `i`, its bytes after `label` (which names the file). */
  stamp(i: number, label: string): StatStamp {
    const chunk = this.chunks[Math.floor(i / STATS_PER_CHUNK)]!;
    const at = (i % STATS_PER_CHUNK) * STAT_FIELDS;
    const mtimeNs = chunk[at + 8]!;
    const ctimeNs = chunk[at + 9]!;
    return {
      facts: [label, new Uint8Array(chunk.buffer, chunk.byteOffset + at * 8, STAT_FIELDS * 8)],
      changedNs: mtimeNs > ctimeNs ? mtimeNs : ctimeNs,
    };
  }
}

/**
 * Hashes a tree's entries as a walk sees them: give `onStats` to the walk (the build's own, or
 * layerKey's), then `finish()` once it has ended. A planned layer (a Dockerfile step) gives each
 * entry with `add` instead, with the stamp of the file its bytes come from.
 */
export class TreeKeyHasher {
  private readonly hash = new BufferedHash();
  /** Wall clock, as file times are: a time at or after (start - 2 s) is too recent to trust. */
  private readonly startNs: bigint;
  private newest = 0n;
  /** One walked file's facts, reused for every file: a walk hashes tens of thousands. */
  private readonly facts = new BigInt64Array(STAT_FIELDS);
  private readonly factBytes = new Uint8Array(this.facts.buffer);

  /** @param startMs When the stats hashed were taken, at the latest (default now: a walk to come). */
  constructor(private readonly source: string, private readonly clock: WallClock = Date.now, startMs?: number) {
    this.startNs = startMs === undefined ? nowNs(clock) : BigInt(Math.floor(startMs)) * 1_000_000n;
    this.hash.text(`${FORMAT}\0${source}\0tree\0`);
  }

  readonly onStats = (e: FsEntry, st: BigIntStats): void => {
    // Xattrs are not read: setting one (setcap, setfattr, setfacl) moves the file's ctime, which is in the key.
    // What add(e, { facts: [facts bytes], changedNs }) would hash, without that stamp per file.
    // (A planned entry's stamp also names its file: the two kinds of key never need to agree.)
    hashEntry(this.hash, e);
    putStatFacts(this.facts, 0, st);
    this.hash.bytes(this.factBytes);
    this.hash.text('\n');
    const changedNs = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    if (changedNs > this.newest) this.newest = changedNs;
  };

  /**
   * An entry, and where its bytes come from: a file's stamp, or (`changedNs` 0) a name that fixes
   * them (a blob digest and an entry in it). None for an entry without content.
   */
  add(e: KeyedEntry, content?: StatStamp): void {
    hashEntry(this.hash, e);
    if (!content) this.hash.text('-\n');
    else if (typeof content.facts === 'string') this.hash.text(`${content.facts}\n`);
    else {
      for (const part of content.facts) this.hash.add(part);
      this.hash.text('\n');
    }
    if (content && content.changedNs > this.newest) this.newest = content.changedNs;
  }

  finish(): LayerKey {
    const racy = this.newest >= this.startNs - RACY_NS || nowNs(this.clock) < this.startNs;
    return { source: this.source, hex: this.hash.hex(), racy };
  }
}

/** The key of a layer source as it is now, from metadata only (no file is read). */
export async function layerKey(source: LayerSource, options: LayerKeyOptions, clock: WallClock = Date.now): Promise<LayerKey> {
  const hasher = new TreeKeyHasher(sourceId(source, options), clock);
  if (source.kind === 'tar') {
    const path = await realpath(source.path);
    hasher.onStats({ path: Buffer.from(path), name: Buffer.alloc(0), type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 }, await stat(path, { bigint: true }));
  } else {
    for (const _ of walk(source.path, { exclude: options.exclude, onStats: hasher.onStats })) { /* hashed in onStats */ }
  }
  return hasher.finish();
}

function nowNs(clock: WallClock): bigint {
  return BigInt(Math.floor(clock())) * 1_000_000n;
}

/** An entry's numbers, as fixed-size bytes (float64: each is a safe integer; -1 for no device). */
const entryNumbers = new Float64Array(7);
const entryNumberBytes = new Uint8Array(entryNumbers.buffer);

/** Names (no NUL in them) end with NUL; the numbers between take a fixed size: nothing is ambiguous. */
function hashEntry(hash: BufferedHash, e: KeyedEntry): void {
  hash.add(e.name);
  hash.text('\0');
  hash.text(e.type);
  hash.text('\0');
  entryNumbers[0] = e.mode; entryNumbers[1] = e.uid; entryNumbers[2] = e.gid; entryNumbers[3] = e.size;
  entryNumbers[4] = e.mtime; entryNumbers[5] = e.devmajor ?? -1; entryNumbers[6] = e.devminor ?? -1;
  hash.bytes(entryNumberBytes);
  if (e.linkname) hash.add(e.linkname);
  hash.text('\0');
  hash.text(e.xattrs ? e.xattrs.toString('hex') : '-');
  hash.text('\0');
}
