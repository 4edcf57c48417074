import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/atomic.js';
import { CACHE_DIR, CACHE_PRUNE_LOCK, LEGACY_TEMP_MAX_AGE_MS as TEMP_MAX_AGE_MS, TEMP_NAME } from '../content/layout-files.js';
import { withLock } from '../content/lock.js';
import type { OciLayout } from '../content/layout.js';
import { isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { LayerKey } from './cache-key.js';

/**
 * The layer cache's entries, in the layout: `.ocipush-cache/layers/<source>-<key>.json`, each the
 * layer a key stands for. The source part (a prefix of the key's source id) lets a build see with
 * one readdir whether a source has any entry at all, before paying for a walk to compute its key.
 *
 * Entries are written by temp name + rename, and removed by one pruner at a time (a lock file);
 * readers never lock: an entry read whole is used, one gone is a miss. Removing an entry never
 * removes a blob, so a build that is using one is unaffected.
 *
 * A hit trusts a blob of the right size without hashing it again: the layout's blobs are
 * content-addressed and only ever appear by rename once hashed, and whatever reads a blob later
 * (push, copy, validate) verifies its digest, so a blob damaged in place still cannot go out
 * unnoticed; a build that makes the layer again (`--no-cache`) renames its blob over the damaged
 * one. Hashing it on every rebuild would cost about as much as the rest of the rebuild together.
 */

export interface CachedLayer {
  descriptor: Descriptor;
  diffId: Digest;
  uncompressedSize: number;
}

/** How many entries are kept: per source (path + options), and in all. */
export interface CacheLimits {
  perSource: number;
  total: number;
}

/**
 * A source's tree rarely goes back to an older state (its ctimes cannot), so older keys of one
 * source are almost always dead; a few are kept for trees swapped in and out by rename.
 */
export const DEFAULT_CACHE_LIMITS: CacheLimits = { perSource: 4, total: 64 };

/** Characters of the source id in entry names: enough to tell sources apart. */
const SOURCE_CHARS = 32;
const ENTRY_NAME = /^([0-9a-f]{32})-[0-9a-f]{64}\.json$/;
/** A prune waits this long for another one to finish, then leaves the job to it. */
const LOCK_WAIT_MS = 2000;

export class LayerCache {
  readonly dir: string;

  constructor(layoutRoot: string) {
    this.dir = join(layoutRoot, CACHE_DIR, 'layers');
  }

  /** The entry file of `key`. */
  entryName(key: Pick<LayerKey, 'source' | 'hex'>): string {
    return `${key.source.slice(0, SOURCE_CHARS)}-${key.hex}.json`;
  }

  /** Whether any entry of this source id exists: when none does, a lookup cannot hit. */
  async hasSource(source: string): Promise<boolean> {
    const prefix = `${source.slice(0, SOURCE_CHARS)}-`;
    try {
      return (await readdir(this.dir)).some((name) => name.startsWith(prefix));
    } catch {
      return false;
    }
  }

  /** The cached layer for `key`, only if its blob is in the layout with the right size. */
  async lookup(layout: OciLayout, key: LayerKey): Promise<CachedLayer | undefined> {
    const layer = await this.read(this.entryName(key));
    return layer && (await layout.exists(layer.descriptor)) ? layer : undefined;
  }

  /** Records a built layer under `key`, unless the key is unsure. Best effort: a failure only costs a later rebuild. */
  async store(key: LayerKey, layer: CachedLayer): Promise<void> {
    if (key.racy) return;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(join(this.dir, this.entryName(key)), JSON.stringify({
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

  /** The blobs the cache's entries name (gc keeps them: a rebuild of an older tree reuses them). */
  async referencedBlobs(): Promise<Digest[]> {
    const digests: Digest[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!ENTRY_NAME.test(name)) continue;
      const layer = await this.read(name);
      if (layer) digests.push(layer.descriptor.digest);
    }
    return digests;
  }

  /** Removes every entry (gc --no-cache): the blobs only the cache kept become unreachable. */
  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }

  /** Marks a hit as just used (pruning keeps the most recently used), writing it again if it was pruned meanwhile. */
  async touch(key: LayerKey, layer: CachedLayer): Promise<void> {
    const now = new Date();
    try {
      await utimes(join(this.dir, this.entryName(key)), now, now);
    } catch {
      await this.store(key, layer);
    }
  }

  /**
   * Bounds the cache: drops entries whose blob has left the layout, then all but the most
   * recently used `perSource` of each source and `total` in all. Entries named in `keep` (this
   * build's) are never dropped. Best effort, like every cache write.
   */
  async prune(layout: OciLayout, keep: Iterable<string>, limits: CacheLimits = DEFAULT_CACHE_LIMITS): Promise<void> {
    const kept = new Set(keep);
    try {
      if (!(await stat(this.dir)).isDirectory()) return;
      await withLock(join(layout.root, CACHE_PRUNE_LOCK), () => this.pruneLocked(layout, kept, limits), LOCK_WAIT_MS);
    } catch {
      // No cache yet, another build is pruning (it bounds the cache as well), or the layout is read-only.
    }
  }

  private async pruneLocked(layout: OciLayout, keep: Set<string>, limits: CacheLimits): Promise<void> {
    const entries: { name: string; source: string; usedMs: number }[] = [];
    const now = Date.now();
    for (const name of await readdir(this.dir)) {
      const source = ENTRY_NAME.exec(name)?.[1];
      const temp = TEMP_NAME.test(name);
      if (!source && !temp && !/^[0-9a-f]{64}\.json$/.test(name)) continue; // not ours
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (!st) continue;
      if (source) entries.push({ name, source, usedMs: st.mtimeMs });
      // Format 1 entries (no source part) can never match a key again.
      else if (!temp || now - st.mtimeMs > TEMP_MAX_AGE_MS) await this.remove(name);
    }
    entries.sort((a, b) => b.usedMs - a.usedMs || (a.name < b.name ? -1 : 1));
    const perSource = new Map<string, number>();
    let total = 0;
    const count = (source: string) => { perSource.set(source, (perSource.get(source) ?? 0) + 1); total++; };
    for (const e of entries) if (keep.has(e.name)) count(e.source);
    for (const e of entries) {
      if (keep.has(e.name)) continue;
      const room = (perSource.get(e.source) ?? 0) < limits.perSource && total < limits.total;
      const layer = room ? await this.read(e.name) : undefined;
      if (layer && (await layout.exists(layer.descriptor))) count(e.source);
      else await this.remove(e.name);
    }
  }

  private async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true }).catch(() => {});
  }

  private async read(name: string): Promise<CachedLayer | undefined> {
    let value: unknown;
    try {
      value = JSON.parse(await readFile(join(this.dir, name), 'utf8'));
    } catch {
      return undefined;
    }
    const v = value as Partial<{ mediaType: string; digest: string; size: number; diffId: string; uncompressedSize: number }>;
    if (typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || !isDigest(v.digest)
      || typeof v.diffId !== 'string' || !isDigest(v.diffId)
      || !Number.isSafeInteger(v.size) || !Number.isSafeInteger(v.uncompressedSize)) return undefined;
    return { descriptor: { mediaType: v.mediaType, digest: v.digest as Digest, size: v.size! }, diffId: v.diffId as Digest, uncompressedSize: v.uncompressedSize! };
  }
}

/**
 * One build's use of the cache: lookups (none when the build is told not to read it, as
 * `--no-cache`), then, once its image is stored, its hits marked as used, its new layers recorded
 * and the cache pruned. Shared by `build DIR` and `build -f`, so both keep the cache alike.
 */
export class CacheUse {
  readonly cache: LayerCache;
  private readonly updates: { key: LayerKey; layer: CachedLayer; hit: boolean }[] = [];

  /** @param readFrom The layout to find hits in; undefined: nothing is found (a new layout, or not read). */
  constructor(layoutRoot: string, private readonly readFrom: OciLayout | undefined) {
    this.cache = new LayerCache(layoutRoot);
  }

  get reads(): boolean {
    return this.readFrom !== undefined;
  }

  /** The layer of `key`, recorded as used when found. */
  async lookup(key: LayerKey): Promise<CachedLayer | undefined> {
    const hit = this.readFrom ? await this.cache.lookup(this.readFrom, key) : undefined;
    if (hit) this.updates.push({ key, layer: hit, hit: true });
    return hit;
  }

  /** A layer this build made, to store under `key` once the image is stored. */
  record(key: LayerKey, layer: CachedLayer): void {
    this.updates.push({ key, layer, hit: false });
  }

  /** After the image is stored: hits touched, new layers stored, the cache bounded. Best effort. */
  async finish(layout: OciLayout): Promise<void> {
    for (const { key, layer, hit } of this.updates) await (hit ? this.cache.touch(key, layer) : this.cache.store(key, layer));
    await this.cache.prune(layout, this.updates.map(({ key }) => this.cache.entryName(key)));
  }
}
