import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { OcipushError } from '../errors.js';
import type { FsEntry } from './walk.js';

/** The OCI whiteout prefix: `dir/.wh.name` in a layer deletes `dir/name` of the layers below. */
const WHITEOUT_PREFIX = '.wh.';

/**
 * `--remove PATH` → the path inside the image, relative and clean (`/etc/motd` → `etc/motd`).
 * The root, `..` and whiteout names themselves are refused.
 */
function normaliseRemovePath(path: string): string {
  const fail = (why: string): never => { throw new OcipushError('EUSAGE', `--remove "${path}": ${why}`); };
  if (path.includes('\0')) fail('contains a NUL byte');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) fail('names the root directory; remove the things in it one by one');
  if (parts.includes('..')) fail('must not contain ..');
  if (parts.some((p) => p.startsWith(WHITEOUT_PREFIX))) fail(`a name starting with ${WHITEOUT_PREFIX} is a whiteout itself`);
  return parts.join('/');
}

/**
 * The clean paths to remove, without those already removed with a parent (`/opt` covers
 * `/opt/app`), sorted by their bytes so the layer does not depend on the order of the flags.
 */
export function removalSet(paths: string[]): string[] {
  const clean = [...new Set(paths.map(normaliseRemovePath))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return clean.filter((p) => !clean.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** `etc/motd` → `etc/.wh.motd`. */
export function whiteoutName(path: string): string {
  const dir = posix.dirname(path);
  const name = `${WHITEOUT_PREFIX}${posix.basename(path)}`;
  return dir === '.' ? name : `${dir}/${name}`;
}

/**
 * Tar entries for the whiteouts: empty regular files owned by root. No parent directory entries
 * are written: they would replace the base's directories' modes and owners, and every unpacker
 * (umoci, containerd, docker) applies a whiteout inside a directory of a lower layer.
 */
export function whiteoutEntries(paths: string[], mtime: number): FsEntry[] {
  return removalSet(paths).map((p) => ({
    path: Buffer.from(`--remove ${p}`),
    name: Buffer.from(whiteoutName(p)),
    type: 'file' as const,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime,
  }));
}

/**
 * A whiteout deletes from the layers below only; a path the same layer adds would be both there
 * and gone. Refused with the path named.
 */
export async function checkNotAdded(paths: string[], rootfs: string): Promise<void> {
  for (const p of removalSet(paths)) {
    const exists = await lstat(join(rootfs, p)).then(() => true, () => false);
    if (exists) {
      throw new OcipushError('EUSAGE', `--remove "/${p}": the top layer ${rootfs} adds it; a layer cannot both add and remove a path (delete it from the rootfs instead)`);
    }
  }
}
