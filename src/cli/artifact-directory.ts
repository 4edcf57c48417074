import { createWriteStream, lstatSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Digester } from '../oci/digest.js';
import { fromSystemError } from '../errors.js';
import { handleSource } from '../content/blob-source.js';
import { TarProducer, pumpTar } from '../layer/tar.js';
import { walk, type FsEntry } from '../layer/walk.js';
import { TAR_DIGEST_ANNOTATION, UNPACK_ANNOTATION } from './artifact-unpack.js';
import type { ArtifactBlob } from '../supply-chain/attach.js';

/** oras push's media type for a directory: a gzip of its tar. */
export const DIRECTORY_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/**
 * A directory as `oras push REF DIR` packs it: a tar whose entries are under `title/` (the
 * directory itself first), owners 0 with no names, modes and mtimes kept (clamped to the
 * artifact's created time when one is given, so the same tree makes the same blob), gzipped,
 * annotated with the tar's digest and `unpack`, which `artifact get` and oras pull unpack. Names
 * are sorted by their bytes, as Go's filepath.Walk sorts them. The gzip goes to a temp file while
 * both digests are taken (as oras does), the upload reads it from there: never held in memory.
 * The file is unlinked once open, as an archive spool is: a process killed mid-upload leaves
 * nothing in TMPDIR; its handle closes with the process (a command packs one directory or a few).
 * A symlink named on the command line is followed to its directory (oras would pack the link alone).
 * A file of several names is packed whole under each, as oras packs it.
 */
export async function directoryBlob(dir: string, title: string, mediaType: string = DIRECTORY_MEDIA_TYPE, clampMtime?: number): Promise<ArtifactBlob> {
  const temp = join(tmpdir(), `.ocipush-artifact-${process.pid}-${randomBytes(4).toString('hex')}.tar.gz`);
  const handle = await open(temp, 'wx+', 0o600).catch((err: unknown) => { throw fromSystemError(err, tmpdir(), `cannot pack ${dir} into`); });
  await rm(temp, { force: true });
  const prefix = Buffer.from(`${title}/`);
  const top = (() => {
    try { return statSync(dir); } catch (err) { throw fromSystemError(err, dir, 'cannot read'); }
  })();
  const under = (name: Buffer) => Buffer.concat([prefix, name]);
  const fileSize = (path: Buffer) => {
    try { return lstatSync(path).size; } catch (err) { throw fromSystemError(err, path.toString(), 'cannot read'); }
  };
  function* entries(): Generator<FsEntry> {
    yield { path: Buffer.from(dir), name: prefix, type: 'dir', mode: top.mode & 0o7777, uid: 0, gid: 0, size: 0, mtime: Math.floor(top.mtimeMs / 1000) };
    for (const entry of walk(dir)) {
      // A second name of a file goes in whole, as oras's tarDirectory writes it: oras pull resolves
      // a hard link's target against the link's own directory, never the archive's root, and fails.
      if (entry.type === 'hardlink') yield { ...entry, name: under(entry.name), type: 'file', size: fileSize(entry.path), linkname: undefined };
      else yield { ...entry, name: under(entry.name) };
    }
  }
  const tarDigest = new Digester();
  const gzDigest = new Digester();
  const gzip = createGzip();
  const written = pipeline(gzip, new Transform({
    transform(chunk: Buffer, _encoding, done) { gzDigest.update(chunk); done(null, chunk); },
  }), createWriteStream('', { fd: handle.fd, autoClose: false }));
  try {
    await Promise.all([
      pumpTar(new TarProducer(entries(), { clampMtime: clampMtime ?? Number.MAX_SAFE_INTEGER, owner: { uid: 0, gid: 0 } }), gzip, { onChunk: (chunk) => tarDigest.update(chunk) }),
      written,
    ]);
  } catch (err) {
    await handle.close();
    throw fromSystemError(err, dir, 'cannot pack');
  }
  const descriptor = {
    mediaType, digest: gzDigest.digest(), size: gzDigest.size,
    // In the order Go writes a map's keys (sorted), as oras's manifest has them.
    annotations: { [TAR_DIGEST_ANNOTATION]: tarDigest.digest(), [UNPACK_ANNOTATION]: 'true', 'org.opencontainers.image.title': title },
  };
  return { descriptor, source: handleSource(handle, descriptor, `the packed directory ${dir}`) };
}
