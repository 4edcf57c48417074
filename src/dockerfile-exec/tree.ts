import { OcipushError } from '../errors.js';
import type { EntryAttributes } from '../layer/entry-attributes.js';
import type { StatStamp } from '../layer/cache-key.js';
import { nameBytes } from './raw-names.js';

/**
 * The filesystem of a stage (or of an image), as metadata: what every layer so far put where,
 * with a reference to where each file's bytes are. Nothing is copied while a Dockerfile is
 * planned; layers read file contents from these references when they are written.
 *
 * Paths are absolute and `/`-separated (`/usr/bin/env`); the root is `/`.
 */

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block';

/**
 * Where a file's bytes are: a file on disk (`stat` names its lstat facts in the context's
 * StatTable, taken when the plan looked at it: the layer cache's key), an entry of a tar
 * archive (a base layer, an ADD archive), or bytes the Dockerfile holds (a COPY heredoc).
 */
export type Content =
  | { kind: 'disk'; path: string; stat?: number }
  | { kind: 'archive'; archive: ArchiveRef; entry: number }
  | { kind: 'inline'; data: Buffer };

/** A tar archive that can be read again, decompressed, from the start. */
export interface ArchiveRef {
  /** Names it in messages: `layer sha256:… of alpine:3.20`, `archive app.tar.gz`. */
  describe: string;
  open(): Promise<import('node:stream').Readable>;
  /**
   * What fixes its bytes, for the layer cache: a blob's digest (`changedNs` 0), or the archive
   * file's path and lstat stamp. Without it, a layer holding its files is never cached.
   */
  stamp?: StatStamp;
}

export interface FsNode extends EntryAttributes {
  type: NodeType;
  /** Symlink target, as stored. */
  linkname?: string;
  content?: Content;
  /** Files sharing this object are hard links of each other. */
  inode?: object;
  /** The bytes of a small file kept in memory (a base image's /etc/passwd and /etc/group). */
  data?: Buffer;
  children?: Map<string, FsNode>;
  /**
   * A directory whose metadata is not known: lazily planned images do not read their base's
   * layers, so a directory they only pass through may exist there with its own owner and mode.
   * Such a directory is never written into a layer (unpacking keeps the base's, or makes 0755).
   */
  unknown?: boolean;
  /** The layer that last wrote this node (an opaque whiteout clears what earlier layers left). */
  layer?: number;
  /**
   * Its file capability as an encoded pax record (`SCHILY.xattr.security.capability`), read from
   * the archive entry it came from (an ADD archive, a base layer): the one xattr a BuildKit layer
   * carries. Context files have none: BuildKit loses theirs in the context transfer (archive.ts).
   */
  xattrs?: Buffer;
}

export const S_IFMT = 0o170000;
export const MAX_SYMLINKS = 255;

export function dirNode(meta: Partial<FsNode> = {}): FsNode {
  return { type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, ...meta, children: meta.children ?? new Map() };
}

/** `/a//b/./c/..` → `['a', 'b']`; `..` stops at the root, as a path inside a root filesystem does. */
export function splitPath(path: string): string[] {
  // Most paths a plan looks up are clean already (childPath and joinParts make them): split only.
  if (isCleanAbsolute(path)) return path === '/' ? [] : path.slice(1).split('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

export function joinParts(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

/**
 * `joinParts([...splitPath(dir), name])` for a clean absolute `dir` (as joinParts returns) and one
 * name (no `/`, not `.` or `..`), without splitting: a COPY of a tree makes two per entry.
 */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** The directory above a path and its last name, cleaned: `/a/b/` → `['/a', 'b']` (without splitting every component). */
export function parentAndName(path: string): [string, string] {
  const clean = cleanAbsolute(path);
  const slash = clean.lastIndexOf('/');
  return [slash === 0 ? '/' : clean.slice(0, slash), clean.slice(slash + 1)];
}

/** Go's `path.Clean` of an absolute path, for a path inside a root (`..` stops at `/`). */
export function cleanAbsolute(path: string): string {
  return isCleanAbsolute(path) ? path : joinParts(splitPath(path));
}

/** `/` or `/a/b`: absolute, no empty, `.` or `..` component, no trailing `/` (what joinParts returns). */
function isCleanAbsolute(path: string): boolean {
  if (path === '/') return true;
  return path.charCodeAt(0) === 0x2f && path.charCodeAt(path.length - 1) !== 0x2f && !UNCLEAN.test(path);
}

const UNCLEAN = /\/\/|\/\.\.?(\/|$)/;

export function baseName(path: string): string {
  const parts = splitPath(path);
  return parts[parts.length - 1] ?? '/';
}

/** What a path leads to: a node, nothing, or (lazy plan) possibly something in unread base layers. */
export type Lookup =
  | { status: 'found'; path: string; node: FsNode }
  | { status: 'missing'; path: string }
  | { status: 'unknown'; path: string };

/**
 * Read access to a filesystem, tree or disk: enough to resolve paths (symlinks included) and
 * walk directories the way Go's continuity `fs.RootPath` and fsutil's copier do.
 */
export interface FsView {
  /** Names it in errors: `the build context`, `stage build`, `image alpine:3.20`. */
  readonly describe: string;
  /** The node at an already resolved path (symlinks are not followed). */
  lstat(path: string): Lookup;
  /** Child names of a directory, sorted by their bytes. */
  children(path: string, node: FsNode): string[];
}

/**
 * continuity's `fs.RootPath`: follows symlinks inside the root (an absolute target restarts
 * from the root, `..` never leaves it). The last component is followed only with `followLast`.
 * A missing component ends the walk: the rest of the path is joined as written.
 */
export function resolvePath(fs: FsView, path: string, followLast = true): Lookup {
  // Raw components: `.` and `..` from symlink targets are applied as the walk reaches them.
  let pending: string[] = splitPath(path);
  let done: string[] = [];
  let links = 0;
  let node: FsNode | undefined;
  const root = fs.lstat('/');
  if (root.status !== 'found') return root;
  node = root.node;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      done.pop();
      const up = fs.lstat(joinParts(done));
      node = up.status === 'found' ? up.node : node;
      continue;
    }
    const here = joinParts([...done, name]);
    const found = fs.lstat(here);
    if (found.status !== 'found') return { status: found.status, path: joinParts([...done, name, ...pending.filter((p) => p !== '' && p !== '.')]) };
    const last = pending.every((p) => p === '' || p === '.');
    if (found.node.type === 'symlink' && (!last || followLast)) {
      if (++links > MAX_SYMLINKS) {
        throw new OcipushError('EDOCKERFILE', `${fs.describe}: too many levels of symbolic links at ${here}`, { path: here });
      }
      const target = found.node.linkname ?? '';
      // An absolute target restarts at the root; a relative one continues from the link's directory.
      if (target.startsWith('/')) done = [];
      pending = [...target.split('/'), ...pending];
      continue;
    }
    done.push(name);
    node = found.node;
    if (!last && node.type !== 'dir') return { status: 'missing', path: joinParts([...done, ...pending]) };
  }
  return { status: 'found', path: joinParts(done), node };
}

/** An in-memory tree as an FsView, and the operations a copy or an unpacked layer applies to it. */
export class FsTree implements FsView {
  root: FsNode;

  /**
   * @param partial The tree lacks the base image's layers (a lazy plan): a path it does not
   *   hold may exist there. Lookups then answer `unknown` instead of `missing`.
   */
  constructor(readonly describe: string, readonly partial = false, root?: FsNode) {
    this.root = root ?? dirNode();
  }

  /** A deep copy of the nodes (contents and hard-link identities are shared, as they never change). */
  clone(describe = this.describe): FsTree {
    return new FsTree(describe, this.partial, cloneNode(this.root));
  }

  lstat(path: string): Lookup {
    const clean = cleanAbsolute(path);
    let node = this.root;
    // Component by component without splitting: a COPY of a tree looks up every path several times.
    for (let start = 1; start < clean.length;) {
      const slash = clean.indexOf('/', start);
      const end = slash < 0 ? clean.length : slash;
      const child = node.type === 'dir' ? node.children!.get(clean.slice(start, end)) : undefined;
      if (!child) {
        const unknown = this.partial && (node.type === 'dir');
        return { status: unknown ? 'unknown' : 'missing', path: clean };
      }
      node = child;
      start = end + 1;
    }
    return { status: 'found', path: clean, node };
  }

  children(_path: string, node: FsNode): string[] {
    return sortedNames(node.children?.keys() ?? []);
  }

  /** The node at a resolved path, if the tree holds it. */
  get(path: string): FsNode | undefined {
    const l = this.lstat(path);
    return l.status === 'found' ? l.node : undefined;
  }

  /** Puts `node` at a resolved path whose parent exists as a directory; returns what it replaced. */
  set(path: string, node: FsNode): FsNode | undefined {
    const parts = splitPath(path);
    if (parts.length === 0) {
      const old = this.root;
      this.root = node;
      return old;
    }
    const parent = this.get(joinParts(parts.slice(0, -1)));
    if (!parent || parent.type !== 'dir') throw new Error(`internal: no directory to hold ${path}`);
    const name = parts[parts.length - 1]!;
    const old = parent.children!.get(name);
    parent.children!.set(name, node);
    return old;
  }

  remove(path: string): void {
    const parts = splitPath(path);
    if (parts.length === 0) {
      this.root = dirNode({ ...this.root, children: new Map() });
      return;
    }
    this.get(joinParts(parts.slice(0, -1)))?.children?.delete(parts[parts.length - 1]!);
  }
}

function cloneNode(node: FsNode): FsNode {
  const copy: FsNode = { ...node };
  if (node.children) copy.children = new Map([...node.children].map(([k, v]) => [k, cloneNode(v)]));
  return copy;
}

/** Names in the order of their UTF-8 bytes (how Go and the layer walker sort). */
export function sortedNames(names: Iterable<string>): string[] {
  const list = [...names];
  // UTF-16 order is the UTF-8 bytes' order but where a character above U+FFFF (a surrogate pair)
  // meets one from U+E000 to U+FFFF: without those, no name needs encoding (a COPY sorts every directory).
  if (!list.some((name) => /[\ud800-\uffff]/.test(name))) return list.sort();
  const keyed = list.map((name) => ({ name, key: nameBytes(name) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.name);
}
