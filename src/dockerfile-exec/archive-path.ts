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
  const parts: string[] = [];
  for (const p of name.replace(/^\/+/, '').split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new CopyError(`${describe}: archive path ${JSON.stringify(name)} is outside extraction root`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.length === 0 ? undefined : parts.join('/');
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
      if (target.startsWith('/')) base = climb(target.split('/'), true)!;
      else {
        const climbed = climb([...resolved, ...target.split('/')], false);
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
 * Path components cleaned lexically, as Go's filepath.Clean does: `..` at the top of a rooted
 * path stays at the root; of a relative one it leaves the root (undefined).
 */
function climb(parts: readonly string[], rooted: boolean): string | undefined {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p !== '..') out.push(p);
    else if (out.length > 0) out.pop();
    else if (!rooted) return undefined;
  }
  return out.join('/');
}
