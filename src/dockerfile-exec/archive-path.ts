import { cleanPath } from '../dockerfile/go-text.js';
import { CopyError } from './copy-error.js';
import { MAX_SYMLINKS, type FsView } from './tree.js';

/**
 * The paths of an archive ADD unpacks, as BuildKit's applyRootArchive (unpack_root.go) finds
 * them: every name stays inside the extraction root, the destination directory. Symlinks met on
 * the way (the archive's own, or the stage's under the destination) are followed inside that
 * root: an absolute target starts again at the root, as under a chroot; a relative one that
 * climbs above it is refused, where a chroot would have quietly stopped at its top and written
 * the file somewhere the archive never named.
 */

/**
 * An archive entry name as BuildKit cleans it: leading `/` dropped, `.` and `..` resolved;
 * undefined for the root itself; a path that climbs out is refused.
 */
export function cleanArchivePath(name: string, describe: string): string | undefined {
  const cleaned = insideRoot(name.replace(/^\/+/, ''));
  if (cleaned === undefined) throw new CopyError(`${describe}: archive path ${JSON.stringify(name)} is outside extraction root`);
  return cleaned === '' ? undefined : cleaned;
}

/**
 * A clean archive path (`usr/bin/app`) with the symlinks along it followed inside the root that
 * `root` sees, the last one only when `followLeaf` (a directory entry goes through a link at its
 * own name, a file replaces it): BuildKit's resolveRootPath. The answer is relative to the root;
 * the parts from the first missing one on are kept as they are.
 */
export function resolveArchivePath(root: FsView, name: string, followLeaf: boolean, describe: string): string {
  let current = name;
  for (let hops = 0; hops <= MAX_SYMLINKS; hops++) {
    const parts = current.split('/').filter((p) => p !== '' && p !== '.');
    const resolved: string[] = [];
    let next: string | undefined;
    for (let i = 0; i < parts.length && next === undefined; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && !followLeaf) {
        resolved.push(part);
        continue;
      }
      const found = root.lstat(`/${[...resolved, part].join('/')}`);
      if (found.status !== 'found') return [...resolved, ...parts.slice(i)].join('/');
      if (found.node.type !== 'symlink') {
        resolved.push(part);
        continue;
      }
      const target = found.node.linkname ?? '';
      const link = [...resolved, part].join('/');
      let base: string;
      if (target.startsWith('/')) base = cleanPath(target).slice(1);
      else {
        const climbed = insideRoot([...resolved, target].join('/'));
        if (climbed === undefined) {
          throw new CopyError(`${describe}: archive symlink ${JSON.stringify(link)} points outside extraction root (it leads to ${JSON.stringify(target)}), which docker build refuses too`);
        }
        base = climbed;
      }
      next = [base, ...parts.slice(i + 1)].filter((p) => p !== '').join('/');
    }
    if (next === undefined) return resolved.join('/');
    current = next;
  }
  throw new CopyError(`${describe}: too many symlinks resolving archive path ${JSON.stringify(name)}`);
}

/**
 * A relative path cleaned as Go's path.Clean cleans it, `''` for the root itself; undefined when
 * its `..` leave the root.
 */
function insideRoot(path: string): string | undefined {
  const cleaned = cleanPath(path);
  if (cleaned === '..' || cleaned.startsWith('../')) return undefined;
  return cleaned === '.' ? '' : cleaned;
}
