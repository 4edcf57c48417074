import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, writeFileSync, symlinkSync, linkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { extract, type Header as Headers } from 'tar-stream';
import { TarProducer } from '../../src/layer/tar.js';
import { TarType, writeHeader, type TarHeader } from '../../src/layer/tar-header.js';
import { scanXattrs } from '../../src/layer/xattrs.js';
import { attachXattrs, walk, type FsEntry } from '../../src/layer/walk.js';
import { OcipushError } from '../../src/errors.js';
import { run, requireTool, runCli, tempDir } from '../support/tools.js';
import { LONG_DIR, LONG_NAME, LONG_TARGET, UNICODE_DIR, UNICODE_NAME, makeRichRootfs, pseudoRandom, readImage, umociUnpack } from '../assemble/support.js';

function archive(entries: Iterable<FsEntry>, chunkSize?: number): Buffer {
  const producer = new TarProducer(entries[Symbol.iterator](), { clampMtime: 0, ...(chunkSize ? { chunkSize } : {}) });
  const chunks: Buffer[] = [];
  for (let c = producer.next(); c; c = producer.next()) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Reads an archive with tar-stream (the tar library the project builds on). */
async function parse(bytes: Buffer): Promise<{ header: Headers; body: Buffer }[]> {
  const out: { header: Headers; body: Buffer }[] = [];
  const ex = extract({ filenameEncoding: 'latin1' } as object);
  ex.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: unknown) => { parts.push(c as Buffer); });
    stream.on('end', () => { out.push({ header, body: Buffer.concat(parts) }); next(); });
  });
  const done = new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); });
  ex.end(bytes);
  await done;
  return out;
}

test('a rich tree archives the same whatever the chunk size, and tar-stream and GNU tar read it', async () => {
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    makeRichRootfs(root);
    const xattrs = await scanXattrs(root, (m) => assert.fail(m));
    const walked = () => [...walk(root)].map((e) => { attachXattrs(e, xattrs); return e; });
    const small = archive(walked(), 64 * 1024);
    const large = archive(walked());
    assert.ok(small.equals(large), 'chunking never changes the bytes');
    assert.equal(large.length % 512, 0);

    const entries = await parse(large);
    // tar-stream decodes pax names as UTF-8, ustar names as latin1 (all ASCII here).
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    const names = entries.map((e) => e.header.name);
    assert.ok(names.includes('bin/'), 'directories end with a slash');
    assert.ok(!names.some((n) => n.startsWith('./') || n.startsWith('/')), 'relative names without ./');

    assert.equal(byName.get(`${LONG_DIR}/${LONG_NAME}`)?.header.type, 'file', 'a 200-byte name via pax');
    assert.equal(byName.get(`${UNICODE_DIR}/${UNICODE_NAME}`)?.body.toString(), 'non-ASCII name\n');
    assert.ok(names.some((n) => n.startsWith(`${UNICODE_DIR}/bin`)), 'a name that is not UTF-8 is archived');
    assert.equal(byName.get('bin/long-target-link')?.header.linkname, LONG_TARGET);
    assert.equal(byName.get('bin/dangling-link')?.header.linkname, '/no/such/file');
    assert.equal(byName.get('bin/setuid')?.header.mode, 0o4755);
    assert.equal(byName.get('tmp/')?.header.mode, 0o1777);
    assert.equal(byName.get('bin/owned')?.header.uid, 1234);
    assert.equal(byName.get('bin/owned')?.header.uname, '');
    assert.equal(byName.get('etc/big-dev')?.header.devmajor, 300);
    assert.equal(byName.get('etc/big-dev')?.header.devminor, 70000);
    assert.equal(byName.get('etc/fifo')?.header.type, 'fifo');
    assert.equal(byName.get('usr/lib/big.bin')?.body.length, 3 * 1024 * 1024 + 17);
    const cap = (byName.get('bin/cap')?.header.pax as Record<string, string> | undefined)?.['SCHILY.xattr.security.capability'];
    assert.ok(cap, 'the capability travels as a pax xattr record');
    // Hard links: the first in walk order is the file, the others point at it.
    assert.equal(byName.get('bin/linked-c')?.header.type, 'file');
    assert.equal(byName.get('usr/lib/linked-a')?.header.type, 'link');
    assert.equal(byName.get('usr/lib/linked-a')?.header.linkname, 'bin/linked-c');
    for (const e of entries) assert.equal(e.header.mtime?.getTime(), 0, `${e.header.name}: mtime clamped`);

    requireTool('tar');
    writeFileSync(join(tmp.path, 'layer.tar'), large);
    const listing = run('tar', ['-tvf', join(tmp.path, 'layer.tar')]);
    assert.match(listing, new RegExp(`${LONG_NAME}`));
    assert.match(listing, /bin\/linked-c/);
    // GNU tar shows the non-UTF-8 name (hdrcharset=BINARY) byte for byte, escaped.
    assert.ok(listing.includes(`${UNICODE_DIR}/bin\\377\\376.dat`), 'the non-UTF-8 name keeps its bytes');
  } finally {
    await tmp.cleanup();
  }
});

test('entries come in byte order of their names, depth first', async () => {
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    for (const d of ['a', 'a-b', 'B', 'é']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'a', 'z'), '');
    writeFileSync(join(root, 'Z'), '');
    symlinkSync('a', join(root, 'link-to-dir'));
    const names = [...walk(root)].map((e) => e.name.toString());
    assert.deepEqual(names, ['B/', 'Z', 'a/', 'a/z', 'a-b/', 'link-to-dir', 'é/']);
  } finally {
    await tmp.cleanup();
  }
});

test('headers beyond ustar: pax size for 8 GiB and more, large ids, base-256 fallbacks', async () => {
  const size = 8 * 1024 ** 3 + 1;
  const h: TarHeader = { name: Buffer.from('huge.img'), type: TarType.File, mode: 0o644, uid: 3_000_000, gid: 0, size, mtime: 0 };
  const buf = Buffer.alloc(4096);
  const n = writeHeader(h, buf, 0);
  assert.equal(n, 1536, 'a pax header, its records, then the ustar header');
  const records = buf.subarray(512, 1024).toString('latin1').replace(/\0+$/, '');
  assert.match(records, /\d+ size=8589934593\n/);
  assert.match(records, /\d+ uid=3000000\n/);
  for (const line of records.trimEnd().split('\n')) {
    assert.equal(Number(line.split(' ')[0]), Buffer.byteLength(line) + 1, `record length of "${line}"`);
  }
  assert.equal(buf[1024 + 124], 0x80, 'size field in base-256 as well');
  // tar-stream reads the header (pax size) without needing the content.
  const header = await new Promise<Headers>((resolve, reject) => {
    const ex = extract();
    ex.on('entry', (hd, stream) => { resolve(hd); stream.resume(); ex.destroy(); });
    ex.on('error', reject);
    ex.write(buf.subarray(0, n));
  });
  assert.equal(header.size, size);
  assert.equal(header.uid, 3_000_000);
});

test('a file that changes size while it is read fails the build, naming it', async () => {
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    mkdirSync(root);
    writeFileSync(join(root, 'grows'), pseudoRandom(5000));
    writeFileSync(join(root, 'shrinks'), 'short');
    linkSync(join(root, 'grows'), join(root, 'other-name'));
    const entries = [...walk(root)];
    const grows = entries.find((e) => e.name.toString() === 'grows')!;
    const shrinks = entries.find((e) => e.name.toString() === 'shrinks')!;
    for (const entry of [{ ...grows, size: 4000 }, { ...shrinks, size: 100 }]) {
      assert.throws(() => archive([entry]), (err: unknown) => {
        assert.ok(err instanceof OcipushError);
        assert.equal(err.code, 'EREAD');
        assert.match(err.message, new RegExp(`${entry.path.toString()}: file changed size while being read`));
        return true;
      });
    }
  } finally {
    await tmp.cleanup();
  }
});

test('a file swapped for a fifo after the walk fails the build, naming it, instead of blocking the process for good', async () => {
  requireTool('mkfifo');
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    mkdirSync(root);
    writeFileSync(join(root, 'file'), 'walked as a file\n');
    // In a process of its own: an open that blocks would stop this one's timers too.
    const script = `
      import { execFileSync } from 'node:child_process';
      import { rmSync } from 'node:fs';
      import { walk } from ${JSON.stringify(new URL('../../src/layer/walk.js', import.meta.url).href)};
      import { TarProducer } from ${JSON.stringify(new URL('../../src/layer/tar.js', import.meta.url).href)};
      const entries = [...walk(${JSON.stringify(root)})];
      rmSync(${JSON.stringify(join(root, 'file'))});
      execFileSync('mkfifo', [${JSON.stringify(join(root, 'file'))}]);
      const producer = new TarProducer(entries[Symbol.iterator](), { clampMtime: 0 });
      try { while (producer.next()); console.log('archived'); } catch (err) { console.log(err.code, err.message); }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'the open did not block');
    assert.equal(r.stdout.trim(), `EREAD ${join(root, 'file')}: file changed size while being read (expected 17 bytes); is something writing to the rootfs?`, r.stderr);
  } finally {
    await tmp.cleanup();
  }
});

test('an mtime before 1970 stays in the layer, as umoci insert and GNU tar keep it: min(mtime, T), never raised to 1970', async () => {
  requireTool('umoci');
  const tmp = await tempDir();
  try {
    const root = join(tmp.path, 'rootfs');
    mkdirSync(join(root, 'dir'), { recursive: true });
    writeFileSync(join(root, 'dir', 'old'), 'from 1960\n');
    writeFileSync(join(root, 'recent'), 'from now\n');
    // Dates: utimes takes a negative number of seconds for "now".
    const at = (seconds: number) => new Date(seconds * 1000);
    utimesSync(join(root, 'dir', 'old'), at(-315619200), at(-315619200)); // 1960-01-01
    utimesSync(join(root, 'dir'), at(-1), at(-1)); // 1969-12-31 23:59:59
    for (const [created, recent] of [['1577836800', 1577836800], [undefined, 0]] as const) {
      const layout = join(tmp.path, `layout-${created ?? 'default'}`);
      const r = runCli(['build', root, '--layout', layout, '--tag', 't', '-q', ...(created ? ['--created', created] : [])]);
      assert.equal(r.status, 0, r.stderr);
      const unpacked = umociUnpack(layout, 't', join(tmp.path, `bundle-${created ?? 'default'}`));
      assert.equal(lstatSync(join(unpacked, 'dir', 'old')).mtimeMs, -315619200_000, 'umoci unpack: 1960');
      assert.equal(lstatSync(join(unpacked, 'dir')).mtimeMs, -1000, 'umoci unpack: one second before 1970');
      assert.equal(lstatSync(join(unpacked, 'recent')).mtimeMs, recent * 1000, 'a later time is clamped to T');
      const { manifest, blob } = readImage(layout, 't');
      const listing = run('tar', ['-tvzf', blob(manifest.layers[0]!.digest), '--full-time', '--numeric-owner']);
      assert.match(listing, /1960-01-01 00:00:00 dir\/old\n/, 'GNU tar reads the pax mtime');
    }
  } finally {
    await tmp.cleanup();
  }
});
