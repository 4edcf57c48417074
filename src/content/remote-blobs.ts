import { join } from 'node:path';
import { OcipushError } from '../errors.js';
import { readTextIfPresent, writeFileAtomic } from './atomic.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { REMOTE_BLOBS_FILE } from './layout-files.js';

/**
 * The layout's note of blobs it names but does not hold: the layers of a registry base image,
 * which a build references without downloading. For each digest, the repositories
 * (`registry/repository`) that hold it, newest first. A push to the same registry mounts from
 * them; anything that needs the bytes (a push elsewhere, export) fetches them from there once.
 *
 * Kept as a hidden file in the layout root, beside `index.json`, so it travels with the layout;
 * OCI tools ignore files they do not know. An entry whose blob has since been fetched is
 * harmless (the layout is always asked first).
 */
export { REMOTE_BLOBS_FILE } from './layout-files.js';

interface RecordFile {
  version: 1;
  blobs: Record<string, string[]>;
}

export type RemoteBlobRecord = Map<Digest, string[]>;

export function remoteBlobsPath(layoutRoot: string): string {
  return join(layoutRoot, REMOTE_BLOBS_FILE);
}

/** The record of a layout; empty when it has none. */
export async function readRemoteBlobs(layoutRoot: string): Promise<RemoteBlobRecord> {
  const path = remoteBlobsPath(layoutRoot);
  const text = await readTextIfPresent(path);
  if (text === undefined) return new Map();
  let parsed: RecordFile;
  try {
    parsed = JSON.parse(text) as RecordFile;
  } catch {
    throw new OcipushError('ELAYOUT', `${path}: corrupt record of remote blobs (not JSON); delete it to forget where base layers come from`, { path });
  }
  const record: RemoteBlobRecord = new Map();
  for (const [digest, repos] of Object.entries(parsed?.blobs ?? {})) {
    if (isDigest(digest) && Array.isArray(repos)) record.set(digest, repos.filter((r) => typeof r === 'string'));
  }
  return record;
}

/** Adds `repository` (registry/name) as a source of each digest, under a lock, atomically. */
export async function recordRemoteBlobs(layoutRoot: string, entries: { digest: Digest; repository: string }[]): Promise<void> {
  await updateRecord(layoutRoot, entries, (list, repository) => (list[0] === repository ? undefined : [repository, ...list.filter((r) => r !== repository)]));
}

/**
 * Removes `repository` (registry/name) from the sources of each digest, under a lock, atomically:
 * it turned out not to hold the blob (a mount from it was declined). A digest left with no
 * source is dropped.
 */
export async function forgetRemoteBlobs(layoutRoot: string, entries: { digest: Digest; repository: string }[]): Promise<void> {
  await updateRecord(layoutRoot, entries, (list, repository) => (list.includes(repository) ? list.filter((r) => r !== repository) : undefined));
}

/**
 * Drops the digests `reached` says no; returns how many (with `dryRun`, how many it would drop,
 * writing nothing). gc's: a digest nothing in the layout names is never asked for again, and the
 * record would only grow. Under the record's lock, so a push forgetting a source meanwhile is kept.
 */
export async function pruneRemoteBlobs(layoutRoot: string, reached: (digest: Digest) => boolean, dryRun = false): Promise<number> {
  if (dryRun) return [...(await readRemoteBlobs(layoutRoot)).keys()].filter((d) => !reached(d)).length;
  let dropped = 0;
  await editRecord(layoutRoot, (record) => {
    for (const digest of [...record.keys()]) {
      if (reached(digest)) continue;
      record.delete(digest);
      dropped++;
    }
    return dropped > 0;
  });
  return dropped;
}

/** Applies `change` (the digest's new list of sources, or undefined for no change) to each entry, and writes the record if any changed. */
async function updateRecord(
  layoutRoot: string, entries: { digest: Digest; repository: string }[],
  change: (list: string[], repository: string) => string[] | undefined,
): Promise<void> {
  if (entries.length === 0) return;
  await editRecord(layoutRoot, (record) => {
    let changed = false;
    for (const { digest, repository } of entries) {
      const list = change(record.get(digest) ?? [], repository);
      if (!list) continue;
      if (list.length > 0) record.set(digest, list);
      else record.delete(digest);
      changed = true;
    }
    return changed;
  });
}

/** The record read, changed by `edit` (which says whether it changed anything) and written back, under its lock, atomically. */
async function editRecord(layoutRoot: string, edit: (record: RemoteBlobRecord) => boolean): Promise<void> {
  const path = remoteBlobsPath(layoutRoot);
  const { withLock } = await import('./lock.js');
  await withLock(`${path}.lock`, async () => {
    const record = await readRemoteBlobs(layoutRoot);
    if (!edit(record)) return;
    const blobs: Record<string, string[]> = {};
    for (const digest of [...record.keys()].sort()) blobs[digest] = record.get(digest)!;
    const file: RecordFile = { version: 1, blobs };
    await writeFileAtomic(path, JSON.stringify(file, null, 1) + '\n');
  });
}
