import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, requireTool, run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { runCliAsync } from '../cli/registry-support.js';
import { failWith, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pseudoRandom } from './support.js';
import { cacheTag, RegistryLayerCache } from '../../src/assemble/registry-cache.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { MediaType } from '../../src/oci/media-types.js';
import { createReadStream } from 'node:fs';

interface BuildJson {
  digest: string;
  layers: { digest: string; diffId: string; size: number; uncompressedSize: number; source: string }[];
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
      writeFileSync(join(dir, name, 'data.bin'), pseudoRandom((name === 'base' ? 96 : 64) * 1024, name));
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
  it('an entry that describes another layer (its blob and its tar size) under this diff_id is refused: never a wrong layer', async () => {
    const first = build('runner4', ['--cache-write']);
    assert.equal(first.result.status, 0, first.result.stderr);
    const [base, app] = first.json!.layers;
    // Written by a tool that got its layers mixed up: base's tag, naming app's blob and tar size.
    const cache = await RegistryLayerCache.open(cacheRepo, { connect: (host) => connectRegistry(host, {}), warn: () => {} });
    const blob = join(first.layout, 'blobs', 'sha256', app!.digest.slice('sha256:'.length));
    const source = { size: app!.size, open: async () => createReadStream(blob), openRange: async () => { throw new Error('not chunked'); } };
    assert.ok(await cache!.store(base!.diffId as `sha256:${string}`, { compression: 'gzip' }, { mediaType: MediaType.OciLayerGzip, digest: app!.digest as `sha256:${string}`, size: app!.size }, app!.uncompressedSize, source));
    await cache!.close();
    assert.notEqual(app!.uncompressedSize, base!.uncompressedSize);

    const second = build('runner5');
    assert.equal(second.result.status, 0, second.result.stderr);
    assert.deepEqual(second.json!.layers.map((l) => [l.digest, l.source]), [[base!.digest, 'built'], [app!.digest, 'registry-cache']]);
    assert.match(second.result.stderr, /entry .* does not describe this layer; rebuilding it/);
    assert.equal(skopeoDigest(second.layout), skopeoDigest(first.layout), 'the image a cold build gives');
  });
});

/**
 * A cache repository the runner may only read (a CI job's token with pull on the shared cache):
 * the build and the push still succeed, with one line about the cache, not one per layer.
 */
describe('build --cache-repo: a cache repository the runner cannot write', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  let context: string;

  // Asynchronous: the token issuer answers from this process while the CLI runs.
  const ci = (home: string, args: string[], input?: string): Promise<RunResult> =>
    runCliAsync(args, { ...(input !== undefined ? { input } : {}), env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000' } });
  const skopeoDigest = (layout: string) => (JSON.parse(run('skopeo', ['inspect', `oci:${layout}:app:1`])) as { Digest: string }).Digest;
  const cacheLines = (r: RunResult) => r.stderr.split('\n').filter((l) => l.includes('layer cache'));

  before(async () => {
    tmp = await tempDir('ocipush-registry-cache-readonly-');
    issuer = await startTokenIssuer({ users: { ci: { password: 'ci-secret', access: (name) => (name === 'ci/cache' ? ['pull'] : ['pull', 'push']) } } });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    context = join(tmp.path, 'context');
    mkdirSync(context);
    for (const name of ['one', 'two', 'three']) writeFileSync(join(context, name), pseudoRandom(32 * 1024, name));
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY one /\nCOPY two /\nCOPY three /\n');
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  it('--cache-write and the push after a build are one warning each, and the image is a cold build\'s', async () => {
    const cold = join(tmp.path, 'cold');
    const coldBuild = await ci(join(tmp.path, 'cold-home'), ['build', '-f', join(context, 'Dockerfile'), context, '--layout', cold, '--tag', 'app:1', '--no-cache']);
    assert.equal(coldBuild.status, 0, coldBuild.stderr);
    const home = join(tmp.path, 'home');
    const login = await ci(home, ['login', registry.host, '-u', 'ci', '--password-stdin'], 'ci-secret');
    assert.equal(login.status, 0, login.stderr);
    const cacheRepo = `${registry.host}/ci/cache`;

    const written = join(tmp.path, 'written');
    const write = await ci(home, ['build', '-f', join(context, 'Dockerfile'), context, '--layout', written, '--tag', 'app:1', '--cache-repo', cacheRepo, '--cache-write']);
    assert.equal(write.status, 0, write.stderr);
    assert.equal(cacheLines(write).length, 1, write.stderr);
    assert.match(cacheLines(write)[0]!, /^ocipush: warning: layer cache .*: could not store .*insufficient_scope.*; writing nothing more to it$/);
    assert.equal(skopeoDigest(written), skopeoDigest(cold));

    const pending = join(tmp.path, 'pending');
    const build = await ci(home, ['build', '-f', join(context, 'Dockerfile'), context, '--layout', pending, '--tag', 'app:1', '--cache-repo', cacheRepo]);
    assert.equal(build.status, 0, build.stderr);
    assert.deepEqual(cacheLines(build), [], build.stderr);
    const push = await ci(home, ['push', `${registry.host}/ci/app:1`, '--layout', pending, '--tag', 'app:1']);
    assert.equal(push.status, 0, push.stderr);
    assert.equal(cacheLines(push).length, 1, push.stderr);
    const inspect = await promisify(execFile)('skopeo', ['inspect', '--tls-verify=false', '--creds', 'ci:ci-secret', `docker://${registry.host}/ci/app:1`]);
    const pushed = JSON.parse(inspect.stdout) as { Digest: string };
    assert.equal(pushed.Digest, skopeoDigest(cold));
  });
});

describe('build --cache-repo --cache-write: a cache registry that fails the build', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tree: string;

  // Asynchronous: the proxy answers from this process while the CLI runs.
  const runner = (name: string, args: string[]): Promise<RunResult> => {
    const home = join(tmp.path, name, 'home');
    mkdirSync(home, { recursive: true });
    return runCliAsync(args, { env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000' } });
  };
  const build = async (name: string, extra: string[] = []): Promise<{ result: RunResult; layout: string; json?: BuildJson }> => {
    const layout = join(tmp.path, name, 'layout');
    const copy = join(tmp.path, name, 'tree');
    cpSync(tree, copy, { recursive: true });
    const result = await runner(name, ['build', join(copy, 'a'), join(copy, 'b'), '--layout', layout, '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', `${proxy.host}/ci/cache`, ...extra]);
    return { result, layout, ...(result.status === 0 ? { json: JSON.parse(result.stdout) as BuildJson } : {}) };
  };

  before(async () => {
    tmp = await tempDir('ocipush-registry-cache-down-');
    registry = await startRegistry();
    proxy = await startFaultProxy({ target: registry.url });
    tree = join(tmp.path, 'tree');
    for (const name of ['a', 'b']) {
      mkdirSync(join(tree, name), { recursive: true });
      writeFileSync(join(tree, name, 'data.bin'), pseudoRandom(48 * 1024, `down-${name}`));
    }
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('lookups the registry answered 503 to: one warning, and the layers it never stored are written by the push that follows, for the next runner', async () => {
    // Every try of the lookup (Retry-After: 0, so no waiting), then a registry that is back.
    proxy.addFault(failWith(503, { method: 'GET', path: /^\/v2\/ci\/cache\/manifests\//, times: 50 }, { 'retry-after': '0' }));
    const first = await build('runner1', ['--cache-write']);
    assert.equal(first.result.status, 0, first.result.stderr);
    const warnings = first.result.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 1, first.result.stderr);
    assert.match(warnings[0]!, /layer cache .*ci\/cache: .*503.*; building without it$/);
    assert.deepEqual(first.json!.layers.map((l) => l.source), ['built', 'built']);
    proxy.clearFaults();

    const push = await runner('runner1', ['push', `${proxy.host}/ci/app:1`, '--layout', first.layout, '--tag', 'app:1']);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stderr, /^wrote 2 layer cache entries$/m);
    for (const layer of first.json!.layers) {
      const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/ci/cache:${cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' })}`])) as { layers: { digest: string }[] };
      assert.equal(entry.layers[0]!.digest, layer.digest);
    }
    const next = await build('runner2');
    assert.equal(next.result.status, 0, next.result.stderr);
    assert.deepEqual(next.json!.layers.map((l) => l.source), ['registry-cache', 'registry-cache']);
    assert.equal(next.json!.digest, first.json!.digest);
  });

  it('once the cache registry has failed, the layers after are read once, as a build without it reads them: no tar is made to ask it', async () => {
    requireTool('strace');
    proxy.addFault(failWith(503, { method: 'GET', path: /^\/v2\/ci\/cache\/manifests\//, times: 50 }, { 'retry-after': '0' }));
    const home = join(tmp.path, 'traced', 'home');
    const copy = join(tmp.path, 'traced', 'tree');
    mkdirSync(home, { recursive: true });
    cpSync(tree, copy, { recursive: true });
    const trace = join(tmp.path, 'traced', 'openat.log');
    // Asynchronous: the proxy answers from this process while the CLI runs.
    await promisify(execFile)('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, CLI,
      'build', join(copy, 'a'), join(copy, 'b'), '--layout', join(tmp.path, 'traced', 'layout'), '--owner', '0:0', '-q', '--cache-repo', `${proxy.host}/ci/cache`],
    { env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000' } });
    proxy.clearFaults();
    const opens = (file: string) => readFileSync(trace, 'utf8').split('\n').filter((line) => line.includes(`"${file}"`) && !line.includes('ENOENT')).length;
    assert.equal(opens(join(copy, 'a', 'data.bin')), 2, 'the first layer: hashed to ask the cache, which failed, then built');
    assert.equal(opens(join(copy, 'b', 'data.bin')), 1, 'the second layer: built, never hashed for a cache that no longer answers');
  });
});
