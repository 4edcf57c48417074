import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zstdAvailable } from '../../src/layer/codec.js';
import { requireTool, tempDir } from '../support/tools.js';
import { build, unpackedTree, writeTree } from './support.js';

/**
 * ADD of local archives whose compression is told by more than a leading magic number. docker
 * build (BuildKit's unpack over go-archive's compression.Detect) takes a file that starts with a
 * zstd skippable frame as zstd, and so unpacks what pzstd writes (a skippable frame holding the
 * frames' sizes, then the frames).
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-archive-');
});
after(async () => {
  await tmp?.cleanup();
});

describe('ADD of a zstd tar', () => {
  let ctx: string;
  before(() => {
    requireTool('zstd');
    requireTool('pzstd');
    ctx = join(tmp.path, 'ctx');
    writeTree(ctx, { 'src/dir/one': { text: 'one\n', mode: 0o750 }, 'src/two': 'two\n' });
    const sh = (script: string) => execFileSync('sh', ['-c', script], { cwd: ctx });
    sh('tar -C src -cf - . | zstd -q -c > one-frame.tar.zst');
    sh('tar -C src -cf - . | pzstd -q -c > parallel.tar.zst');
    assert.equal(execFileSync('od', ['-An', '-tx4', '-N4', join(ctx, 'parallel.tar.zst')]).toString().trim(), '184d2a50', 'pzstd starts with a skippable frame');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD one-frame.tar.zst /z1/\nADD parallel.tar.zst /z2/\n' });
  });

  const expected = {
    '/z1/': 'dir 0755 0:0', '/z1/dir/': 'dir 0755 0:0', '/z1/dir/one': 'file 0750 0:0 one\n', '/z1/two': 'file 0644 0:0 two\n',
    '/z2/': 'dir 0755 0:0', '/z2/dir/': 'dir 0755 0:0', '/z2/dir/one': 'file 0750 0:0 one\n', '/z2/two': 'file 0644 0:0 two\n',
  };

  it('one zstd frame, and pzstd\'s output (a skippable frame first), are both unpacked', () => {
    const layout = join(tmp.path, 'oci');
    build(ctx, layout, ['--tag', 't']);
    assert.deepEqual(unpackedTree(layout, 't', join(tmp.path, 'bundle')), expected);
  });

  it('with Node\'s own zstd and no zstd command, too', { skip: !zstdAvailable() && 'Node has no zstd here' }, () => {
    const empty = join(tmp.path, 'no-tools');
    mkdirSync(empty);
    const layout = join(tmp.path, 'oci-in-process');
    build(ctx, layout, ['--tag', 't'], undefined, { PATH: empty });
    assert.deepEqual(unpackedTree(layout, 't', join(tmp.path, 'bundle-in-process')), expected);
  });
});
