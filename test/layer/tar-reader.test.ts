import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { TarReader } from '../../src/layer/tar-reader.js';
import type { ObservedEntry } from '../../src/layer/tar.js';
import { makeRichRootfs } from '../assemble/support.js';
import { run, tempDir } from '../support/tools.js';

const KINDS: Record<string, string> = { file: 'file', 'contiguous-file': 'file', link: 'hardlink', symlink: 'symlink', directory: 'dir', 'character-device': 'char', 'block-device': 'block', fifo: 'fifo' };

/** What tar-stream (the reference reader) sees in a tar: name, kind, link, size, sha of the content. */
async function referenceEntries(path: string): Promise<string[]> {
  const out: string[] = [];
  const x = extract();
  const done = (async () => {
    for await (const e of x) {
      const chunks: Buffer[] = [];
      for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
      const h = e.header;
      out.push([h.name.replace(/\/$/, ''), KINDS[h.type ?? ''] ?? 'other', h.linkname ?? '', h.size ?? 0, h.mode, Buffer.concat(chunks).toString('base64').slice(0, 40)].join('|'));
    }
  })();
  createReadStream(path).pipe(x);
  await done;
  return out;
}

function readerEntries(bytes: Buffer, chunk: number): string[] {
  const out: string[] = [];
  let ended = false;
  const reader = new TarReader({
    entry(e: ObservedEntry) {
      const row = [e.name.toString('utf8').replace(/\/$/, ''), e.type, e.linkname?.toString('utf8') ?? '', e.size, e.mode];
      if (e.type !== 'file') { out.push([...row, ''].join('|')); return undefined; }
      const chunks: Buffer[] = [];
      return {
        update: (b: Buffer) => chunks.push(Buffer.from(b)),
        end: () => { out.push([...row, Buffer.concat(chunks).toString('base64').slice(0, 40)].join('|')); },
      };
    },
    end() { ended = true; },
  });
  for (let at = 0; at < bytes.length; at += chunk) reader.write(bytes.subarray(at, at + chunk));
  reader.end();
  assert.ok(ended);
  return out;
}

test('TarReader reads GNU and pax tars as tar-stream does, however the bytes are split', async () => {
  const tmp = await tempDir('ocipush-tar-reader-');
  try {
    const root = join(tmp.path, 'rootfs');
    makeRichRootfs(root);
    for (const format of ['gnu', 'posix', 'ustar']) {
      const path = join(tmp.path, `${format}.tar`);
      // ustar cannot hold every name: tar leaves those out with a warning, and exits 2.
      try { run('tar', ['-C', root, `--format=${format}`, '-cf', path, '.']); } catch { /* partial archive, still a tar */ }
      const want = await referenceEntries(path);
      const bytes = readFileSync(path);
      const files = (rows: string[]) => rows.filter((r) => r.split('|')[1] === 'file');
      for (const chunk of [1, 511, 4096, 1 << 20]) {
        const got = readerEntries(bytes, chunk);
        assert.deepEqual(got, want, `${format}, ${chunk}-byte chunks`);
        assert.ok(files(got).length > 5);
      }
    }
  } finally {
    await tmp.cleanup();
  }
});

test('TarReader refuses what is not a tar, and a tar cut inside an entry', () => {
  const reader = new TarReader({ entry: () => undefined, end: () => {} });
  assert.throws(() => reader.write(Buffer.alloc(512, 0x41)), /checksum/);
  const header = Buffer.alloc(512);
  header.write('file', 0);
  header.write('0000644\0', 100);
  header.write('00000000012\0', 124);
  header[156] = 0x30;
  header.write('        ', 148);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const cut = new TarReader({ entry: () => undefined, end: () => {} });
  cut.write(header);
  assert.throws(() => cut.end(), /unexpected end of data/);
});
