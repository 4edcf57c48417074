import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/atomic.js';
import { CACHE_DIR, LEGACY_TEMP_MAX_AGE_MS as TEMP_MAX_AGE_MS, TEMP_NAME } from '../content/layout-files.js';
import { isDigest } from '../oci/digest.js';
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
 * killed writer's temp file is removed an hour later, as the layer cache's); one that cannot be
 * read or parsed is a miss (the base is read again and the entry rewritten).
 */

const FORMAT = 1;
const KEPT = 16;
const DIR = 'base-trees';
const ENTRY = /^[0-9a-f]{64}([0-9a-f]{64})?\.json$/;

/** A node as stored: `t` its type, then its attributes; `c` a directory's children, `l` a link's target, `d` kept bytes and `x` a capability, base64. */
interface StoredNode {
  t: NodeType;
  m: number;
  u: number;
  g: number;
  s: number;
  tm: number;
  c?: [string, StoredNode][];
  l?: string;
  d?: string;
  x?: string;
  M?: number;
  N?: number;
}

export class BaseTreeCache {
  readonly dir: string;

  constructor(layoutRoot: string) {
    this.dir = join(layoutRoot, CACHE_DIR, DIR);
  }

  /** The base's tree as a later build stored it, or undefined. */
  async read(manifestDigest: string, describe: string): Promise<FsTree | undefined> {
    if (!isDigest(manifestDigest)) return undefined;
    const path = this.path(manifestDigest);
    try {
      const stored = JSON.parse(await readFile(path, 'utf8')) as { format?: number; root?: StoredNode };
      if (stored.format !== FORMAT || stored.root?.t !== 'dir') return undefined;
      const tree = new FsTree(describe, false, decode(stored.root));
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
      await writeFileAtomic(this.path(manifestDigest), JSON.stringify({ format: FORMAT, root: encode(tree.root) }));
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

function encode(node: FsNode): StoredNode {
  const out: StoredNode = { t: node.type, m: node.mode, u: node.uid, g: node.gid, s: node.type === 'file' ? node.size : 0, tm: node.mtime };
  if (node.children) {
    // Pairs, not an object: a file may be named `__proto__`.
    out.c = [...node.children].map(([name, child]) => [name, encode(child)]);
  }
  if (node.linkname !== undefined) out.l = node.linkname;
  if (node.data) out.d = node.data.toString('base64');
  if (node.xattrs) out.x = node.xattrs.toString('base64');
  if (node.devmajor !== undefined) out.M = node.devmajor;
  if (node.devminor !== undefined) out.N = node.devminor;
  return out;
}

function decode(stored: StoredNode): FsNode {
  const meta = { mode: stored.m, uid: stored.u, gid: stored.g, mtime: stored.tm };
  if (stored.t === 'dir') {
    const children = new Map<string, FsNode>();
    for (const [name, child] of stored.c ?? []) children.set(name, decode(child));
    return dirNode({ ...meta, children });
  }
  const node: FsNode = { type: stored.t, ...meta, size: stored.s };
  if (stored.l !== undefined) node.linkname = stored.l;
  if (stored.d !== undefined) node.data = Buffer.from(stored.d, 'base64');
  if (stored.x !== undefined) node.xattrs = Buffer.from(stored.x, 'base64');
  if (stored.M !== undefined) node.devmajor = stored.M;
  if (stored.N !== undefined) node.devminor = stored.N;
  return node;
}
