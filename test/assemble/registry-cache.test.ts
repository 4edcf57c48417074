import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockAheadEnv, run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { pseudoRandom } from './support.js';
import { cacheTag, RegistryLayerCache } from '../../src/assemble/registry-cache.js';
import { DEFAULT_GZIP_LEVEL } from '../../src/layer/compress/index.js';
import { connectRegistry } from '../../src/registry/connect.js';
import { MediaType } from '../../src/oci/media-types.js';
import { validate } from '../cli/json-schema.js';

interface BuildJson {
  digest: string;
  layers: { digest: string; diffId: string; size: number; uncompressedSize: number; source: string }[];
}

/**
 * The registry as a shared layer cache: two "runners" (separate HOME, layouts and copies of the
 * tree, one SOURCE_DATE_EPOCH) against the real registry. Runner 2 compresses nothing the cache
 * has: its layout never holds the layer blob, and the push that follows moves no layer bytes.
 */
describe('build --cache-repo: a layer cache in the registry', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let cacheRepo: string;
  let tree: string;

  const runner = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): RunResult => {
    const home = join(tmp.path, name, 'home');
    mkdirSync(home, { recursive: true });
    return runCli(args, { env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), SOURCE_DATE_EPOCH: '1700000000', ...env } });
  };
  const build = (name: string, extra: string[] = [], treeDir = tree): { result: RunResult; json?: BuildJson; layout: string } => {
    const layout = join(tmp.path, name, `layout-${Math.random().toString(36).slice(2)}`);
    const copy = join(tmp.path, name, `tree-${Math.random().toString(36).slice(2)}`);
    cpSync(treeDir, copy, { recursive: true });
    const result = runner(name, ['build', copy, '--layout', layout, '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', cacheRepo, ...extra]);
    return { result, layout, ...(result.status === 0 ? { json: JSON.parse(result.stdout) as BuildJson } : {}) };
  };
  const blobFile = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));

  before(async () => {
    tmp = await tempDir('ocipush-registry-cache-');
    registry = await startRegistry();
    cacheRepo = `${registry.host}/ci/cache`;
    tree = join(tmp.path, 'tree');
    mkdirSync(join(tree, 'app'), { recursive: true });
    writeFileSync(join(tree, 'app', 'data.bin'), pseudoRandom(2 * 1024 * 1024));
    writeFileSync(join(tree, 'app', 'README'), 'cached through the registry\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('runner 2 gets runner 1\'s layer from the registry: same digest, nothing compressed, a push that moves no layer bytes', async () => {
    const first = build('runner1', ['--cache-write']);
    assert.equal(first.result.status, 0, first.result.stderr);
    assert.equal(first.json!.layers[0]!.source, 'built');
    const layer = first.json!.layers[0]!;
    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRepo}:${cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' })}`]));
    assert.equal(entry.artifactType, 'application/vnd.ocipush.layer-cache.v1');
    assert.equal(entry.layers[0].digest, layer.digest);
    assert.equal(entry.annotations['dev.ocipush.cache.diff-id'], layer.diffId);
    // The level the layer was made at, never "default": a later default must not find this entry.
    assert.equal(entry.annotations['dev.ocipush.cache.level'], String(DEFAULT_GZIP_LEVEL));
    assert.ok(cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' }).endsWith(`.gzip-${DEFAULT_GZIP_LEVEL}`));

    const second = build('runner2');
    assert.equal(second.result.status, 0, second.result.stderr);
    assert.equal(second.json!.digest, first.json!.digest, 'the same manifest on both runners');
    assert.equal(second.json!.layers[0]!.source, 'registry-cache');
    assert.match(second.result.stderr, /from the registry cache/);
    assert.equal(existsSync(blobFile(second.layout, layer.digest)), false, 'runner 2 compressed and stored no layer');

    await registry.forgetAccessLog();
    const push = runner('runner2', ['push', `${registry.host}/ci/app:1`, '--layout', second.layout, '--tag', 'app:1']);
    assert.equal(push.status, 0, push.stderr);
    const log = await registry.settledAccessLog();
    assert.ok(log.some((e) => e.method === 'POST' && e.status === 201 && decodeURIComponent(e.uri).includes(`mount=${layer.digest}&from=ci/cache`)), 'the layer is mounted from the cache repository');
    assert.ok(!log.some((e) => e.method === 'PATCH' || (e.method === 'PUT' && decodeURIComponent(e.uri).includes(`digest=${layer.digest}`))), 'no layer bytes uploaded');
    assert.equal(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/ci/app:1`])).Digest, first.json!.digest);
  });

  it('a tar with a pax global header (git archive\'s) is asked of the cache by the diff_id the build stores, without the header: runner 2 gets it', async () => {
    const src = join(tmp.path, 'git-tree');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'page.html'), '<p>hi</p>\n');
    const tar = join(tmp.path, 'site.tar');
    run('tar', ['--format=posix', '--pax-option=comment=0123abcd', '--numeric-owner', '-C', src, '-cf', tar, 'page.html']);
    const first = build('runner-g1', ['--cache-write'], tar);
    assert.equal(first.result.status, 0, first.result.stderr);
    const layer = first.json!.layers[0]!;
    assert.equal(layer.source, 'built');
    assert.equal(layer.uncompressedSize, readFileSync(tar).length - 1024, 'its global header (a block and its data) left out');
    const second = build('runner-g2', [], tar);
    assert.equal(second.result.status, 0, second.result.stderr);
    assert.equal(second.json!.layers[0]!.source, 'registry-cache');
    assert.equal(second.json!.digest, first.json!.digest);
  });

  it('an entry whose blob was deleted is a miss, rebuilt and repaired', async () => {
    const layer = build('runner3', ['--cache-write']).json!.layers[0]!;
    run('curl', ['-sf', '-X', 'DELETE', `${registry.url}/v2/ci/cache/blobs/${layer.digest}`]);
    const rebuilt = build('runner4', ['--cache-write']);
    assert.equal(rebuilt.result.status, 0, rebuilt.result.stderr);
    assert.equal(rebuilt.json!.layers[0]!.source, 'built');
    assert.match(rebuilt.result.stderr, /blob of entry .* is gone; rebuilding it/);
    assert.equal(build('runner5').json!.layers[0]!.source, 'registry-cache', 'the entry was repaired');
  });

  it('a layer taken from the registry cache whose blob is deleted before the push: one line naming the cache, then a rebuild that is right', async () => {
    const tree6 = join(tmp.path, 'tree6');
    mkdirSync(tree6, { recursive: true });
    writeFileSync(join(tree6, 'gone-later'), pseudoRandom(48 * 1024, 'gone-later'));
    const first = build('runner13a', ['--cache-write'], tree6);
    const hit = build('runner13', [], tree6);
    const layer = hit.json!.layers[0]!;
    assert.equal(layer.source, 'registry-cache');
    // A prune and the registry's GC (or a delete) between the build and its push.
    run('curl', ['-sf', '-X', 'DELETE', `${registry.url}/v2/ci/cache/blobs/${layer.digest}`]);
    const push = runner('runner13', ['push', `${registry.host}/ci/late:1`, '--layout', hit.layout, '--tag', 'app:1', '--quiet']);
    assert.equal(push.status, 1, push.stderr);
    const lines = push.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, push.stderr);
    assert.match(lines[0]!, new RegExp(`^ocipush: blob ${layer.digest} is not in .* and cannot be fetched from where the build found it \\(${registry.host}/ci/cache: .*404.*\\); build the image again$`));
    const rebuilt = runner('runner13', ['build', tree6, '--layout', hit.layout, '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', cacheRepo]);
    assert.equal(rebuilt.status, 0, rebuilt.stderr);
    assert.equal((JSON.parse(rebuilt.stdout) as BuildJson).layers[0]!.source, 'built');
    const again = runner('runner13', ['push', `${registry.host}/ci/late:1`, '--layout', hit.layout, '--tag', 'app:1', '--quiet']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/ci/late:1`])).Digest, first.json!.digest);
  });

  it('a layer from the registry cache gives the warnings its build gives (a socket left out)', async () => {
    const tree9 = join(tmp.path, 'tree9');
    mkdirSync(tree9, { recursive: true });
    writeFileSync(join(tree9, 'served'), pseudoRandom(16 * 1024, 'served'));
    run('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(tree9, 'app.sock')]);
    const direct = (name: string, extra: string[]) => runner(name, ['build', tree9, '--layout', join(tmp.path, name, 'layout'), '--owner', '0:0', '--json', '--cache-repo', cacheRepo, ...extra]);
    const first = direct('runner14a', ['--cache-write']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /app\.sock: socket skipped/);
    const hit = direct('runner14', []);
    assert.equal(hit.status, 0, hit.stderr);
    assert.equal((JSON.parse(hit.stdout) as BuildJson).layers[0]!.source, 'registry-cache');
    assert.equal((JSON.parse(hit.stdout) as BuildJson).digest, (JSON.parse(first.stdout) as BuildJson).digest);
    assert.match(hit.stderr, /warning: .*app\.sock: socket skipped \(a socket cannot be stored in a layer\)/);
    assert.equal(hit.stderr.split('socket skipped').length - 1, 1, 'said once');
  });

  it('an entry naming its blob with another media type than this build makes is refused, and the build is right', async () => {
    const tree2 = join(tmp.path, 'tree2');
    mkdirSync(tree2, { recursive: true });
    writeFileSync(join(tree2, 'other'), pseudoRandom(64 * 1024, 'other'));
    const honest = build('runner6', [], tree2);
    const layer = honest.json!.layers[0]!;
    // A tampered entry under the gzip tag that calls the (real, present) blob zstd.
    const cache = await RegistryLayerCache.open(cacheRepo, { connect: (host) => connectRegistry(host, {}), warn: () => {} });
    const source = { size: layer.size, open: async () => createReadStream(blobFile(honest.layout, layer.digest)), openRange: async () => { throw new Error('not chunked'); } };
    assert.ok(await cache!.store(layer.diffId as `sha256:${string}`, { compression: 'gzip' }, { mediaType: MediaType.OciLayerZstd, digest: layer.digest as `sha256:${string}`, size: layer.size }, layer.uncompressedSize, source));
    await cache!.close();
    const again = build('runner6b', [], tree2);
    assert.equal(again.result.status, 0, again.result.stderr);
    assert.equal(again.json!.layers[0]!.source, 'built');
    assert.match(again.result.stderr, /does not describe this layer; rebuilding it/);
    assert.equal(again.json!.digest, honest.json!.digest);
  });

  it('--no-cache asks no registry cache: a bad entry is not served, and with --cache-write it is mended', async () => {
    const mine = join(tmp.path, 'tree7');
    const elses = join(tmp.path, 'tree8');
    mkdirSync(mine, { recursive: true });
    mkdirSync(elses, { recursive: true });
    writeFileSync(join(mine, 'mine'), pseudoRandom(64 * 1024, 'mine'));
    writeFileSync(join(elses, 'else'), pseudoRandom(64 * 1024, 'else'));
    const honest = build('runner12', ['--cache-write'], mine);
    const layer = honest.json!.layers[0]!;
    const other = build('runner12a', ['--cache-write'], elses);
    const wrong = other.json!.layers[0]!;
    // A bad entry: this layer's diff_id and tar size, naming another (real, present, gzip) layer blob.
    const cache = await RegistryLayerCache.open(cacheRepo, { connect: (host) => connectRegistry(host, {}), warn: () => {} });
    const source = { size: wrong.size, open: async () => createReadStream(blobFile(other.layout, wrong.digest)), openRange: async () => { throw new Error('not chunked'); } };
    assert.ok(await cache!.store(layer.diffId as `sha256:${string}`, { compression: 'gzip' }, { mediaType: MediaType.OciLayerGzip, digest: wrong.digest as `sha256:${string}`, size: wrong.size }, layer.uncompressedSize, source));
    await cache!.close();
    assert.equal(build('runner12b', [], mine).json!.layers[0]!.digest, wrong.digest, 'the registry cache is trusted by diff_id');

    const mended = build('runner12c', ['--no-cache', '--cache-write'], mine);
    assert.equal(mended.result.status, 0, mended.result.stderr);
    assert.equal(mended.json!.layers[0]!.source, 'built');
    assert.equal(mended.json!.digest, honest.json!.digest, 'the image a cold build gives');
    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRepo}:${cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' })}`]));
    assert.equal(entry.layers[0].digest, layer.digest, 'the entry names the right blob again');
    const again = build('runner12d', [], mine);
    assert.equal(again.json!.layers[0]!.source, 'registry-cache');
    assert.equal(again.json!.digest, honest.json!.digest);
  });

  it('without --cache-write, the push that takes the layer to the registry writes the entry (a mount within one registry)', async () => {
    const tree3 = join(tmp.path, 'tree3');
    mkdirSync(tree3, { recursive: true });
    writeFileSync(join(tree3, 'pushed'), pseudoRandom(512 * 1024, 'pushed'));
    const first = build('runner8', [], tree3);
    assert.equal(first.json!.layers[0]!.source, 'built');
    await registry.forgetAccessLog();
    const push = runner('runner8', ['push', `${registry.host}/ci/pushed:1`, '--layout', first.layout, '--tag', 'app:1', '--json']);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stderr, /wrote 1 layer cache entry/);
    const pushed = JSON.parse(push.stdout) as { cacheEntries?: number };
    assert.equal(pushed.cacheEntries, 1, 'push --json says it too');
    assert.deepEqual(validate('push.schema.json', pushed), []);
    const log = await registry.settledAccessLog();
    const layer = first.json!.layers[0]!;
    assert.ok(log.some((e) => e.method === 'POST' && e.status === 201 && decodeURIComponent(e.uri).includes(`mount=${layer.digest}&from=ci/pushed`)), 'mounted into the cache repository');
    const second = build('runner9', [], tree3);
    assert.equal(second.json!.layers[0]!.source, 'registry-cache');
    assert.equal(second.json!.digest, first.json!.digest);
    // Written once: the next push of the same layout has nothing pending.
    const again = runner('runner8', ['push', `${registry.host}/ci/pushed:2`, '--layout', first.layout, '--tag', 'app:1', '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /layer cache entr/);
    assert.equal((JSON.parse(again.stdout) as { cacheEntries?: number }).cacheEntries, undefined);
  });

  it('a --format docker image: its push writes the entry in OCI\'s media type, which the next runner is served from; an entry in Docker\'s (an older ocipush\'s) is served too', async () => {
    const treeD = join(tmp.path, 'treeD');
    mkdirSync(treeD, { recursive: true });
    writeFileSync(join(treeD, 'docker-typed'), pseudoRandom(96 * 1024, 'docker-typed'));
    const first = build('runnerD1', ['--format', 'docker'], treeD);
    assert.equal(first.json!.layers[0]!.source, 'built');
    const push = runner('runnerD1', ['push', `${registry.host}/ci/docker-typed:1`, '--layout', first.layout, '--tag', 'app:1']);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stderr, /wrote 1 layer cache entry/);
    const layer = first.json!.layers[0]!;
    const tag = cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' });
    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRepo}:${tag}`])) as { layers: { mediaType: string }[] };
    assert.equal(entry.layers[0]!.mediaType, MediaType.OciLayerGzip);
    const second = build('runnerD2', ['--format', 'docker'], treeD);
    assert.equal(second.result.status, 0, second.result.stderr);
    assert.doesNotMatch(second.result.stderr, /warning/);
    assert.equal(second.json!.layers[0]!.source, 'registry-cache');
    assert.equal(second.json!.digest, first.json!.digest);

    entry.layers[0]!.mediaType = MediaType.DockerLayerGzip;
    run('curl', ['-sf', '-X', 'PUT', '-H', `Content-Type: ${MediaType.OciManifest}`, '--data-binary', JSON.stringify(entry), `${registry.url}/v2/ci/cache/manifests/${tag}`]);
    const third = build('runnerD3', [], treeD);
    assert.equal(third.result.status, 0, third.result.stderr);
    assert.doesNotMatch(third.result.stderr, /warning/);
    assert.equal(third.json!.layers[0]!.source, 'registry-cache');
    assert.equal(third.json!.layers[0]!.digest, layer.digest);
  });

  it('cache ls lists the entries; cache prune --keep N removes the older ones (a dry run removes nothing)', async () => {
    const ls = () => {
      const r = runner('admin', ['cache', 'ls', cacheRepo, '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { entries: { tag: string; diffId: string; settings: string; created: string; layer: { digest: string } }[] };
    };
    const before = ls().entries;
    assert.ok(before.length >= 2, `entries: ${JSON.stringify(before)}`);
    for (const e of before) assert.equal(e.tag, cacheTag(e.diffId as `sha256:${string}`, { compression: 'gzip' }));
    const dry = runner('admin', ['cache', 'prune', cacheRepo, '--keep', '1', '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).removed.length, before.length - 1);
    assert.equal(ls().entries.length, before.length);
    const pruned = runner('admin', ['cache', 'prune', cacheRepo, '--keep', '1']);
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stderr, new RegExp(`removed ${before.length - 1} of ${before.length} cache entries`));
    assert.deepEqual(ls().entries.map((e) => e.tag), [before[0]!.tag], 'the newest entry is kept');
    const refused = runner('admin', ['cache', 'prune', cacheRepo]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /--older-than AGE and\/or --keep N/);
  });

  it('build -f: COPY layers hit the registry cache too (named with skopeo\'s docker:// as well, as build takes it)', async () => {
    const context = join(tmp.path, 'context');
    mkdirSync(join(context, 'app'), { recursive: true });
    writeFileSync(join(context, 'app', 'data.bin'), pseudoRandom(256 * 1024, 'dockerfile'));
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
    const dockerfileBuild = (name: string, extra: string[] = []) => {
      const copy = join(tmp.path, name, 'context');
      cpSync(context, copy, { recursive: true });
      const r = runner(name, ['build', '-f', join(copy, 'Dockerfile'), copy, '--layout', join(tmp.path, name, 'layout'), '--tag', 'df:1', '--json', ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as BuildJson;
    };
    const first = dockerfileBuild('df-runner1', ['--cache-repo', cacheRepo, '--cache-write']);
    assert.deepEqual(first.layers.map((l) => l.source), ['built']);
    const second = dockerfileBuild('df-runner2', ['--cache-repo', `docker://${cacheRepo}`, '--sbom']);
    assert.deepEqual(second.layers.map((l) => l.source), ['registry-cache']);
    assert.equal(second.digest, first.digest);
    // The SBOM describes the layer the layout never held.
    assert.equal((second as unknown as { sbom: { files: number } }).sbom.files, 1);
  });

  it('--sbom describes a layer that came from the registry cache (never in the layout): the same SBOM on both runners, the file\'s sha256 as sha256sum says', async () => {
    const tree5 = join(tmp.path, 'tree5');
    mkdirSync(join(tree5, 'srv'), { recursive: true });
    writeFileSync(join(tree5, 'srv', 'payload.bin'), pseudoRandom(200 * 1024, 'sbom'));
    writeFileSync(join(tree5, 'srv', 'notes.txt'), 'listed in the SBOM\n');
    // The SBOM's referrer manifest, then its one layer: the document.
    const sbomOf = (b: { json?: BuildJson; layout: string }) => {
      const referrer = (b.json as unknown as { sbom: { digest: string } }).sbom.digest;
      const manifest = JSON.parse(readFileSync(blobFile(b.layout, referrer), 'utf8')) as { layers: { digest: string }[] };
      return readFileSync(blobFile(b.layout, manifest.layers[0]!.digest), 'utf8');
    };
    const first = build('runner11a', ['--cache-write', '--sbom'], tree5);
    assert.equal(first.result.status, 0, first.result.stderr);
    assert.equal(first.json!.layers[0]!.source, 'built');
    const second = build('runner11', ['--sbom'], tree5);
    assert.equal(second.result.status, 0, second.result.stderr);
    assert.equal(second.json!.layers[0]!.source, 'registry-cache');
    assert.equal(existsSync(blobFile(second.layout, second.json!.layers[0]!.digest)), false);
    const doc = JSON.parse(sbomOf(second)) as { files: { fileName: string; checksums: { algorithm: string; checksumValue: string }[] }[] };
    assert.deepEqual(doc.files.map((f) => f.fileName), ['/srv/notes.txt', '/srv/payload.bin']);
    const sha256sum = run('sha256sum', [join(tree5, 'srv', 'payload.bin')]).split(' ')[0];
    assert.equal(doc.files[1]!.checksums.find((c) => c.algorithm === 'SHA256')!.checksumValue, sha256sum);
    assert.equal(sbomOf(second), sbomOf(first), 'the same SBOM bytes on both runners');
  });

  it('a layer from the registry cache pushed to another registry is fetched from the cache (verified) and uploaded', async () => {
    const other = await startRegistry();
    try {
      const tree4 = join(tmp.path, 'tree4');
      mkdirSync(tree4, { recursive: true });
      writeFileSync(join(tree4, 'elsewhere'), pseudoRandom(300 * 1024, 'elsewhere'));
      assert.equal(build('runner10a', ['--cache-write'], tree4).json!.layers[0]!.source, 'built');
      const hit = build('runner10', [], tree4);
      assert.equal(hit.json!.layers[0]!.source, 'registry-cache');
      const push = runner('runner10', ['push', `${other.host}/elsewhere/app:1`, '--layout', hit.layout, '--tag', 'app:1']);
      assert.equal(push.status, 0, push.stderr);
      assert.match(push.stderr, /fetching base layer .* from 127\.0\.0\.1:\d+\/ci\/cache/);
      assert.equal(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${other.host}/elsewhere/app:1`])).Digest, hit.json!.digest);
    } finally {
      await other.stop();
    }
  });

  it('--cache-write stores a layer its layout already had (a local cache hit) that the registry cache lacks, and only once', async () => {
    // A tree of its own: no entry for it yet. The first build has no registry cache (as one that
    // found the cache registry down): only the layout's own cache knows the layer.
    const own = join(tmp.path, 'tree-local-hit');
    mkdirSync(own);
    writeFileSync(join(own, 'local.bin'), pseudoRandom(300_000, 'runner-local'));
    // The layout's cache records no tree changed in the last two seconds (git's racy rule): the
    // builds' clock is ahead.
    const aged = clockAheadEnv();
    const layout = join(tmp.path, 'runner-local', 'layout');
    const args = ['build', own, '--layout', layout, '--tag', 'app:1', '--owner', '0:0', '--json'];
    const first = runner('runner-local', args, aged);
    assert.equal(first.status, 0, first.stderr);
    const layer = (JSON.parse(first.stdout) as BuildJson).layers[0]!;
    const tag = cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip', level: DEFAULT_GZIP_LEVEL });
    const again = runner('runner-local', [...args, '--cache-repo', cacheRepo, '--cache-write'], aged);
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as BuildJson).layers[0]!.source, 'local-cache');
    const entry = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${cacheRepo}:${tag}`])) as { layers: { digest: string }[] };
    assert.equal(entry.layers[0]!.digest, layer.digest, 'the entry names the layout\'s blob');
    const third = runner('runner-local', [...args, '--cache-repo', cacheRepo, '--cache-write'], aged);
    assert.equal(third.status, 0, third.stderr);
    const unchanged = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${cacheRepo}:${tag}`])) as unknown;
    assert.deepEqual(unchanged, entry, 'an entry already there is not written again (its created time would move)');
    // And a fresh runner now gets it from the registry.
    const fresh = runner('runner-fresh', ['build', own, '--layout', join(tmp.path, 'runner-fresh', 'layout'), '--tag', 'app:1', '--owner', '0:0', '--json', '--cache-repo', cacheRepo], aged);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.equal((JSON.parse(fresh.stdout) as BuildJson).layers[0]!.source, 'registry-cache');
  });

  it('a cache registry that is down is one warning and a correct build', async () => {
    const down = runner('runner7', ['build', tree, '--layout', join(tmp.path, 'runner7', 'layout'), '--tag', 'app:1', '--owner', '0:0', '--json',
      '--cache-repo', '127.0.0.1:9/ci/cache']);
    assert.equal(down.status, 0, down.stderr);
    const warnings = down.stderr.split('\n').filter((l) => l.includes('layer cache'));
    assert.equal(warnings.length, 1, down.stderr);
    assert.equal((JSON.parse(down.stdout) as BuildJson).layers[0]!.source, 'built');
  });
});
