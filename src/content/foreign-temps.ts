import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LEGACY_TEMP_MAX_AGE_MS } from './layout-files.js';

/**
 * What other writers of OCI layouts leave when they are killed mid-blob (SIGKILL, a stopped
 * container, a CI job cut off), and clear only themselves, if ever: containers/image (skopeo,
 * podman, buildah) writes each blob to `oci-put-blob<digits>` at the root; umoci to a `.umoci-<digits>`
 * directory there (its own gc clears those it can flock); oras-go to `ingest/<hex>_<digits>`. A
 * partial layer can be the largest file in the layout. They name no process, so they are judged
 * by age, as ocipush's own temp files outside a session are: untouched for an hour (the newest
 * mtime of the file, or of the directory and what is in it), the writer is gone.
 */
const AT_ROOT = /^(?:oci-put-blob\d+|\.umoci-\d+)$/;
const ORAS_INGEST = 'ingest';
const IN_ORAS_INGEST = /^[0-9a-f]{64}_\d+$/;

/** The paths of those leftovers (removed unless `dryRun`). */
export async function sweepForeignTemps(root: string, options: { dryRun?: boolean; now?: () => number } = {}): Promise<string[]> {
  const now = (options.now ?? Date.now)();
  const found: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) if (AT_ROOT.test(name)) found.push(join(root, name));
  for (const name of await readdir(join(root, ORAS_INGEST)).catch(() => [] as string[])) if (IN_ORAS_INGEST.test(name)) found.push(join(root, ORAS_INGEST, name));
  const removed: string[] = [];
  for (const path of found) {
    const touched = await newestMtime(path);
    if (touched === undefined || now - touched <= LEGACY_TEMP_MAX_AGE_MS) continue;
    if (!options.dryRun) await rm(path, { recursive: true, force: true }).catch(() => {});
    removed.push(path);
  }
  return removed;
}

/** A writer touches the file it writes, or a file in its directory: the newest of those says when it was last at work. */
async function newestMtime(path: string): Promise<number | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return undefined;
  let newest = st.mtimeMs;
  if (st.isDirectory()) {
    for (const name of await readdir(path).catch(() => [] as string[])) {
      const child = await lstat(join(path, name)).catch(() => undefined);
      if (child) newest = Math.max(newest, child.mtimeMs);
    }
  }
  return newest;
}
