import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { OcipushError } from '../../errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { layerCompression } from '../../oci/media-types.js';
import type { ImageManifest } from '../../oci/manifest.js';
import type { ReadOnlyStorage } from '../../content/storage.js';
import { createDecompressor } from '../../layer/compress/decompressor.js';
import { GoBuildInfoScanner, type GoBuildInfo } from './go-buildinfo.js';

/** One regular file of the image's final filesystem (after every layer and whiteout). */
export interface ImageFile {
  /** Relative, clean: `usr/bin/env`. */
  path: string;
  size: number;
  mode: number;
  sha1: string;
  sha256: string;
  /** Index of the layer the file comes from. */
  layer: number;
  /** Kept for the files package detection reads (dpkg status, package.json, METADATA …). */
  content?: Buffer;
  go?: GoBuildInfo;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** Package metadata files are small; a larger one is hashed but not parsed. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/** The files whose contents package detection needs. */
export function isMetadataPath(path: string): boolean {
  return path === 'var/lib/dpkg/status'
    || path.startsWith('var/lib/dpkg/status.d/')
    || path === 'lib/apk/db/installed'
    || path === 'etc/os-release' || path === 'usr/lib/os-release'
    || (path.endsWith('/package.json') && path.includes('node_modules/'))
    || path.endsWith('/package-lock.json') || path === 'package-lock.json'
    || /\.dist-info\/METADATA$/.test(path);
}

function cleanPath(name: string): string {
  const p = posix.normalize(`/${name}`).slice(1);
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * Streams every layer of `manifest` from `storage` once (decompressed on the fly, never unpacked
 * to disk) and returns the final filesystem's regular files, hashed, in path order.
 */
export async function scanImageFiles(
  storage: ReadOnlyStorage, manifest: ImageManifest,
  options: { signal?: AbortSignal; skipLayer?: (layer: Descriptor) => boolean; onWhiteout?: (path: string, layer: number, opaque: boolean) => void } = {},
): Promise<ImageFile[]> {
  const files = new Map<string, ImageFile>();
  for (const [index, layer] of manifest.layers.entries()) {
    if (options.skipLayer?.(layer)) continue;
    await scanLayer(storage, layer, index, files, options.signal, options.onWhiteout);
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function removeTree(files: Map<string, ImageFile>, path: string, below?: number): void {
  const prefix = path === '' ? '' : `${path}/`;
  for (const [p, f] of files) {
    if ((p === path || p.startsWith(prefix)) && (below === undefined || f.layer < below)) files.delete(p);
  }
}

async function scanLayer(storage: ReadOnlyStorage, layer: Descriptor, index: number, files: Map<string, ImageFile>, signal?: AbortSignal, onWhiteout?: (path: string, layer: number, opaque: boolean) => void): Promise<void> {
  const body = await storage.fetch(layer, { signal });
  const decompressor = createDecompressor(layerCompression(layer.mediaType));
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const header = entry.header;
      const path = cleanPath(header.name);
      const base = posix.basename(path);
      const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
      if (base === OPAQUE) { removeTree(files, dir, index); onWhiteout?.(dir, index, true); entry.resume(); continue; }
      if (base.startsWith(WHITEOUT)) {
        removeTree(files, posix.join(dir, base.slice(WHITEOUT.length)));
        onWhiteout?.(posix.join(dir, base.slice(WHITEOUT.length)), index, false);
        entry.resume();
        continue;
      }
      if (header.type === 'file' || header.type === 'contiguous-file') {
        files.set(path, await hashEntry(entry as unknown as AsyncIterable<Buffer>, path, header.mode ?? 0o644, index));
        continue;
      }
      if (header.type === 'link' && header.linkname) {
        const target = files.get(cleanPath(header.linkname));
        if (target) files.set(path, { ...target, path, layer: index });
        entry.resume();
        continue;
      }
      // A directory, symlink or device replaces a file of the same name.
      if (header.type !== 'directory') files.delete(path);
      else if (files.has(path)) files.delete(path);
      entry.resume();
    }
  })();
  try {
    await Promise.all([pipeline(body as Readable, decompressor, extract), consume]);
  } catch (err) {
    if (err instanceof OcipushError) throw err;
    throw new OcipushError('EINVALID', `layer ${layer.digest}: cannot read it as a tar archive: ${(err as Error).message}`, { digest: layer.digest, cause: err });
  }
}

async function hashEntry(entry: AsyncIterable<Buffer>, path: string, mode: number, layer: number): Promise<ImageFile> {
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  const keep = isMetadataPath(path);
  const chunks: Buffer[] = [];
  let size = 0;
  let go: GoBuildInfoScanner | undefined;
  let first = true;
  for await (const chunk of entry) {
    if (first) {
      first = false;
      // ELF executables may carry Go build info.
      if ((mode & 0o111) !== 0 && chunk.length >= 4 && chunk[0] === 0x7f && chunk[1] === 0x45 && chunk[2] === 0x4c && chunk[3] === 0x46) go = new GoBuildInfoScanner();
    }
    sha1.update(chunk);
    sha256.update(chunk);
    size += chunk.length;
    go?.update(chunk);
    if (keep && size <= MAX_METADATA_BYTES) chunks.push(chunk);
  }
  const file: ImageFile = { path, size, mode, sha1: sha1.digest('hex'), sha256: sha256.digest('hex'), layer };
  if (keep && size <= MAX_METADATA_BYTES) file.content = Buffer.concat(chunks);
  const info = go?.result();
  if (info) file.go = info;
  return file;
}
