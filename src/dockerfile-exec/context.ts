import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { fromSystemError } from '../errors.js';
import type { IgnoreMatcher } from '../dockerfile/index.js';
import { StatTable } from '../layer/cache-key.js';
import { diskPath, exactNames, nameFromBytes } from './raw-names.js';
import { childPath, cleanAbsolute, sortedNames, splitPath, type FsNode, type FsView, type Lookup, type NodeType } from './tree.js';

/**
 * The build context as docker build sends it to BuildKit: the directory's files minus what
 * .dockerignore excludes, every owner reset to 0:0 (the client's `resetUIDAndGID`), modes and
 * times as on disk. An excluded directory is there only when an `!` exception re-includes
 * something inside it. Read straight from the disk, never copied: a layer reads the files
 * when it is written.
 */
export class ContextView implements FsView {
  readonly describe = 'the build context';
  private readonly inodes = new Map<string, object>();
  private readonly reincluded = new Map<string, boolean>();
  /**
   * The context does not change during a build: each path is looked at once. The node is kept,
   * not the answer: an answer made again is young garbage, one kept per path outlives the plan.
   */
  private readonly cache = new Map<string, FsNode | null>();
  /** The lstat facts of the files looked at, for the layer cache's keys. */
  readonly stats = new StatTable();

  /** The root with one trailing separator: a clean path's relative part is appended to it. */
  private readonly rootSlash: string;

  /**
   * @param leftOut A clean context path (`/oci-layout`) left out with everything under it: the
   *   layout this build writes, when it is inside the context (the default `./oci-layout` with
   *   context `.`). Copied, it would hold the build's own earlier output: an image that grows with
   *   every rebuild and a layer cache that never hits.
   */
  constructor(readonly root: string, private readonly ignore?: IgnoreMatcher, private readonly leftOut?: string) {
    this.rootSlash = root.endsWith(sep) ? root : `${root}${sep}`;
  }

  lstat(path: string): Lookup {
    const clean = cleanAbsolute(path);
    let node = this.cache.get(clean);
    if (node === undefined) {
      node = this.read(clean);
      this.cache.set(clean, node);
    }
    return node ? { status: 'found', path: clean, node } : { status: 'missing', path: clean };
  }

  private read(clean: string): FsNode | null {
    if (this.leftOut !== undefined && (clean === this.leftOut || clean.startsWith(`${this.leftOut}/`))) return null;
    const rel = clean.slice(1);
    const abs = clean === '/' ? this.root : `${this.rootSlash}${rel}`;
    let st: BigIntStats;
    try {
      st = lstatSync(diskPath(abs), { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw fromSystemError(err, abs, 'cannot read');
    }
    const node = this.nodeOf(abs, st);
    if (!node || (rel !== '' && !this.included(rel, node.type === 'dir'))) return null;
    return node;
  }

  children(path: string): string[] {
    const dir = cleanAbsolute(path);
    const abs = dir === '/' ? this.root : `${this.rootSlash}${dir.slice(1)}`;
    let names: string[];
    try {
      names = readDirectory(abs);
    } catch (err) {
      throw fromSystemError(err, abs, 'cannot read directory');
    }
    return sortedNames(names).filter((name) => this.lstat(childPath(dir, name)).status === 'found');
  }

  /** Whether `path` (or a directory above it) is on disk but left out of the context by .dockerignore. */
  excludedByIgnore(path: string): boolean {
    if (!this.ignore) return false;
    const parts = splitPath(path);
    for (let i = 1; i <= parts.length; i++) {
      let isDir: boolean;
      try {
        isDir = lstatSync(diskPath(join(this.root, ...parts.slice(0, i)))).isDirectory();
      } catch {
        return false;
      }
      if (!this.included(parts.slice(0, i).join('/'), isDir)) return true;
    }
    return false;
  }

  /** Not excluded, or an excluded directory that an exception re-includes something in. */
  private included(rel: string, isDir: boolean): boolean {
    if (!this.ignore || !this.ignore(rel, isDir)) return true;
    if (!isDir || !this.ignore.mayReinclude(rel)) return false;
    let known = this.reincluded.get(rel);
    if (known === undefined) {
      known = this.hasIncludedInside(rel);
      this.reincluded.set(rel, known);
    }
    return known;
  }

  private hasIncludedInside(rel: string): boolean {
    const abs = join(this.root, ...rel.split('/'));
    let names: string[];
    try {
      names = readDirectory(abs);
    } catch {
      return false;
    }
    for (const name of names) {
      const child = `${rel}/${name}`;
      let isDir = false;
      try {
        isDir = lstatSync(diskPath(join(abs, name))).isDirectory();
      } catch {
        continue;
      }
      if (this.included(child, isDir)) return true;
    }
    return false;
  }

  private nodeOf(abs: string, st: BigIntStats): FsNode | undefined {
    const kind = Number(st.mode) & 0o170000;
    // A socket is sent as an empty regular file with its permissions: fsutil's stat clears the
    // socket bit ("archive/tar.FileInfoHeader does not handle it"), as docker build does.
    if (kind === 0o140000) return { type: 'file', mode: Number(st.mode) & 0o7777, uid: 0, gid: 0, mtime: secondsOf(st), size: 0 };
    const type: NodeType | undefined =
      kind === 0o040000 ? 'dir' : kind === 0o100000 ? 'file' : kind === 0o120000 ? 'symlink'
        : kind === 0o010000 ? 'fifo' : kind === 0o020000 ? 'char' : kind === 0o060000 ? 'block' : undefined;
    if (!type) return undefined;
    const node: FsNode = {
      type,
      mode: Number(st.mode) & 0o7777,
      uid: 0,
      gid: 0,
      mtime: secondsOf(st),
      size: type === 'file' ? Number(st.size) : 0,
    };
    if (type === 'file') {
      node.content = { kind: 'disk', path: abs, stat: this.stats.add(st) };
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        let inode = this.inodes.get(key);
        if (!inode) this.inodes.set(key, (inode = {}));
        node.inode = inode;
      }
    } else if (type === 'symlink') {
      node.linkname = nameFromBytes(readlinkSync(diskPath(abs), { encoding: 'buffer' }));
    } else if (type === 'char' || type === 'block') {
      const rdev = st.rdev;
      node.devmajor = Number(((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n));
      node.devminor = Number((rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n));
    }
    return node;
  }
}

/** `path` as a clean context path (`/oci-layout`) when it is strictly inside the context `root` (both real paths). */
export function pathInContext(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return cleanAbsolute('/' + rel.split(sep).join('/'));
}

function readDirectory(abs: string): string[] {
  const path = diskPath(abs);
  return exactNames(readdirSync(path), () => readdirSync(path, { encoding: 'buffer' }));
}

/** Whole seconds of the mtime, truncated toward zero as a BigInt division would (no BigInt made). */
function secondsOf(st: BigIntStats): number {
  return Math.trunc(Number(st.mtimeMs) / 1000);
}
