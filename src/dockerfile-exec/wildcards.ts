import { containsWildcards, goMatch } from '../dockerfile/go-match.js';
import { CopyError } from './copy-instruction.js';
import { childPath, joinParts, resolvePath, splitPath, type FsNode, type FsView } from './tree.js';

/**
 * fsutil's `ResolveWildcards`: the path up to the first component with a wildcard is resolved
 * (symlinks followed); below it, every path (depth first, names sorted, symlinks not followed)
 * whose remaining components match is a source; a matching directory is not entered.
 */
export function resolveWildcards(src: FsView, pattern: string): string[] {
  const parts = splitPath(pattern);
  const at = parts.findIndex((p) => containsWildcards(p));
  if (at < 0) return [joinParts(parts)];
  const base = resolvePath(src, joinParts(parts.slice(0, at)), true);
  // fsutil walks the directory before the wildcard: when it is missing the COPY fails (lstat).
  if (base.status !== 'found') throw new CopyError(`${JSON.stringify(base.path)}: not found in ${src.describe}`);
  if (base.node.type !== 'dir') return [];
  const rest = parts.slice(at).join('/');
  const out: string[] = [];
  const walk = (dir: string, node: FsNode, rel: string): void => {
    for (const name of src.children(dir, node)) {
      const path = childPath(dir, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const child = src.lstat(path);
      if (child.status !== 'found') continue;
      if (goMatch(rest, relPath)) {
        out.push(path);
        continue;
      }
      if (child.node.type === 'dir') walk(path, child.node, relPath);
    }
  };
  walk(base.path, base.node, '');
  return out;
}
