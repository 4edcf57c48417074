import { sourceId, TreeKeyHasher, type LayerKey, type LayerKeyOptions, type StatStamp, type StatTable, type WallClock } from '../layer/cache-key.js';
import type { CacheUse, CachedLayer } from '../layer/cache-store.js';
import { hasContent, plannedKeyEntry, type PlannedEntry } from './layer-writer.js';
import type { PlannedLayer } from './stage-plan.js';

/**
 * The layer cache (layer/cache-store.ts, the one `build DIR` keeps in the layout) for the layers
 * of a Dockerfile build. A planned layer is the list of its entries, each with where its bytes
 * come from, so its key is taken from the plan, without walking or reading anything again:
 *
 * - every entry as the tar will write it (name, type, mode, owner, size, mtime, link target):
 *   this is where COPY's destination, --chown, --chmod, --link, --parents, --exclude, the
 *   .dockerignore result, the stage it copies from and the clamped times show;
 * - for every file whose bytes are read, the stamp of where they come from: a context file's path
 *   and lstat facts (inode, size, mtime and ctime in ns: the directory cache's rule, safe for the
 *   same reasons, cache-key.ts), a base layer's digest and entry, an ADD archive's path, lstat
 *   facts and entry;
 * - the options (compression, level, threads, clamp time) and ocipush's version, in the source id.
 *
 * The context's stamps were taken while the plan was made, after `startMs`: a file changed within
 * 2 s of it makes the key unsure, and the layer is then built but not recorded.
 */

export interface PlannedKeyOptions extends LayerKeyOptions {
  /** Names the build's layers (context, Dockerfile, stage) apart from other builds' in the cache. */
  build: string;
  /** When the build started, before the context was first looked at (ms, the clock's). */
  startMs: number;
  clock?: WallClock;
}

/** The key of a planned layer; undefined when some file's bytes have nothing that fixes them. */
export function plannedLayerKey(entries: readonly PlannedEntry[], stats: StatTable, source: string, options: PlannedKeyOptions): LayerKey | undefined {
  const hasher = new TreeKeyHasher(source, options.clock, options.startMs);
  for (const e of entries) {
    let stamp: StatStamp | undefined;
    if (hasContent(e)) {
      const c = e.node.content;
      if (c?.kind === 'disk' && c.stat !== undefined) stamp = stats.stamp(c.stat, `disk ${c.path}\0`);
      else if (c?.kind === 'archive' && c.archive.stamp) stamp = { facts: [...[c.archive.stamp.facts].flat(), `#${c.entry}`], changedNs: c.archive.stamp.changedNs };
      else if (c?.kind === 'inline') stamp = { facts: [`inline ${c.data.length}\0`, c.data], changedNs: 0n };
      else return undefined;
    }
    hasher.add(plannedKeyEntry(e), stamp);
  }
  return hasher.finish();
}

/** Each layer's key (if it has one) and the layer the cache holds for it. */
export async function lookupPlanned(cache: CacheUse, layers: readonly PlannedLayer[], stats: StatTable, options: PlannedKeyOptions): Promise<{ key?: LayerKey; hit?: CachedLayer }[]> {
  const out: { key?: LayerKey; hit?: CachedLayer }[] = [];
  for (const [i, layer] of layers.entries()) {
    const key = plannedLayerKey(layer.entries, stats, sourceId({ kind: 'dockerfile', path: `${options.build}\0${i}` }, options), options);
    const hit = key ? await cache.lookup(key) : undefined;
    out.push({ ...(key ? { key } : {}), ...(hit ? { hit } : {}) });
  }
  return out;
}
