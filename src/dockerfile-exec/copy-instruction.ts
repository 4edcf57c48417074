import type { IgnoreMatcher } from '../dockerfile/index.js';
import { applyChmod, createdDirectoryMode, type Chmod } from '../dockerfile/chmod.js';
import type { ArchiveEntry } from './archive.js';
import { cleanArchivePath, resolveArchivePath } from './archive-path.js';
import { CopyError } from './copy-error.js';
import {
  baseName,
  childPath,
  cleanAbsolute,
  dirNode,
  joinParts,
  parentAndName,
  resolvePath,
  splitPath,
  type ArchiveRef,
  type FsNode,
  type FsTree,
  type FsView,
} from './tree.js';

/**
 * COPY and ADD as BuildKit's file op runs them (tonistiigi/fsutil `copy.Copy`), applied to a
 * stage's filesystem tree. Each step records the paths it created or changed; the layer of the
 * instruction is those paths (and their parent directories) as they end up.
 *
 * The rules, from fsutil:
 * - the destination's parent (or the destination itself when it ends with `/`) is created with
 *   `mkdir -p`: missing directories 0755, owned by --chown (else root);
 * - a file copied onto an existing directory goes inside it, under the source's base name;
 *   otherwise it takes the destination's name;
 * - a directory source copies its contents: into the destination, created when missing (0755, or
 *   an octal --chmod's permission bits, as every directory the copy creates for its destination);
 *   an existing destination directory keeps its owner and mode;
 * - copied entries keep mode, owner (0:0 from the context) and mtime, unless --chown / --chmod
 *   say otherwise; an octal --chmod sets the permission bits (and setuid/setgid/sticky) of files
 *   and directories alike, a symbolic one is applied to each entry's mode; symlinks are copied as links; hard links within one source stay links;
 * - a file never replaces a directory, nor a directory a file (both are errors).
 */

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopySpec {
  chown?: Owner;
  /** --chmod: an octal mode for every copied entry, or a symbolic one applied to each entry's mode. */
  chmod?: Chmod;
  /** `--exclude` patterns, matched against paths relative to each source. */
  exclude?: IgnoreMatcher;
  /** `--parents`: only paths matching these (and their parent directories) are copied. */
  include?: IgnoreMatcher;
}

export { CopyError };

/**
 * Directories every Linux base image has. A lazy plan (base layers unread) takes a destination
 * without a trailing `/` to be new, except these: `COPY hello /usr/local/bin` must go inside.
 */
const STANDARD_DIRS = new Set([
  '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run',
  '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/include', '/usr/lib', '/usr/lib64', '/usr/libexec',
  '/usr/local', '/usr/local/bin', '/usr/local/etc', '/usr/local/include', '/usr/local/lib', '/usr/local/sbin',
  '/usr/local/share', '/usr/local/src', '/usr/sbin', '/usr/share', '/usr/src', '/var', '/var/cache', '/var/lib',
  '/var/local', '/var/log', '/var/opt', '/var/run', '/var/spool', '/var/tmp', '/var/www',
]);

interface ParentDir {
  src: string;
  dst: string;
  copied: boolean;
}

/**
 * Where a copied entry goes, when the directory that receives it is at hand: its node, its path
 * and the entry's name. A copy of a tree then reaches each entry through its directory, not by
 * walking from the root again (three walks per entry before).
 */
interface Slot {
  dir: FsNode;
  dirPath: string;
  name: string;
}

/** Applies file steps to one stage tree and remembers what they touched. */
export class TreeWriter {
  readonly touched = new Set<string>();
  /** Whether an archive was unpacked (its entries go their own way through symlinks). */
  unpacked = false;

  /** @param time The clamp time: new directories and directories that gain an entry get it. */
  constructor(readonly tree: FsTree, readonly time: number) {}

  /**
   * fsutil's `MkdirAll` at a path (symlinks in it followed): missing directories are made 0755,
   * owned by `owner`, stamped `time`. Returns the resolved path.
   */
  mkdirAll(path: string, owner?: Owner, mode = 0o755): string {
    const r = resolvePath(this.tree, path, true);
    if (r.status === 'found') {
      if (r.node.type !== 'dir') throw new CopyError(`mkdir ${r.path}: not a directory`);
      return r.path;
    }
    const parts = splitPath(r.path);
    let node = this.tree.root;
    let i = 0;
    for (; i < parts.length; i++) {
      const child = node.children!.get(parts[i]!);
      if (!child) break;
      if (child.type !== 'dir') throw new CopyError(`mkdir ${joinParts(parts.slice(0, i + 1))}: not a directory`);
      node = child;
    }
    for (; i < parts.length; i++) {
      const created = dirNode({ mode, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: this.time });
      // Lazily planned: the base may have this directory. Made the way unpacking makes a
      // missing parent (0755 root), it need not be written: unpacking keeps the base's, or makes it.
      if (this.tree.partial && isRoot(owner) && mode === 0o755) created.unknown = true;
      this.add(joinParts(parts.slice(0, i)), parts[i]!, created);
      node = created;
    }
    return r.path;
  }

  /**
   * One `copy.Copy` of fsutil: `srcPath` (a source path after wildcard expansion) from `src`
   * to `dest` (absolute, trailing `/` kept) in this tree.
   */
  copy(src: FsView, srcPath: string, dest: string, spec: CopySpec): void {
    const ensure = endsAsDirectory(dest) ? dest : dest.slice(0, dest.lastIndexOf('/') + 1) || '/';
    const dirMode = createdDirectoryMode(spec.chmod);
    this.mkdirAll(ensure, spec.chown, dirMode);
    let dst = resolvePath(this.tree, cleanAbsolute(dest), true).path;

    const from = resolvePath(src, srcPath, true);
    if (from.status !== 'found') throw new CopyError(`${JSON.stringify(srcPath)}: not found in ${src.describe}`);
    const srcIsDir = from.node.type === 'dir';
    const existing = this.stat(dst);
    if (!srcIsDir && existing?.type === 'dir') dst = joinParts([...splitPath(dst), baseName(srcPath)]);
    const target = srcIsDir && !existing ? dst : joinParts(splitPath(dst).slice(0, -1));
    this.mkdirAll(target, spec.chown, dirMode);

    const state: CopyState = { spec, src, inodes: new Map(), parents: [] };
    this.copyEntry(state, from.path, '', dst, false);
  }

  /** `os.Stat` of a destination in this tree (symlinks followed); lazily, standard directories are assumed. */
  private stat(path: string): FsNode | undefined {
    const r = resolvePath(this.tree, path, true);
    if (r.status === 'found') return r.node;
    if (r.status === 'unknown' && STANDARD_DIRS.has(r.path)) {
      this.mkdirAll(r.path);
      return this.tree.get(r.path);
    }
    return undefined;
  }

  /** `slot`: where `target` is, when its directory is known (see Slot). */
  private copyEntry(state: CopyState, srcPath: string, components: string, target: string, overwrite: boolean, slot?: Slot): void {
    const found = state.src.lstat(srcPath);
    if (found.status !== 'found') throw new CopyError(`${JSON.stringify(srcPath)}: not found in ${state.src.describe}`);
    const node = found.node;
    let include = true;
    if (components !== '') {
      if (state.spec.include) include = state.spec.include(components, node.type === 'dir');
      if (state.spec.exclude?.(components, node.type === 'dir')) include = false;
    }
    const targetNode = this.at(target, slot);
    if (include) this.createParents(state, overwrite);
    if (node.type !== 'dir') {
      if (!include) return;
      if (targetNode?.type === 'dir') throw new CopyError(`cannot replace to directory ${target} with file`);
    }

    let copyInfo = include;
    let restoreTime = false;
    if (node.type === 'dir') {
      const created = this.copyDirectory(state, srcPath, components, target, node, overwrite, include, slot);
      if (!overwrite) {
        copyInfo = created;
        restoreTime = !created;
      }
    } else {
      this.place(target, this.copyOf(state, node, target), slot);
    }
    const placed = this.at(target, slot);
    if (!placed) return;
    if (copyInfo) {
      this.applyInfo(state.spec, node, placed);
      this.touched.add(target);
    } else if (restoreTime && targetNode) {
      placed.mtime = node.mtime;
      this.touched.add(target);
    }
  }

  private copyDirectory(state: CopyState, srcPath: string, components: string, dst: string, node: FsNode, overwrite: boolean, include: boolean, slot?: Slot): boolean {
    let created = false;
    const parent: ParentDir = { src: srcPath, dst, copied: false };
    if (include) {
      created = this.copyDirectoryOnly(dst, node, overwrite, slot);
      parent.copied = true;
    }
    state.parents.push(parent);
    try {
      // The directory receiving the entries, if it is there now: copying them changes what is
      // below it, never the node at dst itself. (An excluded directory is made only once
      // something inside is copied: its entries then find it by path.)
      const existing = this.at(dst, slot);
      const dir = existing?.type === 'dir' ? existing : undefined;
      for (const name of state.src.children(srcPath, node)) {
        const target = childPath(dst, name);
        this.copyEntry(state, childPath(srcPath, name), components === '' ? name : `${components}/${name}`, target, true, dir && { dir, dirPath: dst, name });
      }
    } finally {
      state.parents.pop();
    }
    return created;
  }

  /** Makes the directory if missing (the source's mode); an existing one gets the source's mode when overwriting. */
  private copyDirectoryOnly(dst: string, src: FsNode, overwrite: boolean, slot?: Slot): boolean {
    const found = this.at(dst, slot);
    if (found) {
      if (found.type !== 'dir') throw new CopyError(`cannot copy to non-directory: ${dst}`);
      if (overwrite) {
        found.mode = src.mode;
        found.unknown = false;
        this.touched.add(dst);
      }
      return false;
    }
    const made = dirNode({ mode: src.mode, mtime: this.time });
    if (slot) this.addTo(slot.dir, slot.dirPath, slot.name, made);
    else {
      const [parent, name] = parentAndName(dst);
      this.add(parent, name, made);
    }
    this.touched.add(dst);
    return true;
  }

  /**
   * Delayed parents (--parents / --exclude): made, with their source's info, once something
   * inside is copied. One already in the destination takes its source's mode when the entry
   * that brings it overwrites (every entry below the source: fsutil's createParentDirs passes
   * the entry's overwriteTargetMetadata on), as a directory copied whole would.
   */
  private createParents(state: CopyState, overwrite: boolean): void {
    for (const p of state.parents) {
      if (p.copied) continue;
      const src = resolvePath(state.src, p.src, true);
      if (src.status !== 'found' || src.node.type !== 'dir') throw new CopyError(`${p.src} is not a directory`);
      if (this.copyDirectoryOnly(p.dst, src.node, overwrite)) {
        this.applyInfo(state.spec, src.node, this.tree.get(p.dst)!);
      }
      p.copied = true;
    }
  }

  /** The new node for a non-directory source: a hard link to a file already copied by this source, else a copy. */
  private copyOf(state: CopyState, node: FsNode, target: string): FsNode {
    // Left out by destructuring, not `delete` (which turns the object slow for every later access).
    const { children: _children, unknown: _unknown, layer: _layer, ...copy } = node;
    const key = node.type === 'file' ? node.inode : undefined;
    if (key) {
      const linked = state.inodes.get(key);
      if (linked) {
        const first = this.tree.get(linked);
        if (first) return first;
      }
      // The copies of these links share an identity of their own, not the source's. A file with
      // no links gets none: an identity per file was an object per entry for nothing.
      copy.inode = {};
      state.inodes.set(key, target);
    }
    return copy;
  }

  private applyInfo(spec: CopySpec, src: FsNode, dst: FsNode): void {
    dst.uid = spec.chown ? spec.chown.uid : src.uid;
    dst.gid = spec.chown ? spec.chown.gid : src.gid;
    if (src.type !== 'symlink') dst.mode = spec.chmod !== undefined ? applyChmod(spec.chmod, src.mode, src.type === 'dir') : src.mode;
    dst.mtime = src.mtime;
    dst.unknown = false;
  }

  /**
   * ADD of a local archive (BuildKit's applyRootArchive): `dest` is made like `mkdir -p` and the
   * entries are unpacked into it as root. Names are cleaned and must stay inside `dest` (its
   * symlinks resolve inside it too); missing parents are 0755 root; an entry replaces what is at
   * its path unless both are directories; owners come from the archive (or --chown); modes and
   * mtimes from the archive (--chmod does not apply). Fifos and devices are made, as go-archive's
   * untar makes them (mknod) under a BuildKit running as root.
   */
  unpack(entries: readonly ArchiveEntry[], archive: ArchiveRef, describe: string, dest: string, chown?: Owner): void {
    this.unpacked = true;
    const root = this.mkdirAll(dest, chown);
    const rootParts = splitPath(root);
    const tree = this.tree;
    const view: FsView = {
      describe,
      lstat: (p) => tree.lstat(joinParts([...rootParts, ...splitPath(p)])),
      children: (p, n) => tree.children(p, n),
    };
    const dirTimes: [FsNode, number][] = [];
    for (const e of entries) {
      const name = cleanArchivePath(e.name, describe);
      if (name === undefined) continue;
      const rel = splitPath(resolveArchivePath(view, name, e.type === 'dir', describe));
      if (rel.length === 0) continue;
      const parts = [...rootParts, ...rel];
      const path = joinParts(parts);
      for (let i = rootParts.length + 1; i < parts.length; i++) {
        const dir = joinParts(parts.slice(0, i));
        const found = tree.lstat(dir);
        if (found.status === 'found') {
          if (found.node.type !== 'dir') throw new CopyError(`${describe}: mkdir ${dir}: not a directory`);
          continue;
        }
        const made = dirNode({ mtime: this.time });
        if (tree.partial) made.unknown = true;
        this.add(joinParts(parts.slice(0, i - 1)), parts[i - 1]!, made);
      }
      const existing = tree.get(path);
      const owner = chown ?? { uid: e.uid, gid: e.gid };
      const meta = { mode: e.mode, uid: owner.uid, gid: owner.gid, mtime: e.mtime };
      if (e.type === 'dir') {
        if (existing?.type === 'dir') {
          Object.assign(existing, meta, { unknown: false });
          this.touched.add(path);
          dirTimes.push([existing, e.mtime]);
        } else {
          const made = dirNode(meta);
          this.add(joinParts(parts.slice(0, -1)), parts[parts.length - 1]!, made);
          dirTimes.push([made, e.mtime]);
        }
        continue;
      }
      let node: FsNode;
      switch (e.type) {
        case 'file':
          node = { type: 'file', ...meta, size: e.size, content: { kind: 'archive', archive, entry: e.index }, inode: {} };
          if (e.xattrs) node.xattrs = e.xattrs;
          break;
        case 'symlink':
          node = { type: 'symlink', ...meta, mode: 0o777, size: 0, linkname: e.linkname ?? '' };
          break;
        case 'hardlink': {
          const target = cleanArchivePath(e.linkname ?? '', describe);
          if (target === undefined) throw new CopyError(`${describe}: hard link ${JSON.stringify(e.name)} targets the extraction root`);
          const linked = tree.get(joinParts([...rootParts, ...splitPath(resolveArchivePath(view, target, false, describe))]));
          if (!linked && tree.partial) {
            // A lazy plan cannot see the base's file BuildKit's untar links to: a file without bytes
            // stands for it, and the plan is made again on the base's layers (linksUnseenFile).
            node = { type: 'file', ...meta, size: 0, inode: {} };
            break;
          }
          if (!linked || linked.type === 'dir') throw new CopyError(`${describe}: hard link ${JSON.stringify(e.name)}: ${JSON.stringify(e.linkname)} is not in the archive before it`);
          if (linked.type === 'file') {
            linked.inode ??= {};
            Object.assign(linked, meta);
            // BuildKit's untar chowns the link (the file's inode), which clears its capability,
            // then sets the link entry's own xattrs.
            if (e.xattrs) linked.xattrs = e.xattrs;
            else delete linked.xattrs;
          }
          node = linked;
          break;
        }
        case 'fifo':
          node = { type: 'fifo', ...meta, size: 0 };
          break;
        default:
          // go-archive's untar makes them with mknod (BuildKit running as root, as docker build does).
          node = { type: e.type, ...meta, size: 0, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 };
      }
      this.place(path, node);
    }
    // Directory times last, deepest first: entries added inside them must not bump them.
    for (const [node, mtime] of dirTimes.reverse()) node.mtime = mtime;
  }

  /** Puts a non-directory at a resolved path (its parent exists), replacing a non-directory there. */
  place(path: string, node: FsNode, slot?: Slot): void {
    if (slot) this.addTo(slot.dir, slot.dirPath, slot.name, node);
    else {
      const [parent, name] = parentAndName(path);
      this.add(parent, name, node);
    }
    this.touched.add(path);
  }

  /** The node at a resolved path (symlinks not followed), through its slot when it has one. */
  private at(path: string, slot?: Slot): FsNode | undefined {
    return slot ? slot.dir.children!.get(slot.name) : this.tree.get(path);
  }

  /** Adds or replaces a child; a directory that gains a name is modified (its mtime is now). */
  private add(parentPath: string, name: string, node: FsNode): void {
    const parent = this.tree.get(parentPath);
    if (!parent || parent.type !== 'dir') throw new CopyError(`${parentPath}: not a directory`);
    this.addTo(parent, parentPath, name, node);
  }

  private addTo(parent: FsNode, parentPath: string, name: string, node: FsNode): void {
    parent.children!.set(name, node);
    // Creating or replacing an entry changes the directory (a layer diff lists it).
    if (!parent.unknown && parentPath !== '/') {
      parent.mtime = this.time;
      this.touched.add(parentPath);
    }
    const path = childPath(parentPath, name);
    if (!node.unknown) this.touched.add(path);
  }
}

interface CopyState {
  spec: CopySpec;
  src: FsView;
  /** Source inode → the target path of its first copy (hard links stay links). */
  inodes: Map<object, string>;
  parents: ParentDir[];
}

function isRoot(owner: Owner | undefined): boolean {
  return !owner || (owner.uid === 0 && owner.gid === 0);
}

/** `dir/` and `dir/.` name the directory itself (Go: filepath.Split gives an empty or `.` file part). */
export function endsAsDirectory(path: string): boolean {
  return path.endsWith('/') || path.endsWith('/.') || path === '.';
}
