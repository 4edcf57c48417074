import { join } from 'node:path';
import { isLockName } from './lock-names.js';

/**
 * The names ocipush keeps in an OCI layout besides what the image-layout spec defines (OCI tools
 * ignore them). Every part that lists a layout's files asks here, rather than copying patterns.
 */

/** ocipush's own directory in a layout. */
export const PRIVATE_DIR = '.ocipush';
/** In-progress files, one directory per writing process (ingest.ts): never inside `blobs/`. */
export const INGEST_DIR = join(PRIVATE_DIR, 'ingest');
/** The lock around `index.json` (and around starting a write into the layout, against gc). */
export const INDEX_LOCK = '.index.json.lock';
/** The record of blobs named but not held (remote-blobs.ts). */
export const REMOTE_BLOBS_FILE = '.ocipush-remote-blobs.json';
/** Layers a build made for a registry layer cache, whose entries the next push writes (pending-cache-entries.ts). */
export const PENDING_CACHE_ENTRIES_FILE = join(PRIVATE_DIR, 'registry-cache-pending.json');
/** The layer cache (layer/cache-store.ts). */
export const CACHE_DIR = '.ocipush-cache';
/** The lock around pruning the layer cache (layer/cache-store.ts). */
export const CACHE_PRUNE_LOCK = join(CACHE_DIR, 'prune.lock');
/** Files extracted from archives by a Dockerfile build, in its staging directory. */
export const EXTRACT_PREFIX = '.ocipush-files-';
/** Temp names of writeFileAtomic (`.NAME.tmp-PID-HEX`, the writer's PID captured); older versions also left them in `blobs/`. */
export const TEMP_NAME = /^\..*\.tmp-(\d+)-[0-9a-f]+$/;
/**
 * A temp file outside the ingest area names only a PID, which another container's writer makes
 * meaningless here: whatever its PID, it is removed once this old (older versions of ocipush
 * wrote layers there, slowly).
 */
export const LEGACY_TEMP_MAX_AGE_MS = 3600_000;

/** Every lock ocipush takes in a layout, relative to its root: gc clears what killed owners left beside them. */
export const LAYOUT_LOCKS = [INDEX_LOCK, `${REMOTE_BLOBS_FILE}.lock`, `${PENDING_CACHE_ENTRIES_FILE}.lock`, CACHE_PRUNE_LOCK];

/** Whether `name`, at a layout's root, is ocipush's own (a lock, a temp file, the private directory, the cache, the record). */
export function isPrivateRootName(name: string): boolean {
  return name === PRIVATE_DIR || name === CACHE_DIR || name === REMOTE_BLOBS_FILE || isLockName(name, INDEX_LOCK)
    || isLockName(name, `${REMOTE_BLOBS_FILE}.lock`) || TEMP_NAME.test(name) || name.startsWith(EXTRACT_PREFIX);
}
