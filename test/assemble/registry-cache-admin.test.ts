import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/tools.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { pseudoRandom } from './support.js';
import { listCacheEntries, pruneCacheEntries } from '../../src/assemble/registry-cache-admin.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { Repository } from '../../src/registry/repository.js';

/**
 * `cache ls` and `cache prune` while others use the same cache repository: CI jobs that each end
 * with a prune, or a prune running while builds write entries. What another process removed
 * between this one's listing and its reads or deletes is gone already, never an error.
 */
describe('cache ls / cache prune with others at work in the same repository', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let cacheRepo: string;

  before(async () => {
    tmp = await tempDir('ocipush-cache-admin-');
    registry = await startRegistry();
    cacheRepo = `${registry.host}/ci/cache`;
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  const buildEntry = (name: string, repo = cacheRepo): void => {
    const tree = join(tmp.path, name);
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, name), pseudoRandom(32 * 1024, name));
    const r = runCli(['build', tree, '--layout', join(tmp.path, `${name}-layout`), '--owner', '0:0', '--cache-repo', repo, '--cache-write', '--quiet'],
      { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(r.status, 0, r.stderr);
  };

  it('a cache repository no build has written yet: ls lists nothing and prune removes nothing, each with a warning, exit 0 (a scheduled prune before the first build)', async () => {
    const fresh = `${registry.host}/ci/never-written`;
    const ls = runCli(['cache', 'ls', fresh, '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as { entries: unknown[] }).entries, []);
    assert.equal(ls.stderr, `ocipush: warning: ${fresh}: no such repository yet, so no cache entries\n`);
    const prune = runCli(['cache', 'prune', fresh, '--keep', '3']);
    assert.equal(prune.status, 0, prune.stderr);
    assert.match(prune.stderr, /removed 0 of 0 cache entries/);
    // A registry that is not there is still an error.
    const down = runCli(['cache', 'ls', '127.0.0.1:9/ci/cache']);
    assert.equal(down.status, 1, down.stderr);
  });

  it('an entry removed after the listing is skipped by ls and counted as removed by prune', async () => {
    buildEntry('a');
    buildEntry('b');
    buildEntry('c');
    const client = await connectRegistry(registry.host, {});
    try {
      const repository = new Repository(client, 'ci/cache');
      const listed = await listCacheEntries(repository, client);
      assert.equal(listed.length, 3);
      const [gone, vanishing] = listed;
      // Another prune deleted one entry's manifest (the registry drops its tag with it)…
      run('curl', ['-sf', '-X', 'DELETE', `${registry.url}/v2/ci/cache/manifests/${gone!.manifest.digest}`]);
      // …and the tag of another vanishes between the listing of tags and the read of its manifest
      // (its tag directory is still listed by distribution, its link is gone: 404 on the read).
      rmSync(join(registry.storageDir, 'docker/registry/v2/repositories/ci/cache/_manifests/tags', vanishing!.tag, 'current'), { recursive: true });
      const ls = runCli(['cache', 'ls', cacheRepo, '--json']);
      assert.equal(ls.status, 0, ls.stderr);
      assert.deepEqual((JSON.parse(ls.stdout) as { entries: { tag: string }[] }).entries.map((e) => e.tag), [listed[2]!.tag]);

      const removed = await pruneCacheEntries(repository, client, listed, { keep: 0 });
      assert.deepEqual(removed.map((e) => e.tag), listed.map((e) => e.tag));
      const after = runCli(['cache', 'ls', cacheRepo, '--json']);
      assert.equal(after.status, 0, after.stderr);
      assert.deepEqual((JSON.parse(after.stdout) as { entries: unknown[] }).entries, []);
    } finally {
      await client.close();
    }
  });
  it('a tag of the entry form whose manifest is no entry ocipush reads is one line, and the others are listed and pruned', async () => {
    buildEntry('d');
    buildEntry('e');
    const listed = (JSON.parse(runCli(['cache', 'ls', cacheRepo, '--json']).stdout) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
    assert.equal(listed.length, 2);
    // The registry takes an OCI manifest whose one layer has size -1: a damaged entry.
    const url = `${registry.url}/v2/ci/cache/manifests/${listed[0]}`;
    const manifest = await (await fetch(url, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).json() as { layers: { size: number }[] };
    manifest.layers[0]!.size = -1;
    const put = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: JSON.stringify(manifest) });
    assert.equal(put.status, 201, await put.text());

    const ls = runCli(['cache', 'ls', cacheRepo, '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as { entries: { tag: string }[] }).entries.map((e) => e.tag), [listed[1]]);
    assert.deepEqual(ls.stderr.trimEnd().split('\n'), [`ocipush: warning: cache entry ${listed[0]}: layers[0]: not a valid descriptor: size -1 is negative; not an entry ocipush reads, left out`]);
    const prune = runCli(['cache', 'prune', cacheRepo, '--keep', '0', '--json']);
    assert.equal(prune.status, 0, prune.stderr);
    assert.deepEqual((JSON.parse(prune.stdout) as { removed: { tag: string }[] }).removed.map((e) => e.tag), [listed[1]]);
    const status = (tag: string) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-I', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', `${registry.url}/v2/ci/cache/manifests/${tag}`]);
    assert.equal(status(listed[1]!), '404', 'the pruned entry is gone');
    assert.equal(status(listed[0]!), '200', 'the damaged one is left as it is');
  });

  it('the entries\' manifests are read, and pruned ones deleted, several at once; the listing keeps its order', async () => {
    const repo = `${registry.host}/ci/wide`;
    for (const name of ['p', 'q', 'r']) buildEntry(name, repo);
    const expected = (JSON.parse(runCli(['cache', 'ls', repo, '--json']).stdout) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
    assert.equal(expected.length, 3);
    const proxy = await startFaultProxy({ target: registry.url });
    const client = await connectRegistry(proxy.host, {});
    try {
      const repository = new Repository(client, 'ci/wide');
      // The first manifest read is answered only once a second one is asked for: one at a time, it never is, and the hold times out.
      proxy.addFault({ method: 'GET', path: /\/v2\/ci\/wide\/manifests\//, fault: { kind: 'hold-response', until: /\/v2\/ci\/wide\/manifests\//, timeoutMs: 10_000 } });
      const listed = await listCacheEntries(repository, client);
      assert.deepEqual(listed.map((e) => e.tag), expected);
      assert.deepEqual(proxy.requests().filter((r) => r.released).map((r) => r.released), ['match']);

      proxy.addFault({ method: 'DELETE', path: /\/v2\/ci\/wide\/manifests\//, fault: { kind: 'hold-response', until: /\/v2\/ci\/wide\/manifests\//, timeoutMs: 10_000 } });
      proxy.clearRequests();
      const removed = await pruneCacheEntries(repository, client, listed, { keep: 0 });
      assert.deepEqual(removed.map((e) => e.tag), expected);
      assert.deepEqual(proxy.requests().filter((r) => r.released).map((r) => r.released), ['match']);
      const after = runCli(['cache', 'ls', repo, '--json']);
      assert.deepEqual((JSON.parse(after.stdout) as { entries: unknown[] }).entries, []);
    } finally {
      await client.close();
      await proxy.stop();
    }
  });
});
