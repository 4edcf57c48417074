import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDigest, type Digest } from '../oci/digest.js';
import { readTextIfPresent, writeFileAtomic } from './atomic.js';
import { PENDING_CACHE_ENTRIES_FILE } from './layout-files.js';
import { withLock } from './lock.js';

/**
 * Layers a `build --cache-repo` made without `--cache-write`: their registry cache entries are
 * written when the blob reaches a registry, by the next `push` of an image holding them. Kept in
 * the layout's private directory, keyed by the layer's (compressed) digest.
 */
export interface PendingCacheEntry {
  /** `REGISTRY/REPO` of the cache. */
  cacheRepo: string;
  diffId: Digest;
  uncompressedSize: number;
  compression: 'gzip' | 'zstd' | 'none';
  level?: number;
}

type PendingFile = { version: 1; layers: Record<string, PendingCacheEntry> };

function pathOf(layoutRoot: string): string {
  return join(layoutRoot, PENDING_CACHE_ENTRIES_FILE);
}

export async function readPendingCacheEntries(layoutRoot: string): Promise<Map<Digest, PendingCacheEntry>> {
  const text = await readTextIfPresent(pathOf(layoutRoot));
  if (text === undefined) return new Map();
  const out = new Map<Digest, PendingCacheEntry>();
  try {
    for (const [digest, entry] of Object.entries((JSON.parse(text) as PendingFile).layers ?? {})) {
      if (isDigest(digest) && typeof entry?.cacheRepo === 'string' && isDigest(entry.diffId)) out.set(digest, entry);
    }
  } catch {
    // A damaged note loses only cache entries, never an image: read it as empty.
  }
  return out;
}

/** Adds (`entries`) and drops (`forget`) pending entries, under a lock, atomically. */
export async function updatePendingCacheEntries(layoutRoot: string, entries: Map<Digest, PendingCacheEntry>, forget: Digest[] = []): Promise<void> {
  if (entries.size === 0 && forget.length === 0) return;
  const path = pathOf(layoutRoot);
  await mkdir(dirname(path), { recursive: true });
  await withLock(`${path}.lock`, async () => {
    const current = await readPendingCacheEntries(layoutRoot);
    for (const digest of forget) current.delete(digest);
    for (const [digest, entry] of entries) current.set(digest, entry);
    await writeEntries(path, current);
  });
}

/**
 * Drops the entries of layers `reached` says no; returns how many (with `dryRun`, how many it
 * would drop). gc's: a layer gc removed is in no image a push will send, so its entry would never
 * be written, and the note would only grow. Under the note's lock, as a build adds to it.
 */
export async function prunePendingCacheEntries(layoutRoot: string, reached: (digest: Digest) => boolean, dryRun = false): Promise<number> {
  const path = pathOf(layoutRoot);
  if (!(await stat(path).catch(() => undefined))) return 0;
  const unreached = (entries: Map<Digest, PendingCacheEntry>) => [...entries.keys()].filter((d) => !reached(d));
  if (dryRun) return unreached(await readPendingCacheEntries(layoutRoot)).length;
  return withLock(`${path}.lock`, async () => {
    // Read once, under the lock: an entry a build adds meanwhile is not written over.
    const current = await readPendingCacheEntries(layoutRoot);
    const forget = unreached(current);
    if (forget.length === 0) return 0;
    for (const digest of forget) current.delete(digest);
    await writeEntries(path, current);
    return forget.length;
  });
}

async function writeEntries(path: string, entries: Map<Digest, PendingCacheEntry>): Promise<void> {
  const layers: Record<string, PendingCacheEntry> = {};
  for (const digest of [...entries.keys()].sort()) layers[digest] = entries.get(digest)!;
  await writeFileAtomic(path, JSON.stringify({ version: 1, layers } satisfies PendingFile, null, 1) + '\n');
}
