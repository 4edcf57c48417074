import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { droppingGlobalHeaders } from '../../src/layer/global-headers.js';
import { requireTool, run, tempDir } from '../support/tools.js';

async function through(bytes: Buffer, piece: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.subarray(at, at + piece));
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(pieces).pipe(droppingGlobalHeaders())) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

test('droppingGlobalHeaders cuts out each pax global header, its header block and data, however the bytes are split; GNU tar lists the same entries', async () => {
  requireTool('tar');
  const tmp = await tempDir();
  try {
    const tree = join(tmp.path, 'tree');
    mkdirSync(join(tree, 'a'), { recursive: true });
    writeFileSync(join(tree, 'a', 'one'), '1\n');
    writeFileSync(join(tree, 'a', 'two'), Buffer.alloc(70_000, 0x32));
    const tar = join(tmp.path, 'joined.tar');
    const second = join(tmp.path, 'second.tar');
    // A comment longer than a block: the global header's data spans two.
    run('tar', ['--format=posix', '--pax-option=comment=first', '--numeric-owner', '-C', tree, '-cf', tar, 'a/one']);
    run('tar', ['--format=posix', `--pax-option=comment=${'c'.repeat(600)}`, '--numeric-owner', '-C', tree, '-cf', second, 'a/two']);
    run('tar', ['-A', '-f', tar, second]);
    const bytes = readFileSync(tar);
    // Where GNU tar put them: in front (one block of data), and before a/two (two blocks).
    assert.equal(bytes[156], 0x67);
    assert.equal(bytes[3072 + 156], 0x67);
    const want = Buffer.concat([bytes.subarray(1024, 3072), bytes.subarray(3072 + 1536)]);
    for (const piece of [1, 7, 100, 511, 512, 513, 1000, 4099, 65_536, bytes.length]) {
      assert.ok((await through(bytes, piece)).equals(want), `split every ${piece} bytes`);
    }
    const out = join(tmp.path, 'out.tar');
    writeFileSync(out, want);
    assert.equal(run('tar', ['-tvf', out]), run('tar', ['-tvf', tar]));
    // Not a tar: passed on as it is, for the reader after it to name.
    const junk = Buffer.alloc(2000, 0x41);
    assert.ok((await through(junk, 300)).equals(junk));
  } finally {
    await tmp.cleanup();
  }
});
