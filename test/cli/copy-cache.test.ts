import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { pseudoRandom } from '../assemble/support.js';
import { cacheTag } from '../../src/assemble/registry-cache.js';
import { copy } from '../../src/lib/copy.js';
import { validate } from './json-schema.js';

interface BuildJson {
  digest: string;
  layers: { digest: string; diffId: string; source: string }[];
}

/**
 * `build --cache-repo` without `--cache-write` leaves its entries to whatever puts the layers in a
 * registry: `copy oci:DIR:TAG REGISTRY/REPO:TAG` (the crane/skopeo way) as well as `push`. Each
 * "runner" has its own HOME and layout; the second is served from the real registry's cache.
 */
describe('copy from a layout into a registry writes the pending registry cache entries', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let cacheRepo: string;

  const runner = (name: string, args: string[]): RunResult => {
    const home = join(tmp.path, name, 'home');
    mkdirSync(home, { recursive: true });
    return runCli(args, { env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000' } });
  };
  const build = (name: string, tree: string): { json: BuildJson; layout: string } => {
    const layout = join(tmp.path, name, 'layout');
    const copyOfTree = join(tmp.path, name, 'tree');
    cpSync(tree, copyOfTree, { recursive: true });
    const result = runner(name, ['build', copyOfTree, '--layout', layout, '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', cacheRepo]);
    assert.equal(result.status, 0, result.stderr);
    return { json: JSON.parse(result.stdout) as BuildJson, layout };
  };
  const treeOf = (name: string): string => {
    const tree = join(tmp.path, `tree-${name}`);
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, name), pseudoRandom(256 * 1024, name));
    return tree;
  };

  before(async () => {
    tmp = await tempDir('ocipush-copy-cache-');
    registry = await startRegistry();
    cacheRepo = `${registry.host}/ci/cache`;
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('ocipush copy oci:DIR:TAG REGISTRY/REPO:TAG: the entry is written (mounted), and a fresh runner is served from it', async () => {
    const tree = treeOf('copied');
    const first = build('runner1', tree);
    const layer = first.json.layers[0]!;
    assert.equal(layer.source, 'built');
    await registry.forgetAccessLog();
    const copied = runner('runner1', ['copy', `oci:${first.layout}:app:1`, `${registry.host}/ci/app:1`, '--json']);
    assert.equal(copied.status, 0, copied.stderr);
    assert.match(copied.stderr, /wrote 1 layer cache entry/);
    const report = JSON.parse(copied.stdout) as { cacheEntries?: number };
    assert.equal(report.cacheEntries, 1, 'copy --json says it too');
    assert.deepEqual(validate('copy.schema.json', report), []);
    const log = await registry.settledAccessLog();
    assert.ok(log.some((e) => e.method === 'POST' && e.status === 201 && decodeURIComponent(e.uri).includes(`mount=${layer.digest}&from=ci/app`)), 'mounted into the cache repository');
    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRepo}:${cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' })}`])) as { layers: { digest: string }[] };
    assert.equal(entry.layers[0]!.digest, layer.digest);

    const second = build('runner2', tree);
    assert.equal(second.json.layers[0]!.source, 'registry-cache');
    assert.equal(second.json.digest, first.json.digest);
    // Written once: nothing is pending for the next copy of the same layout.
    const again = runner('runner1', ['copy', `oci:${first.layout}:app:1`, `${registry.host}/ci/app:2`, '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /layer cache entr/);
    assert.equal((JSON.parse(again.stdout) as { cacheEntries?: number }).cacheEntries, undefined);
  });

  it('the library\'s copy from oci:DIR writes them too (cacheEntries in its result)', async () => {
    const tree = treeOf('library');
    const first = build('runner3', tree);
    const result = await copy({ from: `oci:${first.layout}:app:1`, to: `${registry.host}/ci/lib:1`, credentials: false });
    assert.equal(result.cacheEntries, 1);
    const second = build('runner4', tree);
    assert.equal(second.json.layers[0]!.source, 'registry-cache');
    assert.equal(second.json.digest, first.json.digest);
  });
});
