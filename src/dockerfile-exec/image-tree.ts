import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import { OcipushError } from '../errors.js';
import { readTar, type ArchiveEntry } from './archive.js';
import { decompressedLayer } from '../layer/compress/decompressor.js';
import type { PlannedEntry } from './layer-writer.js';
import { dirNode, FsTree, joinParts, resolvePath, splitPath, type ArchiveRef, type FsNode } from './tree.js';

/**
 * An image's filesystem, read from its layers as a runtime unpacks them (OCI image spec,
 * "Applying changesets"): later layers win, `.wh.NAME` deletes NAME, `.wh..wh..opq` empties a
 * directory of what lower layers put there, a non-directory replaces whatever was at its path,
 * missing parents appear as 0755 root directories. Only headers are kept; file bytes stay in
 * the layers (each file remembers its layer and entry), except /etc/passwd and /etc/group,
 * which COPY --chown and WORKDIR read to turn user names into ids.
 */

export interface ImageLayer {
  descriptor: Descriptor;
  /** The blob's bytes as stored (compressed), verified against its digest while read. */
  open(): Promise<Readable>;
}

const KEPT_FILES = new Set(['/etc/passwd', '/etc/group']);
const MAX_KEPT_BYTES = 4 << 20;

function layerArchive(layer: ImageLayer, describe: string): ArchiveRef {
  return {
    describe,
    // A layer's bytes are verified against its digest as they are read: the digest names them.
    stamp: { facts: `blob ${layer.descriptor.digest}`, changedNs: 0n },
    // By what its bytes are, as containerd unpacks it for BuildKit: a `tar+gzip` layer may be a plain tar.
    open: async () => {
      const body = await layer.open();
      try {
        return (await decompressedLayer(body)).stream;
      } catch (err) {
        if (err instanceof OcipushError && err.code === 'EUNSUPPORTED') throw new OcipushError(err.code, `${describe}: ${err.message}`, { cause: err });
        throw err;
      }
    },
  };
}

/** Reads every layer of an image (streamed once each) into a tree. */
export async function loadImageTree(describe: string, layers: readonly ImageLayer[]): Promise<FsTree> {
  const tree = new FsTree(describe);
  for (const [i, layer] of layers.entries()) {
    const archive = layerArchive(layer, `layer ${layer.descriptor.digest} of ${describe}`);
    await readTar(await archive.open(), archive.describe, (entry, body) => applyEntry(tree, entry, i, archive, body));
  }
  return tree;
}

/** A tar entry name as a path inside the root (`./a/b/`, `/a/b` → `/a/b`); undefined for the root itself. */
function entryPath(name: string): string | undefined {
  const parts = splitPath(name);
  return parts.length === 0 ? undefined : joinParts(parts);
}

async function applyEntry(tree: FsTree, entry: ArchiveEntry, layer: number, archive: ArchiveRef, body: AsyncIterable<Buffer>): Promise<void> {
  const path = entryPath(entry.name);
  if (path === undefined) return;
  const parts = splitPath(path);
  const name = parts[parts.length - 1]!;
  const parent = ensureParent(tree, parts.slice(0, -1), layer);
  if (!parent) return;
  if (name === '.wh..wh..opq') {
    for (const [child, node] of parent.children!) if (node.layer !== layer) parent.children!.delete(child);
    return;
  }
  if (name.startsWith('.wh.')) {
    parent.children!.delete(name.slice(4));
    return;
  }
  const existing = parent.children!.get(name);
  const meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, layer };
  if (entry.type === 'dir') {
    if (existing?.type === 'dir') Object.assign(existing, meta, { unknown: false });
    else parent.children!.set(name, dirNode(meta));
    return;
  }
  let node: FsNode;
  if (entry.type === 'hardlink') {
    const targetPath = entryPath(entry.linkname ?? '');
    const target = targetPath ? tree.get(targetPath) : undefined;
    if (!target || target.type !== 'file') return;
    target.inode ??= {};
    node = { ...target, layer };
  } else {
    node = { type: entry.type, ...meta, size: entry.size };
    if (entry.type === 'file') node.content = { kind: 'archive', archive, entry: entry.index };
    if (entry.xattrs) node.xattrs = entry.xattrs;
    if (entry.linkname !== undefined && entry.type === 'symlink') node.linkname = entry.linkname;
    if (entry.type === 'char' || entry.type === 'block') {
      node.devmajor = entry.devmajor ?? 0;
      node.devminor = entry.devminor ?? 0;
    }
    if (entry.type === 'file' && KEPT_FILES.has(path) && entry.size <= MAX_KEPT_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      node.data = Buffer.concat(chunks);
    }
  }
  parent.children!.set(name, node);
}

/** The directory holding an entry: symlinks in the way followed inside the root, missing ones made 0755 root. */
function ensureParent(tree: FsTree, parts: string[], layer: number): FsNode | undefined {
  const r = resolvePath(tree, joinParts(parts), true);
  if (r.status === 'found') return r.node.type === 'dir' ? r.node : undefined;
  let node = tree.root;
  for (const part of splitPath(r.path)) {
    let child = node.children!.get(part);
    if (!child) {
      child = dirNode({ layer });
      node.children!.set(part, child);
    }
    if (child.type !== 'dir') return undefined;
    node = child;
  }
  return node;
}

/** Lays a planned layer over a tree as unpacking it would (COPY --link: a layer made apart, then stacked). */
export function applyPlanned(tree: FsTree, entries: readonly PlannedEntry[]): void {
  for (const e of entries) {
    const parts = splitPath(e.path);
    const parent = ensureParent(tree, parts.slice(0, -1), -1);
    if (!parent) continue;
    const name = parts[parts.length - 1]!;
    const existing = parent.children!.get(name);
    if (e.node.type === 'dir') {
      if (existing?.type === 'dir') Object.assign(existing, { ...e.node, children: existing.children, unknown: false });
      else parent.children!.set(name, dirNode({ ...e.node }));
      continue;
    }
    const linked = e.linkTo ? tree.get(e.linkTo) : undefined;
    parent.children!.set(name, linked ?? { ...e.node });
  }
}
