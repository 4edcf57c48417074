import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { OcipushError, fromSystemError } from '../errors.js';
import type { XattrMap } from './xattrs.js';
import type { EntryAttributes } from './entry-attributes.js';

/** One thing in a rootfs, as it goes into the layer. */
export interface FsEntry extends EntryAttributes {
  /** Absolute path on disk (raw bytes: names need not be UTF-8). */
  path: Buffer;
  /** Path inside the archive, relative, no leading `./`; directories end with `/`. */
  name: Buffer;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';
  /** Symlink target as stored (never resolved), or the archive name a hard link points at. */
  linkname?: Buffer;
  /** The entry's extended attributes as encoded pax records (xattrs.ts, attached by attachXattrs); on each name of a hard-linked file. */
  xattrs?: Buffer;
}

export interface WalkOptions {
  /** Called for things that are left out (sockets). */
  onWarning?: (message: string) => void;
  /** Absolute paths (after realpath) left out with everything under them: the layout being written. */
  exclude?: string[];
  /**
   * Sees each yielded entry's full lstat (nanosecond times, inode, ctime) before the entry is
   * yielded: the layer cache keys on it. The walk then stats with bigint once instead of twice.
   */
  onStats?: (entry: FsEntry, stats: BigIntStats) => void;
}

/** The lstat fields the walk uses, from either kind of Stats. */
interface WalkStats {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** Whole seconds since the epoch. */
  mtime: number;
}

function lstatFor(path: Buffer, big: boolean): { st: WalkStats; full?: BigIntStats } {
  if (!big) {
    const s = lstatSync(path);
    return { st: { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, nlink: s.nlink, mtime: Math.floor(s.mtimeMs / 1000) } };
  }
  const s = lstatSync(path, { bigint: true });
  // Floor division: bigint division truncates towards zero, which is wrong before 1970.
  let mtime = s.mtimeNs / 1_000_000_000n;
  if (s.mtimeNs < 0n && s.mtimeNs % 1_000_000_000n !== 0n) mtime -= 1n;
  return {
    st: { mode: Number(s.mode), uid: Number(s.uid), gid: Number(s.gid), size: Number(s.size), nlink: Number(s.nlink), mtime: Number(mtime) },
    full: s,
  };
}

const SLASH = Buffer.from('/');
const S_IFMT = 0o170000;

interface OpenDir {
  path: Buffer;
  prefix: Buffer;
  names: Buffer[];
  next: number;
}

/**
 * Walks `root` depth first, each directory's entries sorted by the bytes of their names, so the
 * order never depends on the file system. Never follows a symlink. A file with several links is
 * stored once; its later paths become hard links to the first. The root itself is not an entry.
 *
 * Synchronous on purpose: lstat and readdir of a cached tree cost microseconds, far less than a
 * promise round trip each, and the caller interleaves this walk with reading file contents.
 */
export function* walk(root: string, options: WalkOptions = {}): Generator<FsEntry> {
  const seenInodes = new Map<string, Buffer>();
  const excluded = exclusions(options.exclude ?? []);
  const list = (dir: Buffer): Buffer[] => {
    const names = listDir(dir);
    const skip = excluded.get(dir.toString('latin1'));
    return skip ? names.filter((n) => !skip.has(n.toString('latin1'))) : names;
  };
  const stack: OpenDir[] = [{ path: Buffer.from(root), prefix: Buffer.alloc(0), names: list(Buffer.from(root)), next: 0 }];
  while (stack.length > 0) {
    const dir = stack[stack.length - 1]!;
    if (dir.next >= dir.names.length) {
      stack.pop();
      continue;
    }
    const base = dir.names[dir.next++]!;
    const path = Buffer.concat([dir.path, SLASH, base]);
    const rel = dir.prefix.length > 0 ? Buffer.concat([dir.prefix, base]) : base;
    let st: WalkStats;
    let full: BigIntStats | undefined;
    try {
      ({ st, full } = lstatFor(path, options.onStats !== undefined));
    } catch (err) {
      throw fromSystemError(err, path.toString(), 'cannot read');
    }
    const kind = st.mode & S_IFMT;
    if (kind === 0o140000) {
      options.onWarning?.(`${path.toString()}: socket skipped (a socket cannot be stored in a layer)`);
      continue;
    }
    const entry: FsEntry = {
      path,
      name: rel,
      type: 'file',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: st.mtime,
    };
    if (kind === 0o040000) {
      entry.type = 'dir';
      entry.name = Buffer.concat([rel, SLASH]);
      if (full) options.onStats!(entry, full);
      yield entry;
      stack.push({ path, prefix: entry.name, names: excluded.size > 0 ? list(path) : listDir(path), next: 0 });
      continue;
    }
    if (st.nlink > 1) {
      const key = inodeKey(path);
      const first = seenInodes.get(key);
      if (first) {
        entry.type = 'hardlink';
        entry.linkname = first;
        if (full) options.onStats!(entry, full);
        yield entry;
        continue;
      }
      seenInodes.set(key, rel);
    }
    switch (kind) {
      case 0o100000:
        entry.size = st.size;
        break;
      case 0o120000:
        entry.type = 'symlink';
        entry.linkname = readLink(path);
        break;
      case 0o010000:
        entry.type = 'fifo';
        break;
      case 0o020000:
      case 0o060000: {
        entry.type = kind === 0o020000 ? 'char' : 'block';
        const { major, minor } = deviceNumbers(path);
        entry.devmajor = major;
        entry.devminor = minor;
        break;
      }
      default:
        throw new OcipushError('EREAD', `${path.toString()}: unsupported file type (mode ${st.mode.toString(8)})`, { path: path.toString() });
    }
    if (full) options.onStats!(entry, full);
    yield entry;
  }
}

/**
 * Sets `entry.xattrs` from the map, when it has the entry's path: every kind of entry, a hard link
 * too, as umoci insert and BuildKit write them (an unpacker that chowns a hard link, as containerd
 * does, clears its capability unless the link's own header sets it again).
 */
export function attachXattrs(entry: FsEntry, xattrs: XattrMap): void {
  const found = xattrs.get(entry.path.toString('latin1'));
  if (found) entry.xattrs = found;
}

/** Excluded paths grouped by parent directory (latin1 strings of the raw bytes). */
function exclusions(paths: string[]): Map<string, Set<string>> {
  const byParent = new Map<string, Set<string>>();
  for (const p of paths) {
    const bytes = Buffer.from(p);
    const slash = bytes.lastIndexOf(0x2f);
    if (slash <= 0) continue;
    const parent = bytes.subarray(0, slash).toString('latin1');
    const names = byParent.get(parent) ?? new Set<string>();
    names.add(bytes.subarray(slash + 1).toString('latin1'));
    byParent.set(parent, names);
  }
  return byParent;
}

function listDir(path: Buffer): Buffer[] {
  try {
    return readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
  } catch (err) {
    throw fromSystemError(err, path.toString(), 'cannot read directory');
  }
}

function readLink(path: Buffer): Buffer {
  try {
    return readlinkSync(path, { encoding: 'buffer' });
  } catch (err) {
    throw fromSystemError(err, path.toString(), 'cannot read symlink');
  }
}

/** dev:ino with 64-bit precision (a JS number would round inode numbers above 2^53). */
function inodeKey(path: Buffer): string {
  const st = lstatSync(path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/** Linux (glibc) encoding of dev_t into major and minor numbers. */
function deviceNumbers(path: Buffer): { major: number; minor: number } {
  const rdev = lstatSync(path, { bigint: true }).rdev;
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n);
  const minor = (rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n);
  return { major: Number(major), minor: Number(minor) };
}
