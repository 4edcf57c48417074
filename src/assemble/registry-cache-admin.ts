import { DEFAULT_CONCURRENCY } from '../defaults.js';
import { eachAtMost } from '../each-at-most.js';
import { OcipushError } from '../errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import type { RegistryClient } from '../registry/http.js';
import type { Repository } from '../registry/repository.js';
import { deleteManifest } from '../registry/delete.js';
import { listTags } from '../registry/tags.js';
import { CACHE_ENTRY_TYPE, CacheAnnotation } from './registry-cache.js';

/** One entry of a registry layer cache, as `cache ls` shows it. */
export interface CacheEntry {
  tag: string;
  manifest: Descriptor;
  diffId: string;
  /** `gzip-6`, `zstd-3` (`gzip-default` from ocipush 0.1's first builds): the compression settings the entry is for. */
  settings: string;
  created?: string;
  layer: Descriptor;
}

const ENTRY_TAG = /^sha256-[a-f0-9]{64}\.[a-z]+-[\w]+$/;

/**
 * The cache's entries (tags of the entry form whose manifest is an ocipush cache entry), newest
 * first. A tag of the entry form whose manifest cannot be read as one (damaged, or another tool's)
 * is left out, as any other manifest that is no entry, and named to `warn`: a build takes it for a
 * miss and `--cache-write` replaces it, so it must not stop a listing or a prune of the others.
 */
export async function listCacheEntries(repository: Repository, client: RegistryClient, warn: (message: string) => void = () => {}): Promise<CacheEntry[]> {
  let listed: string[];
  try {
    listed = await listTags(client, repository.name);
  } catch (err) {
    // A cache no build has written to yet: a scheduled prune (or an ls) that runs before the first
    // build finds nothing to do, rather than failing as a missing image would.
    if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
    warn(`${client.registry}/${repository.name}: no such repository yet, so no cache entries`);
    return [];
  }
  const tags = listed.filter((tag) => ENTRY_TAG.test(tag));
  // One round trip per entry, hundreds in a CI cache: read at once, looked at in the tags' order.
  const fetched: (Awaited<ReturnType<Repository['fetchManifest']>> | undefined)[] = new Array(tags.length);
  await eachAtMost(tags, DEFAULT_CONCURRENCY, async (tag, i) => {
    try {
      fetched[i] = await repository.fetchManifest(tag);
    } catch (err) {
      // Removed since the tags were listed (a prune or build running at the same time): not an entry now.
      if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
    }
  });
  const entries: CacheEntry[] = [];
  for (const [i, tag] of tags.entries()) {
    if (!fetched[i]) continue;
    const { descriptor, bytes } = fetched[i];
    let parsed: ReturnType<typeof parseManifest> & { artifactType?: string };
    try {
      parsed = parseManifest(bytes, `cache entry ${tag}`, descriptor.mediaType);
    } catch (err) {
      if (!(err instanceof OcipushError && (err.code === 'EINVALID' || err.code === 'EUNSUPPORTED'))) throw err;
      warn(`${err.message}; not an entry ocipush reads, left out`);
      continue;
    }
    if (isIndex(parsed) || parsed.artifactType !== CACHE_ENTRY_TYPE || parsed.layers.length !== 1) continue;
    const a = parsed.annotations ?? {};
    entries.push({
      tag,
      manifest: descriptor,
      diffId: a[CacheAnnotation.DiffId] ?? '',
      settings: `${a[CacheAnnotation.Compression] ?? '?'}-${a[CacheAnnotation.Level] ?? '?'}`,
      ...(a[CacheAnnotation.Created] ? { created: a[CacheAnnotation.Created] } : {}),
      layer: parsed.layers[0]!,
    });
  }
  return entries.sort((x, y) => (y.created ?? '').localeCompare(x.created ?? '') || x.tag.localeCompare(y.tag));
}

/**
 * Removes entries older than `maxAgeMs` and beyond the `keep` newest (by their created
 * annotation; `now` is injected for tests). Deleting the entry's manifest is all: the registry's
 * garbage collector frees the blob once nothing names it. Returns what was (or would be) removed.
 */
export async function pruneCacheEntries(
  repository: Repository, client: RegistryClient, entries: CacheEntry[],
  options: { maxAgeMs?: number; keep?: number; dryRun?: boolean; now?: () => Date },
): Promise<CacheEntry[]> {
  const now = (options.now ?? (() => new Date()))().getTime();
  const doomed = entries.filter((entry, i) => {
    if (options.keep !== undefined && i >= options.keep) return true;
    if (options.maxAgeMs === undefined) return false;
    const created = entry.created ? Date.parse(entry.created) : Number.NaN;
    return Number.isNaN(created) || now - created > options.maxAgeMs;
  });
  if (!options.dryRun) {
    // Entries with the same manifest bytes share a digest: deleted once.
    const digests = [...new Set(doomed.map((entry) => entry.manifest.digest))];
    await eachAtMost(digests, DEFAULT_CONCURRENCY, async (digest) => {
      try {
        await deleteManifest(client, repository.name, digest as `sha256:${string}`);
      } catch (err) {
        // Already deleted (another prune at the same time): what this one meant to do is done.
        if (!(err instanceof OcipushError && err.code === 'ENOTFOUND')) throw err;
      }
    });
  }
  return doomed;
}
