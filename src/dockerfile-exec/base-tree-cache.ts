import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/atomic.js';
import { CACHE_DIR, LEGACY_TEMP_MAX_AGE_MS as TEMP_MAX_AGE_MS, TEMP_NAME } from '../content/layout-files.js';
import { isDigest, sha256 } from '../oci/digest.js';
import { dirNode, FsTree, type FsNode, type NodeType } from './tree.js';

/**
 * A base image's filesystem without its files' bytes, kept in the layout
 * (`.ocipush-cache/base-trees/<manifest hex>.json`) once a build has read the base's layers, so
 * that later builds on that base plan exactly as BuildKit does without reading them again.
 *
 * Why a build needs it at all: BuildKit's COPY layer holds every directory it passes through,
 * with the base's owner and mode (containerd's diff writes the parents of what changed). A
 * layer without them is unpacked wrongly by the runtimes that unpack each layer into a
 * directory of its own and stack them with overlayfs (Docker's overlay2, podman's and CRI-O's
 * overlay): they make a missing parent 0755 root, and the uppermost directory's attributes win,
 * so `COPY x /tmp/x` would leave /tmp 0755 and `COPY notes /home/app/` take /home/app from its
 * user.
 *
 * Files keep their type, attributes and size but not where their bytes are: a plan that needs
 * a base file's bytes (COPY --from a stage on it) reads the layers. /etc/passwd and /etc/group
 * keep their bytes (--chown and WORKDIR names). Hard links among base files are not kept: a
 * plan writes a base file only through a path it copies to, which makes a new node.
 *
 * The manifest digest names the layers, so an entry never goes stale; at most KEPT entries are
 * kept, the least recently used removed first. Entries are written by temp name and rename (a
 * killed writer's temp file is removed an hour later, as the layer cache's). An entry stands in
 * for layers whose bytes are verified against their digests, so it is checked as strictly: its
 * first line names its format, its manifest and the sha256 of the rest (the tree); an entry of
 * another format, for another manifest, whose tree does not match that digest, or with a node
 * that is not well formed (a mode that is no mode, a negative owner, a kept file whose bytes are
 * not its size …) is a miss: the base is read again and the entry rewritten, never planned on.
 */

const FORMAT = 3;
const KEPT = 16;
const DIR = 'base-trees';
const ENTRY = /^[0-9a-f]{64}([0-9a-f]{64})?\.json$/;

/**
 * A node as stored: `[name, kind, mode, uid, gid, mtime, …]`, then for a directory its children,
 * a file its size (and kept bytes, base64, or null; then a capability, base64), a link its
 * target, a device its major and minor. Arrays, not objects: a base of 50,000 files is half the
 * bytes and parsed in a fifth of the time.
 */
type StoredNode = [name: string, kind: number, mode: number, uid: number, gid: number, mtime: number, ...rest: unknown[]];

const KINDS: NodeType[] = ['file', 'dir', 'symlink', 'char', 'block', 'fifo'];

export class BaseTreeCache {
  readonly dir: string;

  constructor(layoutRoot: string) {
    this.dir = join(layoutRoot, CACHE_DIR, DIR);
  }

  /** The base's tree as a later build stored it, or undefined (none, or not the one stored). */
  async read(manifestDigest: string, describe: string): Promise<FsTree | undefined> {
    if (!isDigest(manifestDigest)) return undefined;
    const path = this.path(manifestDigest);
    try {
      const text = await readFile(path, 'utf8');
      const split = text.indexOf('\n');
      const header = JSON.parse(text.slice(0, split)) as { format?: unknown; manifest?: unknown; tree?: unknown };
      const body = text.slice(split + 1);
      if (split < 0 || header.format !== FORMAT || header.manifest !== manifestDigest || header.tree !== sha256(body)) return undefined;
      const root = JSON.parse(body) as StoredNode;
      if (!Array.isArray(root) || root[0] !== '' || KINDS[root[1]] !== 'dir') return undefined;
      const tree = new FsTree(describe, false, decode(root));
      // Most recently used first when the cache is trimmed.
      const now = new Date();
      await utimes(path, now, now).catch(() => {});
      return tree;
    } catch {
      return undefined;
    }
  }

  /** Stores the tree of a base whose layers were read. Best effort: a failure only costs a later build a read. */
  async write(manifestDigest: string, tree: FsTree): Promise<void> {
    if (!isDigest(manifestDigest)) return;
    try {
      await mkdir(this.dir, { recursive: true });
      const body = JSON.stringify(encode('', tree.root));
      await writeFileAtomic(this.path(manifestDigest), `${JSON.stringify({ format: FORMAT, manifest: manifestDigest, tree: sha256(body) })}\n${body}`);
      await this.trim();
    } catch {
      // (A read-only layout, a full disk: the next build reads the base again.)
    }
  }

  private path(manifestDigest: string): string {
    return join(this.dir, `${manifestDigest.slice(manifestDigest.indexOf(':') + 1)}.json`);
  }

  /** Keeps the KEPT most recently used entries, and removes the temp files of writers killed long ago. */
  private async trim(): Promise<void> {
    const now = Date.now();
    const aged: { name: string; used: number }[] = [];
    for (const name of await readdir(this.dir)) {
      const entry = ENTRY.test(name);
      if (!entry && !TEMP_NAME.test(name)) continue; // not ours
      const used = (await stat(join(this.dir, name)).catch(() => undefined))?.mtimeMs;
      if (used === undefined) continue;
      if (entry) aged.push({ name, used });
      else if (now - used > TEMP_MAX_AGE_MS) await rm(join(this.dir, name), { force: true });
    }
    aged.sort((a, b) => b.used - a.used);
    for (const { name } of aged.slice(KEPT)) await rm(join(this.dir, name), { force: true });
  }
}

function encode(name: string, node: FsNode): StoredNode {
  const out: StoredNode = [name, KINDS.indexOf(node.type), node.mode, node.uid, node.gid, node.mtime];
  switch (node.type) {
    case 'dir':
      out.push([...node.children!].map(([child, n]) => encode(child, n)));
      break;
    case 'file':
      out.push(node.size);
      if (node.data || node.xattrs) out.push(node.data?.toString('base64') ?? null);
      if (node.xattrs) out.push(node.xattrs.toString('base64'));
      break;
    case 'symlink':
      out.push(node.linkname ?? '');
      break;
    case 'char':
    case 'block':
      out.push(node.devmajor ?? 0, node.devminor ?? 0);
      break;
    default:
      break;
  }
  return out;
}

/** A stored node as a tree node; throws on anything a writer of this format does not write. */
function decode(stored: StoredNode): FsNode {
  if (!Array.isArray(stored) || stored.length < 6) throw new Error('not a node');
  const type = Number.isInteger(stored[1]) ? KINDS[stored[1]] : undefined;
  if (type === undefined) throw new Error(`unknown kind ${String(stored[1])}`);
  const [, , mode, uid, gid, mtime] = stored;
  if (!isWhole(mode) || mode > 0o7777 || !isWhole(uid) || !isWhole(gid) || !Number.isSafeInteger(mtime)) throw new Error('bad attributes');
  const meta = { mode, uid, gid, mtime };
  if (type === 'dir') {
    const children = new Map<string, FsNode>();
    if (!Array.isArray(stored[6])) throw new Error('no children');
    for (const child of stored[6] as StoredNode[]) {
      const name = Array.isArray(child) ? child[0] : undefined;
      if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || children.has(name)) throw new Error('bad name');
      children.set(name, decode(child));
    }
    return dirNode({ ...meta, children });
  }
  const node: FsNode = { type, ...meta, size: 0 };
  switch (type) {
    case 'file': {
      const [size, data, xattrs] = stored.slice(6);
      if (!isWhole(size) || !(data === undefined || data === null || typeof data === 'string') || !(xattrs === undefined || typeof xattrs === 'string')) throw new Error('bad file');
      node.size = size;
      if (typeof data === 'string') node.data = Buffer.from(data, 'base64');
      if (node.data && node.data.length !== size) throw new Error('kept bytes are not the file\'s size');
      if (typeof xattrs === 'string') node.xattrs = Buffer.from(xattrs, 'base64');
      break;
    }
    case 'symlink':
      if (typeof stored[6] !== 'string') throw new Error('bad link');
      node.linkname = stored[6];
      break;
    case 'char':
    case 'block':
      if (!isWhole(stored[6]) || !isWhole(stored[7])) throw new Error('bad device');
      node.devmajor = stored[6];
      node.devminor = stored[7];
      break;
    default:
      break;
  }
  return node;
}

function isWhole(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
