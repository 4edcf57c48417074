import type { Descriptor } from '../oci/descriptor.js';
import type { OciLayout } from '../content/layout.js';
import { readPendingCacheEntries, updatePendingCacheEntries } from '../content/pending-cache-entries.js';
import type { BlobSourceProvider } from '../content/storage.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import { RegistryLayerCache } from './registry-cache.js';

/**
 * After a push: the registry cache entries of the pushed layers that a `build --cache-repo` left
 * pending (built without `--cache-write`). A blob goes to the cache repository by a mount from
 * the repository it was just pushed to when both are in one registry, else by an upload from the
 * layout. Returns how many entries were written; a cache that fails is a warning, never a failed push.
 */
export async function writePendingCacheEntries(
  layout: OciLayout, source: BlobSourceProvider, layers: Descriptor[],
  options: { pushedTo: { registry: string; repository: string }; connect: ConnectRegistry; warn: (message: string) => void },
): Promise<number> {
  const pending = await readPendingCacheEntries(layout.root);
  const byCache = new Map<string, Descriptor[]>();
  for (const layer of layers) {
    const entry = pending.get(layer.digest);
    if (entry) byCache.set(entry.cacheRepo, [...(byCache.get(entry.cacheRepo) ?? []), layer]);
  }
  const written: Descriptor['digest'][] = [];
  for (const [cacheRepo, cacheLayers] of byCache) {
    const cache = await RegistryLayerCache.open(cacheRepo, { connect: options.connect, warn: options.warn });
    if (!cache) continue;
    try {
      const mountFrom = cache.repository.registry === options.pushedTo.registry ? [options.pushedTo.repository] : [];
      for (const layer of cacheLayers) {
        const entry = pending.get(layer.digest)!;
        const settings = { compression: entry.compression, ...(entry.level !== undefined ? { level: entry.level } : {}) };
        if (await cache.store(entry.diffId, settings, layer, entry.uncompressedSize, source.blobSource(layer), mountFrom)) written.push(layer.digest);
      }
    } finally {
      await cache.close();
    }
  }
  await updatePendingCacheEntries(layout.root, new Map(), written);
  return written.length;
}
