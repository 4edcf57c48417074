import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeTree, generateFixture } from '../../scripts/bench/fixture.js';
import { parseSize } from '../../scripts/bench/options.js';
import { ocipushCommands } from '../../scripts/bench/tools.js';
import { REPO_ROOT, requireTool, tempDir } from '../support/tools.js';

const BENCH = join(REPO_ROOT, 'dist', 'scripts', 'bench.js');
const ROW_IDS = [
  'build', 'layer-size', 'rebuild', 'build-f-rebuild', 'build-sbom', 'push-cold', 'push-warm', 'small-push-cold', 'small-push-warm', 'small-push-cold-rtt', 'small-push-warm-rtt', 'rss-build', 'rss-build-flat', 'rss-build-f', 'rss-push', 'rss-push-flat', 'startup',
  'build-vs-gzip', 'layer-size-vs-gzip', 'build-vs-pigz', 'layer-size-vs-pigz', 'build-vs-sha256sum',
];

// A smoke run so the script never rots: the figures of so small a tree mean nothing, the shape does.
test('npm run bench on a tiny fixture, one iteration: every step runs and the JSON has every row', async () => {
  for (const tool of ['umoci', 'skopeo', 'docker-registry', 'pigz']) requireTool(tool);
  const tmp = await tempDir('ocipush-bench-test-');
  try {
    const out = join(tmp.path, 'results', 'bench.json');
    const work = join(tmp.path, 'work');
    const r = spawnSync(process.execPath, [
      BENCH, '--size', '1MB', '--files', '40', '--runs', '1', '--startup-runs', '1', '--anchors', '--memory-reference', '500KB',
      '--mirror-tags', '3', '--cache-dir', join(tmp.path, 'cache'), '--work-dir', work, '--out', out,
    ], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `bench failed:\n${r.stderr}`);
    assert.match(r.stdout, /^\| step +\| ocipush median +\| anchor +\| anchor median +\| ratio +\| goal +\| result +\| cpu ratio +\|$/m);
    // Registry to registry is timed once the CLI has `ocipush copy` (issue 11).
    const hasCopy = ocipushCommands(join(REPO_ROOT, 'bin', 'ocipush.js')).has('copy');
    assert.match(r.stdout, new RegExp(`^goals met: \\d+/${hasCopy ? 18 : 17} `, 'm'));

    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.schema, 'ocipush-bench/1');
    assert.ok(result.command.startsWith('npm run bench -- --size 1MB'));
    assert.equal(typeof result.machine.cpus, 'number');
    assert.equal(result.machine.node, process.version);
    for (const tool of ['ocipush', 'umoci', 'skopeo', 'dockerRegistry']) assert.equal(typeof result.tools[tool], 'string', tool);
    assert.equal(result.fixture.kind, 'generated');
    assert.deepEqual(
      { files: result.fixture.tree.files, bytes: result.fixture.tree.bytes },
      { files: 40, bytes: 1_000_000 },
    );
    // The image's filesystem (ocipush rootfs against umoci raw unpack), then registry to registry, then a repository mirrored.
    assert.deepEqual(result.rows.map((row: { id: string }) => row.id), ROW_IDS.flatMap((id) => (id === 'startup' ? [id, 'rootfs', ...(hasCopy ? ['copy', 'mirror'] : [])] : [id])));
    for (const row of result.rows) {
      assert.ok(typeof row.ocipush === 'number' && row.ocipush > 0, `${row.id}: ocipush figure ${row.ocipush}`);
      assert.ok(typeof row.anchor === 'number' && row.anchor > 0, `${row.id}: anchor figure ${row.anchor}`);
      assert.equal(row.ratio, row.ocipush / row.anchor, row.id);
      assert.ok(['pass', 'miss', 'n/a'].includes(row.result), row.id);
      assert.equal(row.result === 'n/a', row.goal === null, `${row.id}: judged exactly when it has a goal`);
      assert.ok(row.cpuRatio === null || row.cpuRatio > 0, `${row.id}: cpu ratio ${row.cpuRatio}`);
    }
    assert.deepEqual(result.checks, { rebuildSameLayer: [true], dockerfileRebuildSameLayer: [true], ocipushPushedLayoutManifest: [true], ocipushPushedSmallImage: [true, true] });
    assert.match(r.stdout, new RegExp(`ocipush on Node ${process.version.replace(/\./g, '\\.')}\\)`));
    for (const name of [
      'ocipush-build', 'ocipush-rebuild', 'umoci-build', 'ocipush-push-cold', 'ocipush-push-warm', 'skopeo-push-cold', 'skopeo-push-warm',
      'ocipush-build-reference', 'ocipush-push-reference',
      'small-ocipush-push-cold', 'small-ocipush-push-warm', 'small-skopeo-push-cold', 'small-skopeo-push-warm',
      // The same pushes through a relay adding 20 ms of round trip (--rtt's default).
      'small-rtt-ocipush-push-cold', 'small-rtt-ocipush-push-warm', 'small-rtt-skopeo-push-cold', 'small-rtt-skopeo-push-warm',
      'ocipush-rootfs', 'umoci-raw-unpack',
      ...(hasCopy ? ['copy-ocipush', 'copy-skopeo', 'mirror-ocipush', 'mirror-skopeo'] : []),
    ]) {
      assert.equal(result.samples[name]?.length, 1, name);
    }
    assert.deepEqual(readdirSync(work), [], 'the scratch layouts are removed');
  } finally {
    await tmp.cleanup();
  }
});

test('the fixture is the same tree for the same spec, and another for another seed', async () => {
  const tmp = await tempDir('ocipush-bench-fixture-');
  try {
    const spec = { bytes: 300_000, files: 30, seed: 's1' };
    const a = generateFixture(join(tmp.path, 'a'), spec);
    generateFixture(join(tmp.path, 'b'), spec);
    generateFixture(join(tmp.path, 'c'), { ...spec, seed: 's2' });
    assert.equal(treeHash(join(tmp.path, 'a')), treeHash(join(tmp.path, 'b')));
    assert.notEqual(treeHash(join(tmp.path, 'a')), treeHash(join(tmp.path, 'c')));

    const stats = describeTree(join(tmp.path, 'a'));
    assert.deepEqual(
      { files: stats.files, bytes: stats.bytes, dirs: stats.dirs, symlinks: stats.symlinks },
      { files: 30, bytes: 300_000, dirs: a.dirs, symlinks: a.symlinks },
    );
    assert.equal(a.text.files + a.binary.files + a.random.files, 30);
    assert.ok(a.binary.files >= 1 && a.random.files >= 1 && a.symlinks >= 1);
  } finally {
    await tmp.cleanup();
  }
});

test('--size takes 1000-based KB/MB/GB and 1024-based K/M/G/KiB/MiB/GiB', () => {
  assert.equal(parseSize('500MB'), 500e6);
  assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseSize('40M'), 40 * 1024 ** 2);
  assert.equal(parseSize('1.5GB'), 1.5e9);
  assert.equal(parseSize('1234'), 1234);
  assert.throws(() => parseSize('lots'), /--size "lots"/);
  assert.throws(() => parseSize('5 parsecs'), /--size "5 parsecs"/);
});

/** Every entry's path, type, mode, mtime, size, link target and content hash, in a stable order. */
function treeHash(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      hash.update(`${path.slice(root.length)}\0${st.mode}\0${st.mtimeMs}\0${st.size}\0`);
      if (st.isSymbolicLink()) hash.update(readlinkSync(path));
      else if (st.isFile()) hash.update(readFileSync(path));
      else if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return hash.digest('hex');
}
