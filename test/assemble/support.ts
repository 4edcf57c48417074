import { createHash } from 'node:crypto';
import { chmodSync, statSync, chownSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { requireTool, run } from '../support/tools.js';

export { buildStaticHello } from '../archive/fixtures.js';

export const LONG_DIR = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}`; // > 100 bytes, splits into ustar prefix
export const LONG_NAME = 'n'.repeat(200); // one name > 100 bytes: only pax can hold it
export const LONG_TARGET = `/${'t'.repeat(150)}/target`;
export const UNICODE_DIR = 'ünïcödé';
export const UNICODE_NAME = '日本語 ファイル.txt';
/** Not UTF-8: names are bytes on Linux, and bytes they stay. */
export const BINARY_NAME = Buffer.from([0x62, 0x69, 0x6e, 0xff, 0xfe, 0x2e, 0x64, 0x61, 0x74]);

/** Deterministic pseudo-random bytes (incompressible, same on every run). */
export function pseudoRandom(size: number, seed = 'ocipush'): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * A root filesystem with every kind of thing a layer must carry. Needs root (owners, devices,
 * capabilities). Returns the paths worth naming in assertions.
 */
export function makeRichRootfs(root: string): void {
  requireTool('mkfifo');
  requireTool('mknod');
  requireTool('setcap');
  const p = (...parts: string[]) => join(root, ...parts);
  mkdirSync(p('bin'), { recursive: true });
  mkdirSync(p('etc'), { recursive: true });
  mkdirSync(p('usr', 'lib'), { recursive: true });
  mkdirSync(p('empty', 'nested-empty'), { recursive: true });
  mkdirSync(p('tmp'));
  chmodSync(p('tmp'), 0o1777);
  writeFileSync(p('etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(p('etc', 'empty-file'), '');
  writeFileSync(p('etc', 'block-sized'), Buffer.alloc(512, 0x61));
  writeFileSync(p('etc', 'secret'), 'only root\n', { mode: 0o600 });
  chmodSync(p('etc', 'secret'), 0o600);
  writeFileSync(p('etc', 'no-perms'), 'mode 000\n');
  chmodSync(p('etc', 'no-perms'), 0o000);
  // Larger than a chunk (1 MiB), odd size: crosses chunk boundaries mid-file.
  writeFileSync(p('usr', 'lib', 'big.bin'), pseudoRandom(3 * 1024 * 1024 + 17));
  writeFileSync(p('usr', 'lib', 'exact-mib.bin'), pseudoRandom(1024 * 1024, 'mib'));

  copyFileSync('/bin/true', p('bin', 'setuid'));
  chmodSync(p('bin', 'setuid'), 0o4755);
  copyFileSync('/bin/true', p('bin', 'setgid'));
  chmodSync(p('bin', 'setgid'), 0o2711);
  copyFileSync('/bin/true', p('bin', 'cap'));
  chmodSync(p('bin', 'cap'), 0o755);
  run('setcap', ['cap_net_raw,cap_net_bind_service+ep', p('bin', 'cap')]);

  writeFileSync(p('bin', 'owned'), 'owned by 1234:5678\n');
  chownSync(p('bin', 'owned'), 1234, 5678);
  mkdirSync(p('home', 'user'), { recursive: true });
  chownSync(p('home', 'user'), 1000, 1000);

  // Hard links: three names, one inode; the first in walk order is the file.
  writeFileSync(p('usr', 'lib', 'linked-a'), 'one inode, three names\n');
  linkSync(p('usr', 'lib', 'linked-a'), p('usr', 'lib', 'linked-b'));
  linkSync(p('usr', 'lib', 'linked-a'), p('bin', 'linked-c'));

  symlinkSync('usr/lib', p('lib'));
  symlinkSync('/etc/passwd', p('bin', 'absolute-link'));
  symlinkSync('/no/such/file', p('bin', 'dangling-link'));
  symlinkSync(LONG_TARGET, p('bin', 'long-target-link'));

  run('mkfifo', [p('etc', 'fifo')]);
  run('mknod', [p('etc', 'null'), 'c', '1', '3']);
  run('mknod', [p('etc', 'big-dev'), 'c', '300', '70000']); // major > 255, minor > 255: the split encoding
  run('mknod', [p('etc', 'loop9'), 'b', '7', '9']);

  mkdirSync(p(LONG_DIR), { recursive: true });
  writeFileSync(p(LONG_DIR, 'file-in-long-dir.txt'), 'long path\n');
  writeFileSync(p(LONG_DIR, LONG_NAME), 'long name\n');
  mkdirSync(p(UNICODE_DIR));
  writeFileSync(p(UNICODE_DIR, UNICODE_NAME), 'non-ASCII name\n');
  writeFileSync(Buffer.concat([Buffer.from(`${root}/${UNICODE_DIR}/`), BINARY_NAME]), 'non-UTF-8 name\n');
}

export interface TreeEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  target?: string;
  sha256?: string;
  rdev?: number;
  ino: number;
  capability?: string;
}

/** Every entry under `root` (not root itself), keyed by relative path (latin1 of the raw bytes). */
export function readTree(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const visit = (dir: Buffer, rel: string) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const relPath = rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1');
      const st = lstatSync(path);
      const e: TreeEntry = {
        type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo'
          : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isSocket() ? 'socket' : 'other',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: st.isFile() ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        ino: st.ino,
      };
      if (e.type === 'symlink') e.target = readlinkSync(path, { encoding: 'buffer' }).toString('latin1');
      if (e.type === 'file') {
        e.sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
        const cap = capabilityOf(path);
        if (cap) e.capability = cap;
      }
      if (e.type === 'char' || e.type === 'block') e.rdev = st.rdev;
      out.set(relPath, e);
      if (e.type === 'dir') visit(path, relPath);
    }
  };
  visit(Buffer.from(root), '');
  return out;
}

function capabilityOf(path: Buffer): string | undefined {
  const r = spawnSync('getfattr', ['--absolute-names', '-h', '-n', 'security.capability', '-e', 'hex', path.toString()], { encoding: 'utf8' });
  if (r.error) throw new Error('getfattr is needed to check security.capability (Debian package attr)');
  const m = /security\.capability=0x([0-9a-f]+)/.exec(r.stdout);
  return m ? m[1] : undefined;
}

export interface CompareOptions {
  /** The uid/gid every entry should have (`--owner`); default: the source's. */
  owner?: { uid: number; gid: number };
  /** The mtime every entry should have after clamping (seconds); default: not compared. */
  clampMtime?: number;
}

/**
 * Asserts that `unpacked` (what umoci made of the image) holds exactly what `source` holds:
 * same paths, types, modes (setuid/setgid/sticky included), owners, sizes, link targets,
 * contents, device numbers, capabilities, and hard links sharing one inode. Sockets are skipped.
 */
export function assertSameTree(source: string, unpacked: string, options: CompareOptions = {}): void {
  requireTool('getfattr');
  const want = readTree(source);
  const got = readTree(unpacked);
  for (const [path, e] of want) if (e.type === 'socket') want.delete(path);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), 'the same paths');
  for (const [path, w] of want) {
    const g = got.get(path)!;
    const what = `${path}`;
    assert.equal(g.type, w.type, `${what}: type`);
    assert.equal(g.mode.toString(8), w.mode.toString(8), `${what}: mode`);
    assert.equal(g.uid, options.owner ? options.owner.uid : w.uid, `${what}: uid`);
    assert.equal(g.gid, options.owner ? options.owner.gid : w.gid, `${what}: gid`);
    assert.equal(g.size, w.size, `${what}: size`);
    assert.equal(g.target, w.target, `${what}: link target`);
    assert.equal(g.sha256, w.sha256, `${what}: content`);
    assert.equal(g.rdev, w.rdev, `${what}: device number`);
    assert.equal(g.capability, w.capability, `${what}: security.capability`);
    if (options.clampMtime !== undefined && g.type !== 'symlink') {
      assert.equal(g.mtime, Math.min(w.mtime, options.clampMtime), `${what}: mtime`);
    }
  }
  // Hard links: paths sharing an inode in the source share one in the unpacked tree.
  const groups = (tree: Map<string, TreeEntry>) => {
    const byIno = new Map<number, string[]>();
    for (const [path, e] of tree) if (e.type !== 'dir') byIno.set(e.ino, [...(byIno.get(e.ino) ?? []), path]);
    return [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort().join(' | ')).sort();
  };
  assert.deepEqual(groups(got), groups(want), 'hard links');
}

/** Every file of a layout directory with its bytes' hash, to prove a failed build changed nothing. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[];
  } catch {
    return { '(missing)': '' };
  }
  for (const name of names.sort()) {
    const st = lstatSync(join(dir, name));
    out[name] = st.isFile() ? createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') : st.isDirectory() ? 'dir' : 'other';
  }
  return out;
}

/** Sets every mtime (and atime) in a tree, to build "the same tree" with other timestamps. */
export function touchTree(root: string, seconds: number): void {
  const visit = (dir: Buffer) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const st = lstatSync(path);
      if (st.isDirectory()) visit(path);
      if (!st.isSymbolicLink()) utimesSync(path, seconds, seconds);
    }
  };
  visit(Buffer.from(root));
  utimesSync(root, seconds, seconds);
}

/** The image (manifest, config, layers) a tag points at in a layout. */
export function readImage(layout: string, tag = 'latest') {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(desc, `tag ${tag} in ${layout}`);
  const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const manifest = JSON.parse(readFileSync(blob(desc.digest), 'utf8')) as {
    mediaType: string;
    config: { digest: string; size: number; mediaType: string };
    layers: { digest: string; size: number; mediaType: string }[];
    annotations?: Record<string, string>;
  };
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as Record<string, any>;
  return { digest: desc.digest, manifest, config, blob, index };
}

/**
 * A layout (umoci init and new) whose image `tag` has `layer`'s bytes, exactly, as its one gzip
 * layer, of the tar `diffId` names: a layer another tool wrote as no build of ocipush would
 * (`umoci raw add-layer` takes a plain tar and compresses it itself). Returns the layer's digest.
 */
export function layoutWithLayerBytes(layout: string, tag: string, layer: Buffer, diffId: string): string {
  requireTool('umoci');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:${tag}`]);
  const image = readImage(layout, tag);
  const put = (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    writeFileSync(image.blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const layerDescriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(layer) };
  const config = put(Buffer.from(JSON.stringify({ ...image.config, rootfs: { type: 'layers', diff_ids: [diffId] } })));
  const manifest = put(Buffer.from(JSON.stringify({ ...image.manifest, config: { ...image.manifest.config, ...config }, layers: [layerDescriptor] })));
  const index = image.index as { manifests: { digest: string; size?: number }[] };
  index.manifests = index.manifests.map((d) => (d.digest === image.digest ? { ...d, ...manifest } : d));
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  return layerDescriptor.digest;
}

/** `umoci unpack` of a tag into `bundle`; returns the rootfs path. */
export function umociUnpack(layout: string, tag: string, bundle: string): string {
  requireTool('umoci');
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

export function validateLayout(layout: string): void {
  requireTool('oci-image-tool');
  // This oci-image-tool has no --type imageLayout validator; --type image autodetects the layout
  // and checks the index, every manifest, config and layer of every ref.
  run('oci-image-tool', ['validate', '--type', 'image', layout]);
}

/** Runs `change` on `path`, then puts its mtime back to the nanosecond (`touch -r`): only ctime can tell. */
export function keepingMtime(path: string, scratch: string, change: () => void): void {
  const ref = join(scratch, 'mtime-ref');
  run('touch', ['-r', path, ref]);
  const before = statSync(path, { bigint: true });
  change();
  run('touch', ['-h', '-r', ref, path]);
  const after = statSync(path, { bigint: true });
  assert.equal(after.mtimeNs, before.mtimeNs);
  assert.equal(after.size, before.size);
  assert.notEqual(after.ctimeNs, before.ctimeNs);
}
