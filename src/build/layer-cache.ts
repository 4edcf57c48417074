import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { writeFileAtomic } from '../content/atomic.js';
import type { OciLayout } from '../content/layout.js';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import { VERSION } from '../version.js';
import type { LayerSource } from './source.js';
import { walk, type FsEntry } from './walk.js';

/**
 * A cache of built layers, kept in the layout (`.ocipush-cache/layers/<key>.json`), that lets a
 * rebuild of an unchanged tree skip reading, tarring and compressing it.
 *
 * The key is a sha256 of everything that makes the layer's bytes: the options, and for every
 * walked entry its path, type, mode, owner, size, link target, device numbers and its inode,
 * mtime and ctime in nanoseconds. ctime is what makes it safe: every write, chmod, chown or
 * setcap moves it, and no user can set it back. A key is only stored when no entry changed in
 * the two seconds before the walk began (git's "racy" rule): a change in the same clock tick
 * as the walk could otherwise leave the metadata as it was. Anything unsure is a miss, and a
 * miss is a full build.
 */

/** Bumped whenever what the key covers, or what the value holds, changes. */
const FORMAT = 'ocipush-layer-cache-1';
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

export interface LayerKey {
  /** sha256 hex of the tree's metadata and the options. */
  hex: string;
  /** Some entry changed too recently for its metadata to prove the content: do not store. */
  racy: boolean;
}

/** What a cache entry holds: the layer as the image needs it. */
export interface CachedLayer {
  descriptor: Descriptor;
  diffId: Digest;
  uncompressedSize: number;
}

/** The key of a layer source as it is now, from metadata only (no file is read). */
export async function layerKey(source: LayerSource, options: LayerKeyOptions): Promise<LayerKey> {
  // Wall clock, as file times are: a time at or after (start - 2 s) is too recent to trust.
  const start = BigInt(Date.now()) * 1_000_000n;
  const hash = createHash('sha256');
  hash.update(JSON.stringify({
    format: FORMAT,
    version: VERSION,
    node: process.version,
    zlib: process.versions.zlib,
    zstd: (process.versions as Record<string, string | undefined>).zstd ?? null,
    kind: source.kind,
    compression: options.compression,
    level: options.level ?? null,
    threads: options.threads ?? null,
    clampMtime: options.clampMtime,
    owner: options.owner ?? null,
    exclude: options.exclude,
  }));
  hash.update('\0');
  for (const e of options.prepend ?? []) hashEntry(hash, e);
  hash.update('\0tree\0');
  let newest = 0n;
  if (source.kind === 'tar') {
    const path = await realpath(source.path);
    const st = await stat(path, { bigint: true });
    hash.update(JSON.stringify({ path, from: source.compression }));
    hashStats(hash, st);
    newest = maxTime(st);
  } else {
    const onStats = (e: FsEntry, st: BigIntStats) => {
      hashEntry(hash, e);
      hashStats(hash, st);
      const t = maxTime(st);
      if (t > newest) newest = t;
    };
    // Capabilities are not read: setting one moves the file's ctime, which is in the key.
    for (const _ of walk(source.path, { exclude: options.exclude, onStats })) { /* hashed in onStats */ }
  }
  return { hex: hash.digest('hex'), racy: newest >= start - RACY_NS };
}

function maxTime(st: BigIntStats): bigint {
  return st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
}

function hashEntry(hash: Hash, e: FsEntry): void {
  hash.update(e.name);
  hash.update(`\0${e.type} ${e.mode} ${e.uid} ${e.gid} ${e.size} ${e.mtime} ${e.devmajor ?? '-'} ${e.devminor ?? '-'} `);
  if (e.linkname) hash.update(e.linkname);
  hash.update(`\0${e.capability ? e.capability.toString('hex') : '-'}\0`);
}

function hashStats(hash: Hash, st: BigIntStats): void {
  hash.update(`${st.dev} ${st.ino} ${st.mode} ${st.nlink} ${st.uid} ${st.gid} ${st.rdev} ${st.size} ${st.mtimeNs} ${st.ctimeNs}\n`);
}

function entryPath(layout: OciLayout, hex: string): string {
  return join(layout.root, '.ocipush-cache', 'layers', `${hex}.json`);
}

/** The cached layer for `key`, only if its blob is in the layout with the right size. */
export async function lookupLayer(layout: OciLayout, key: LayerKey): Promise<CachedLayer | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(entryPath(layout, key.hex), 'utf8'));
  } catch {
    return undefined;
  }
  const v = value as Partial<{ mediaType: string; digest: string; size: number; diffId: string; uncompressedSize: number }>;
  if (typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || !isDigest(v.digest)
    || typeof v.diffId !== 'string' || !isDigest(v.diffId)
    || !Number.isSafeInteger(v.size) || !Number.isSafeInteger(v.uncompressedSize)) return undefined;
  const descriptor: Descriptor = { mediaType: v.mediaType, digest: v.digest as Digest, size: v.size! };
  if (!(await layout.exists(descriptor))) return undefined;
  return { descriptor, diffId: v.diffId as Digest, uncompressedSize: v.uncompressedSize! };
}

/** Records a built layer under `key`, unless the key is unsure. Best effort: a failure only costs a later rebuild. */
export async function storeLayer(layout: OciLayout, key: LayerKey, layer: CachedLayer): Promise<void> {
  if (key.racy) return;
  const path = entryPath(layout, key.hex);
  try {
    await mkdir(join(layout.root, '.ocipush-cache', 'layers'), { recursive: true });
    await writeFileAtomic(path, JSON.stringify({
      mediaType: layer.descriptor.mediaType,
      digest: layer.descriptor.digest,
      size: layer.descriptor.size,
      diffId: layer.diffId,
      uncompressedSize: layer.uncompressedSize,
    }) + '\n');
  } catch {
    // The cache is an optimisation; the image is already written.
  }
}
