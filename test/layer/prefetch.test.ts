import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prefetchXattrs, scanXattrs } from '../../src/layer/xattrs.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertSameTree, makeRichRootfs, umociUnpack } from '../assemble/support.js';

test('ocipush build scans capabilities ahead of the build: a file capability still reaches the layer', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    makeRichRootfs(rootfs);
    // Named through a symlink and a relative path: the scan must name files as the walk does.
    const link = join(tmp.path, 'via-link');
    run('ln', ['-s', 'rootfs', link]);
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', './via-link', '--layout', layout, '--tag', 't', '-q'], { cwd: tmp.path });
    assert.equal(r.status, 0, r.stderr);
    const unpacked = umociUnpack(layout, 't', join(tmp.path, 'bundle'));
    assertSameTree(rootfs, unpacked, { clampMtime: 0 });
  } finally {
    await tmp.cleanup();
  }
});

test('a scan started ahead is the one the build takes, with its warnings', async () => {
  requireTool('setcap');
  const getfattr = requireTool('getfattr');
  const tmp = await tempDir();
  const path = process.env.PATH;
  try {
    const root = realpathSync(tmp.path);
    const tree = join(root, 'tree');
    mkdirSync(tree);
    const file = join(tree, 'ping');
    writeFileSync(file, 'binary');
    run('setcap', ['cap_net_raw+ep', file]);
    // The real getfattr, which says when it has read the tree: on a loaded machine it may take
    // longer than any fixed wait.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const scanned = join(root, 'scanned');
    writeFileSync(join(bin, 'getfattr'), `#!/bin/sh\n"${getfattr}" "$@"\nstatus=$?\n: > "${scanned}"\nexit $status\n`);
    chmodSync(join(bin, 'getfattr'), 0o755);
    process.env.PATH = `${bin}:${path}`;
    prefetchXattrs(tree);
    process.env.PATH = path;
    while (!existsSync(scanned)) await new Promise((resolve) => setTimeout(resolve, 10));
    run('setcap', ['-r', file]); // after the scan ran: only the scan started ahead still sees it
    const warnings: string[] = [];
    const early = await scanXattrs(tree, (m) => warnings.push(m));
    assert.ok(early.get(file), 'the prefetched result');
    assert.equal(warnings.length, 0);
    const later = await scanXattrs(tree, (m) => warnings.push(m));
    assert.equal(later.get(file), undefined, 'taken once: the next scan reads the tree again');
  } finally {
    process.env.PATH = path;
    await tmp.cleanup();
  }
});

test('a scan started ahead that no build takes does not hold the process open', async () => {
  const tmp = await tempDir();
  try {
    // A getfattr that takes longer than the spawn's time limit: the process must exit without
    // waiting for it. (The limit is far above any start of Node, however slow the machine.)
    const bin = join(tmp.path, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'getfattr'), '#!/bin/sh\nexec sleep 150\n');
    chmodSync(join(bin, 'getfattr'), 0o755);
    const url = new URL('../../src/layer/xattrs.js', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { prefetchXattrs } from ${JSON.stringify(url)};
      prefetchXattrs(${JSON.stringify(tmp.path)});
      console.log('started');
    `], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.error, undefined, 'the process waited for the scan no one took');
    assert.equal(r.stdout.trim(), 'started');
    assert.equal(r.status, 0);
  } finally {
    await tmp.cleanup();
  }
});

test('nothing is started ahead when the layout has layer-cache entries (a rebuild may read no file)', async () => {
  const tmp = await tempDir();
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'a'), 'a\n');
    const cached = join(tmp.path, 'cached');
    mkdirSync(join(cached, '.ocipush-cache', 'layers'), { recursive: true });
    writeFileSync(join(cached, '.ocipush-cache', 'layers', `${'a'.repeat(32)}-${'b'.repeat(64)}.json`), '{}');
    const prefetchUrl = new URL('../../src/layer/prefetch.js', import.meta.url).href;
    const poolUrl = new URL('../../src/layer/compress/pool.js', import.meta.url).href;
    const workers = (layout: string, cache: boolean) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
        import { prepareDirectoryLayers } from ${JSON.stringify(prefetchUrl)};
        import { compressionPool } from ${JSON.stringify(poolUrl)};
        await prepareDirectoryLayers([${JSON.stringify(rootfs)}], { compression: 'gzip', threads: 2 }, { layout: ${JSON.stringify(layout)}, cache: ${cache} });
        console.log(compressionPool().workerCount);
      `], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(workers(join(tmp.path, 'new-layout'), true), '2');
    assert.equal(workers(cached, true), '0');
    assert.equal(workers(cached, false), '2', '--no-cache reads every file: start ahead');
  } finally {
    await tmp.cleanup();
  }
});
