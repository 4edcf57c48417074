import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allocationSites, type HeapProfileNode } from '../../scripts/bench/allocations.js';
import { REPO_ROOT, tempDir } from '../support/tools.js';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });
const node = (f: HeapProfileNode['callFrame'], selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode => ({ callFrame: f, selfSize, children });

test('bytes per allocation site, a builtin or Node internal named with the ocipush frame that called it, largest first', () => {
  const header = frame('writeUstar', 'file:///repo/dist/src/layer/tar-header.js', 50);
  const head = node(frame('(root)'), 0, [
    node(header, 0, [
      node(frame('padStart'), 4096),
      node(frame('concat', 'node:buffer', 627), 1024, [node(frame('allocate', 'node:buffer', 480), 512)]),
    ]),
    node(frame('walk', 'file:///repo/dist/src/layer/walk.js', 27), 2048, [node(header, 0, [node(frame('padStart'), 4096)])]),
    node(frame('compileForInternalLoader', 'node:internal/bootstrap/realm', 382), 300),
  ]);
  assert.deepEqual(allocationSites({ head }), [
    { name: 'padStart < writeUstar layer/tar-header.js:51', bytes: 8192 },
    { name: 'walk layer/walk.js:28', bytes: 2048 },
    { name: 'concat node:buffer:628 < writeUstar layer/tar-header.js:51', bytes: 1024 },
    { name: 'allocate node:buffer:481 < writeUstar layer/tar-header.js:51', bytes: 512 },
    { name: 'compileForInternalLoader bootstrap/realm:383', bytes: 300 },
  ]);
  assert.equal(allocationSites({ head }, 2).length, 2);
});

test('profiles a real ocipush command in its own process, leaving its output alone', async () => {
  const tmp = await tempDir('ocipush-allocations-');
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'hello'), 'hello\n');
    for (const promoted of [[], ['--promoted']]) {
      const layout = join(tmp.path, `layout${promoted.length}`);
      const run = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bench', 'allocations.js'), ...promoted, '--top', '5', '--', 'build', rootfs, '--layout', layout, '--tag', 't', '--json'], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match((JSON.parse(run.stdout) as { digest: string }).digest, /^sha256:[0-9a-f]{64}$/, 'the command\'s JSON, on stdout as ever');
      assert.match(run.stderr, /^\d+\.\d MB sampled/m);
      assert.ok(run.stderr.split('\n').filter((l) => / MB {2}\S/.test(l)).length >= 1, run.stderr);
    }
  } finally {
    await tmp.cleanup();
  }
  const usage = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bench', 'allocations.js')], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^usage: allocations\.js/);
});
