import { mock, test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TarProducer, pumpTar } from '../../src/layer/tar.js';
import { buildLayer } from '../../src/layer/layer.js';
import { walk } from '../../src/layer/walk.js';
import { ChecksumTable } from '../../src/supply-chain/sbom/checksum-table.js';
import { EntryKind, LayerEntries, LayerFilesRecorder } from '../../src/supply-chain/sbom/layer-entries.js';
import { cleanPath } from '../../src/supply-chain/sbom/paths.js';
import { scanImageFiles } from '../../src/supply-chain/sbom/scan.js';
import { plainFiles } from './image-files-support.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import type { ImageManifest } from '../../src/oci/manifest.js';
import type { ReadOnlyStorage } from '../../src/content/storage.js';
import { LONG_DIR, makeRichRootfs, pseudoRandom } from '../assemble/support.js';
import { run, tempDir } from '../support/tools.js';

/** An ELF executable with Go 1.18+ inline build info whose magic straddles a 64 KiB tar chunk. */
function goLikeBinary(size: number, magicAt: number): Buffer {
  const bin = pseudoRandom(size, 'go');
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]).copy(bin, 0);
  const uvarint = (n: number) => (n < 0x80 ? Buffer.from([n]) : Buffer.from([(n & 0x7f) | 0x80, n >> 7]));
  const header = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(header, 0);
  header[14] = 8;
  header[15] = 0x2;
  const modinfo = `${'0'.repeat(16)}path\texample.com/tool\nmod\texample.com/tool\tv1.2.3\th1:abc=\ndep\tgolang.org/x/text\tv0.14.0\th1:def=\n${'1'.repeat(16)}`;
  const blob = Buffer.concat([header, uvarint(8), Buffer.from('go1.22.1'), uvarint(modinfo.length), Buffer.from(modinfo)]);
  blob.copy(bin, magicAt);
  return bin;
}

test('the files a build records while it writes a tar are the files streaming the tar back finds, and no layer is read for them', async () => {
  const tmp = await tempDir('ocipush-sbom-layer-files-');
  try {
    const root = join(tmp.path, 'rootfs');
    makeRichRootfs(root);
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: hello\nStatus: install ok installed\nVersion: 1\n\n');
    writeFileSync(join(root, 'usr/lib/tool'), goLikeBinary(300_000, 65_536 * 2 - 5), { mode: 0o755 });
    writeFileSync(join(root, 'usr/lib/tiny-exec'), Buffer.from([0x7f, 0x45]), { mode: 0o755 });
    mkdirSync(join(root, 'wh'));
    writeFileSync(join(root, 'wh/.wh.other'), '');

    const recorder = new LayerFilesRecorder();
    // 64 KiB chunks: files and the Go magic cross chunk boundaries.
    const producer = new TarProducer(walk(root), { clampMtime: 1_700_000_000, chunkSize: 64 * 1024, observer: recorder });
    const tarPath = join(tmp.path, 'layer.tar');
    const known = () => recorder.entries;
    assert.equal(known(), undefined, 'nothing is known before the archive ends');
    await pumpTar(producer, createWriteStream(tarPath));
    assert.ok((known()?.entryCount ?? 0) > 10);

    const layer: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'0'.repeat(64)}`, size: 0 };
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: layer, layers: [layer] } as ImageManifest;
    const layoutLike: ReadOnlyStorage = { exists: async () => true, fetch: async () => createReadStream(tarPath) as Readable };
    const unreadable: ReadOnlyStorage = { exists: async () => true, fetch: async () => { throw new Error('a recorded layer must not be read'); } };
    const streamed = plainFiles(await scanImageFiles(layoutLike, manifest));
    const recorded = plainFiles(await scanImageFiles(unreadable, manifest, { knownEntries: known }));
    assert.deepEqual(recorded, streamed);
    const tool = recorded.find((f) => f.path === 'usr/lib/tool');
    assert.equal(tool?.go?.main?.version, 'v1.2.3');
    assert.ok(recorded.find((f) => f.path === 'var/lib/dpkg/status')?.content);
    assert.ok(!recorded.some((f) => f.path.includes('.wh.')));
  } finally {
    await tmp.cleanup();
  }
});

test('the compression workers hash the files that lie whole in one block, inline on one thread too, and every digest is sha1sum\'s and sha256sum\'s', async () => {
  const tmp = await tempDir('ocipush-sbom-worker-digests-');
  const digestsTaken = mock.method(LayerEntries.prototype, 'setDigests');
  try {
    const root = join(tmp.path, 'rootfs');
    mkdirSync(join(root, 'src'), { recursive: true });
    // About 3 MiB of small files: several 1 MiB blocks, and files that cross from one into the next.
    for (let i = 0; i < 300; i++) writeFileSync(join(root, 'src', `f${i}`), pseudoRandom(1 + ((i * 7919) % 20_000), `small-${i}`));
    writeFileSync(join(root, 'large'), pseudoRandom(2_500_000, 'large'));
    writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(root, 'empty'), '');
    const expected = new Map<string, string>();
    for (const tool of ['sha1sum', 'sha256sum']) {
      for (const line of run('sh', ['-c', `find . -type f | sort | xargs ${tool}`], { cwd: root }).trim().split('\n')) {
        const [digest, path] = line.split(/ +/) as [string, string];
        expected.set(`${tool} ${path.slice(2)}`, digest);
      }
    }
    for (const threads of [2, 1]) {
      digestsTaken.mock.resetCalls();
      const recorder = new LayerFilesRecorder();
      const layer = await buildLayer({ kind: 'directory', path: root }, { dir: tmp.path, where: 'test' }, { clampMtime: 1_700_000_000, compression: 'gzip', threads, observer: recorder });
      await layer.blob.discard();
      const entries = recorder.entries!;
      assert.equal(entries.fileCount, 303);
      // All but the large file, the executable (looked into for Go build info), the empty one and the few split by a block's end.
      assert.ok(digestsTaken.mock.callCount() > 280, `${threads} thread(s): ${digestsTaken.mock.callCount()} files hashed where they were compressed`);
      for (let f = 0; f < entries.fileCount; f++) {
        assert.equal(entries.sha1(f), expected.get(`sha1sum ${entries.filePath(f)}`), entries.filePath(f));
        assert.equal(entries.sha256(f), expected.get(`sha256sum ${entries.filePath(f)}`), entries.filePath(f));
      }
    }
  } finally {
    digestsTaken.mock.restore();
    await tmp.cleanup();
  }
});

test('a tar-file layer (GNU or pax, plain or gzip) is read for the SBOM from the bytes the build hashes for its diff_id, as streaming it back reads it', async () => {
  const tmp = await tempDir('ocipush-sbom-tar-layer-');
  try {
    const root = join(tmp.path, 'rootfs');
    makeRichRootfs(root);
    writeFileSync(join(root, LONG_DIR, 'package-lock.json'), '{}');
    writeFileSync(join(root, 'usr/lib/tool'), goLikeBinary(1_200_000, 1_048_576 - 700), { mode: 0o755 });
    const cases: { file: string; args: string[]; compression: 'none' | 'gzip' }[] = [
      { file: 'gnu.tar', args: ['--format=gnu', '-cf'], compression: 'none' },
      { file: 'pax.tar.gz', args: ['--format=posix', '-czf'], compression: 'gzip' },
    ];
    for (const c of cases) {
      const tarPath = join(tmp.path, c.file);
      run('tar', ['-C', root, ...c.args, tarPath, '.']);
      const recorder = new LayerFilesRecorder();
      const built = await buildLayer({ kind: 'tar', path: tarPath, compression: c.compression }, { dir: tmp.path, where: tmp.path }, { clampMtime: 1_700_000_000, compression: 'gzip', observer: recorder, threads: 1 });
      const layoutLike: ReadOnlyStorage = { exists: async () => true, fetch: async () => createReadStream(built.blob.tempPath) as Readable };
      const unreadable: ReadOnlyStorage = { exists: async () => true, fetch: async () => { throw new Error('a recorded layer must not be read'); } };
      const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: built.descriptor, layers: [built.descriptor] } as ImageManifest;
      const known = () => recorder.entries;
      assert.ok(known(), `${c.file}: every entry seen`);
      const recorded = plainFiles(await scanImageFiles(unreadable, manifest, { knownEntries: known }));
      assert.deepEqual(recorded, plainFiles(await scanImageFiles(layoutLike, manifest)), c.file);
      assert.ok(recorded.some((f) => f.path.startsWith(`${LONG_DIR}/`)), `${c.file}: the long names`);
      assert.equal(recorded.find((f) => f.path === 'usr/lib/tool')?.go?.main?.path, 'example.com/tool');
      await built.blob.discard();
    }
  } finally {
    await tmp.cleanup();
  }
});

test('a checksum table gives back each file\'s digests as it grows, whether they came as bytes, as strings of bytes or as finished hashes', () => {
  const table = new ChecksumTable();
  const rows: { row: number; data: Buffer }[] = [];
  // More rows than the table's first buffer holds, so it grows (and copies) several times.
  for (let i = 0; i < 5000; i++) {
    const data = Buffer.from(`file ${i}`);
    const sha1 = createHash('sha1').update(data);
    const sha256 = createHash('sha256').update(data);
    const row = i % 3 === 0 ? table.add(sha1.digest('binary'), sha256.digest('binary'))
      : i % 3 === 1 ? table.add(sha1.digest(), sha256.digest())
        : table.add(sha1, sha256);
    rows.push({ row, data });
  }
  for (const { row, data } of rows) {
    assert.equal(table.sha1(row), createHash('sha1').update(data).digest('hex'));
    assert.equal(table.sha256(row), createHash('sha256').update(data).digest('hex'));
  }
});

test('a recorded entry\'s path is its tar name cleaned as cleanPath cleans the string, bytes that are not UTF-8 read as U+FFFD', () => {
  const names = ['usr/bin/', './usr/lib/x', '/etc/passwd', 'a//b', 'a/./b', 'a/../b', '..', '.', '...', 'a/...', '.hidden/.x', 'x/', '/', ''];
  const raw = [...names.map((n) => Buffer.from(n)), Buffer.from([0x61, 0x2f, 0xff, 0x62]), Buffer.from('caf\u00e9/\u{1F600}')];
  const entries = new LayerEntries();
  for (const name of raw) {
    const entry = entries.record(name, EntryKind.other);
    assert.equal(entries.path(entry), cleanPath(name.toString('utf8')), JSON.stringify(name.toString('utf8')));
  }
  const whiteout = entries.record(Buffer.from('./dir/.wh.gone'), EntryKind.file);
  assert.equal(entries.kind(whiteout), EntryKind.whiteout);
  assert.equal(entries.fileCount, 0, 'a whiteout is never a file');
});
