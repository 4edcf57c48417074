import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { pseudoRandom } from './support.js';
import { cacheTag } from '../../src/assemble/registry-cache.js';

interface BuildJson {
  digest: string;
  layers: { digest: string; diffId: string; size: number; source: string }[];
}

/**
 * The registry layer cache when an entry is not what ocipush wrote: fresh runners (own HOME,
 * layout and copy of the trees, one SOURCE_DATE_EPOCH) against the real registry; the images
 * checked with skopeo against the first runner's.
 */
describe('build --cache-repo: a cache entry the registry took that is no cache entry', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let cacheRepo: string;
  let trees: string[];

  const build = (name: string, extra: string[] = []): { result: RunResult; json?: BuildJson; layout: string } => {
    const home = join(tmp.path, name, 'home');
    mkdirSync(home, { recursive: true });
    const layout = join(tmp.path, name, 'layout');
    const copies = trees.map((t, i) => {
      const copy = join(tmp.path, name, `tree${i}`);
      cpSync(t, copy, { recursive: true });
      return copy;
    });
    const result = runCli(['build', ...copies, '--layout', layout, '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', cacheRepo, ...extra],
      { env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000' } });
    return { result, layout, ...(result.status === 0 ? { json: JSON.parse(result.stdout) as BuildJson } : {}) };
  };
  const skopeoDigest = (layout: string) => (JSON.parse(run('skopeo', ['inspect', `oci:${layout}:app:1`])) as { Digest: string }).Digest;
  const entryOf = (diffId: string) => `${registry.url}/v2/ci/cache/manifests/${cacheTag(diffId as `sha256:${string}`, { compression: 'gzip' })}`;

  before(async () => {
    tmp = await tempDir('ocipush-registry-cache-faults-');
    registry = await startRegistry();
    cacheRepo = `${registry.host}/ci/cache`;
    trees = ['base', 'app'].map((name) => {
      const dir = join(tmp.path, name);
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, 'data.bin'), pseudoRandom(96 * 1024, name));
      return dir;
    });
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('an entry that does not parse is a miss for its layer alone, one line, and --cache-write replaces it', async () => {
    const first = build('runner1', ['--cache-write']);
    assert.equal(first.result.status, 0, first.result.stderr);
    const [base, app] = first.json!.layers;
    // The registry accepts an OCI manifest whose layer has size -1: no descriptor ocipush reads.
    const manifest = await (await fetch(entryOf(base!.diffId), { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).json() as { layers: { size: number }[] };
    manifest.layers[0]!.size = -1;
    const put = await fetch(entryOf(base!.diffId), { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: JSON.stringify(manifest) });
    assert.equal(put.status, 201, await put.text());

    const second = build('runner2', ['--cache-write']);
    assert.equal(second.result.status, 0, second.result.stderr);
    const warnings = second.result.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 1, second.result.stderr);
    assert.match(warnings[0]!, new RegExp(`layer cache ${cacheRepo}: entry ${cacheTag(base!.diffId as `sha256:${string}`, { compression: 'gzip' })} cannot be read \\(.*not a valid descriptor.*\\); rebuilding the layer$`));
    assert.deepEqual(second.json!.layers.map((l) => l.source), ['built', 'registry-cache'], 'the other layer still comes from the cache');
    assert.equal(skopeoDigest(second.layout), skopeoDigest(first.layout), 'the image a cold build gives');
    assert.deepEqual(second.json!.layers.map((l) => l.digest), [base!.digest, app!.digest]);

    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRepo}:${cacheTag(base!.diffId as `sha256:${string}`, { compression: 'gzip' })}`])) as { layers: { digest: string; size: number }[] };
    assert.deepEqual(entry.layers.map((l) => [l.digest, l.size]), [[base!.digest, base!.size]], 'the entry was written again');
    const third = build('runner3');
    assert.equal(third.result.status, 0, third.result.stderr);
    assert.deepEqual(third.json!.layers.map((l) => l.source), ['registry-cache', 'registry-cache']);
    assert.doesNotMatch(third.result.stderr, /warning/);
    assert.equal(skopeoDigest(third.layout), skopeoDigest(first.layout));
  });
});
