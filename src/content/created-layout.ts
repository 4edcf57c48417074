import { readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onSignalExit } from './cleanup.js';
import { CACHE_DIR, INDEX_LOCK, INGEST_DIR, PRIVATE_DIR, REMOTE_BLOBS_FILE } from './layout-files.js';

/**
 * A layout this process made, undone if a signal ends the process while it still holds no image:
 * `discardIfCreated` cannot run then (the handler exits at once), and Ctrl-C during a pull into a
 * new directory would leave an empty layout where the message says nothing changed. Runs after the
 * process's own temps (its ingest session) are gone, so any entry left in the ingest area, or a
 * held index lock, is another writer's: then the layout stays. Returns what takes it back (the
 * layout's `close()`: a library that made an empty layout and closed it keeps it, and a process
 * that makes many holds no closure for each).
 */
export function discardAtSignal(root: string, createdDir: boolean): () => void {
  return onSignalExit(() => {
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { manifests?: unknown[] };
    if (!Array.isArray(index.manifests) || index.manifests.length > 0) return;
    if (entries(join(root, INGEST_DIR)).length > 0 || entries(root).some((n) => n.startsWith(INDEX_LOCK))) return;
    // oci-layout first: from then on it is not a layout, whatever is left.
    rmSync(join(root, 'oci-layout'), { force: true });
    for (const name of ['blobs', 'index.json', REMOTE_BLOBS_FILE, CACHE_DIR, PRIVATE_DIR]) rmSync(join(root, name), { recursive: true, force: true });
    if (createdDir) rmdirSync(root);
  });
}

/**
 * A directory a build made for its layout, removed again if a signal ends the build before the
 * layout is written: its own session is gone by then, and each rmdir succeeds only on an empty
 * directory, so another writer's files (or a finished layout) keep it.
 */
export function removeMadeDirAtSignal(root: string): void {
  onSignalExit(() => {
    for (const dir of [join(root, INGEST_DIR), join(root, PRIVATE_DIR), root]) rmdirSync(dir);
  });
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
