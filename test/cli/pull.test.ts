import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runImage } from '../support/runc.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { escapeRegExp, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, multiPlatformImage, skopeoRawManifest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';

/** A layout whose image runs: a static busybox as /bin/sh, `echo` as the entrypoint. */
function runnableImage(dir: string): UmociImage {
  const busybox = requireTool('busybox');
  if (!/statically linked|not a dynamic executable/.test(spawnLdd(busybox))) throw new Error(`${busybox} is not static: install busybox-static`);
  const root = join(dir, 'rootfs-runnable');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  run('chmod', ['0755', join(root, 'bin', 'busybox')]);
  const layout = join(dir, 'runnable');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:run`]);
  run('umoci', ['insert', '--image', `${layout}:run`, root, '/']);
  run('umoci', ['config', '--image', `${layout}:run`, '--config.entrypoint', '/bin/busybox', '--config.cmd', 'echo', '--config.cmd', 'pulled and running']);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: UmociImage['manifest'][] };
  return { layout, tag: 'run', manifest: index.manifests[0]!, layers: [], config: '' };
}

function spawnLdd(path: string): string {
  try { return run('ldd', [path]); } catch (err) { return (err as Error).message; }
}

describe('ocipush pull and inspect against docker-registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'v1', [600_000, 50_000]);
    assertOk(runCli(['push', `${registry.host}/pull/app:1`, '--layout', image.layout]));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull writes every blob bit for bit, tags the image with the reference\'s tag, and prints the digest', () => {
    const dir = join(tmp.path, 'pulled');
    const r = runCli(['pull', `${registry.host}/pull/app:1`, '--layout', dir]);
    assertOk(r);
    assert.equal(r.stdout, `${image.manifest.digest}\n`);
    assert.match(r.stderr.trimEnd().split('\n').at(-1)!, /^pulled 127\.0\.0\.1:\d+\/pull\/app:1 into .* as 1 \(3 blobs: 3 downloaded, 0 already there\)$/);
    const blobs = readdirSync(join(dir, 'blobs', 'sha256')).map((h) => `sha256:${h}`).sort();
    assert.deepEqual(blobs, [image.manifest.digest, image.config, ...image.layers].sort());
    for (const digest of blobs) assert.ok(readFileSync(blobPath(dir, digest)).equals(readFileSync(blobPath(image.layout, digest))));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((d) => [d.digest, d.annotations['org.opencontainers.image.ref.name']]), [[image.manifest.digest, '1']]);
    // umoci, another implementation, reads the pulled layout.
    requireTool('umoci');
    run('umoci', ['stat', '--image', `${dir}:1`]);

    const again = runCli(['pull', `${registry.host}/pull/app:1`, '--layout', dir, '--tag', 'second', '--json']);
    assertOk(again);
    const out = JSON.parse(again.stdout) as { tag: string; blobs: { outcome: string }[] };
    assert.equal(out.tag, 'second');
    assert.deepEqual(out.blobs.map((b) => b.outcome), ['exists', 'exists', 'exists']);
  });

  it('pull by digest, and of one platform from an index', async () => {
    const dir = join(tmp.path, 'by-digest');
    assertOk(runCli(['pull', `${registry.host}/pull/app@${image.manifest.digest}`, '--layout', dir]));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: unknown }[] };
    assert.deepEqual(index.manifests, [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size }]);

    const multiDir = join(tmp.path, 'multi-src');
    const multi = await multiPlatformImage(multiDir, 'all');
    assertOk(runCli(['push', `${registry.host}/pull/multi:all`, '--layout', multiDir]));
    const armDir = join(tmp.path, 'arm');
    const arm = runCli(['pull', `${registry.host}/pull/multi:all`, '--layout', armDir, '--platform', 'linux/arm64']);
    assertOk(arm);
    assert.equal(arm.stdout.trim(), multi.manifests[1]!.digest);
    assertOneLineError(runCli(['pull', `${registry.host}/pull/multi:all`, '--layout', armDir, '--platform', 'linux/s390x']),
      /no manifest for linux\/s390x \(the index has: linux\/amd64, linux\/arm64\)$/);
    const allDir = join(tmp.path, 'all');
    assertOk(runCli(['pull', `${registry.host}/pull/multi:all`, '--layout', allDir]));
    assert.equal(readdirSync(join(allDir, 'blobs', 'sha256')).length, multi.blobs.length + 3);
  });

  it('--platform of an index whose entry the registry lost: one line naming the platform, no layout left; another platform pulls', async () => {
    const multiDir = join(tmp.path, 'lost-src');
    const multi = await multiPlatformImage(multiDir, 'all');
    assertOk(runCli(['push', `${registry.host}/pull/lost:all`, '--layout', multiDir]));
    const arm = multi.manifests[1]!.digest;
    assert.equal((await fetch(`http://${registry.host}/v2/pull/lost/manifests/${arm}`, { method: 'DELETE' })).status, 202);
    const dir = join(tmp.path, 'lost');
    assertOneLineError(runCli(['pull', `${registry.host}/pull/lost:all`, '--layout', dir, '--platform', 'linux/arm64']),
      new RegExp(`^ocipush: .*@${arm}: manifest not found: 127\\.0\\.0\\.1:\\d+/pull/lost:all names it for linux/arm64, which the registry does not hold \\(deleted under its index, or the index pushed without it\\); pull another with --platform$`));
    assert.throws(() => readdirSync(dir), /ENOENT/, 'no layout left');
    const amd = runCli(['pull', `${registry.host}/pull/lost:all`, '--layout', dir, '--platform', 'linux/amd64']);
    assertOk(amd);
    assert.equal(amd.stdout.trim(), multi.manifests[0]!.digest);
  });

  it('into oci:DIR@DIGEST (or --tag DIGEST): only the image of that digest, listed without a name; another is refused before the layout exists', () => {
    const other = 'sha256:' + 'e'.repeat(64);
    const refused = join(tmp.path, 'pinned-wrong');
    assertOneLineError(runCli(['pull', `${registry.host}/pull/app:1`, `oci:${refused}@${other}`]), new RegExp(`@${other}: the image pulled has digest ${image.manifest.digest}, not ${other}$`), 2);
    assertOneLineError(runCli(['pull', `${registry.host}/pull/app:1`, '--layout', refused, '--tag', other]), /the image pulled has digest/, 2);
    assert.throws(() => readdirSync(refused), /ENOENT/, 'no layout left');
    const dir = join(tmp.path, 'pinned');
    assertOk(runCli(['pull', `${registry.host}/pull/app:1`, `oci:${dir}@${image.manifest.digest}`]));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: unknown }[] };
    assert.deepEqual(index.manifests, [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size }]);
    // skopeo reads the layout's one image (no name to give it).
    requireTool('skopeo');
    assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${dir}`])).Digest, image.manifest.digest);
  });

  it('into a directory of other files: refused with one line before any request, the directory as it was (skopeo copy writes beside them)', async () => {
    const dir = join(tmp.path, 'not-a-layout');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    await registry.forgetAccessLog();
    for (const args of [['--layout', dir], [`oci:${dir}:app`]]) {
      assertOneLineError(runCli(['pull', `${registry.host}/pull/app:1`, ...args]),
        new RegExp(`^ocipush: ${escapeRegExp(dir)}: not an OCI image layout \\(no oci-layout file\\) and not empty; refusing to write into it$`));
      assert.deepEqual(readdirSync(dir), ['notes.txt']);
    }
    assert.deepEqual((await registry.settledAccessLog()).map((e) => e.uri).filter((uri) => uri.startsWith('/v2/pull/')), [], 'no request reached the registry');
    // skopeo, for contrast, adds blobs/, index.json and oci-layout beside the file.
    requireTool('skopeo');
    const skopeoDir = join(tmp.path, 'not-a-layout-skopeo');
    mkdirSync(skopeoDir);
    writeFileSync(join(skopeoDir, 'notes.txt'), 'mine\n');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/pull/app:1`, `oci:${skopeoDir}:app`]);
    assert.deepEqual(readdirSync(skopeoDir).sort(), ['blobs', 'index.json', 'notes.txt', 'oci-layout']);
    // An empty directory is a new layout, as build takes it.
    const empty = join(tmp.path, 'empty-dir');
    mkdirSync(empty);
    assertOk(runCli(['pull', `${registry.host}/pull/app:1`, `oci:${empty}:app`]));
    run('umoci', ['stat', '--image', `${empty}:app`]);
  });

  it('a pulled image runs with runc', { timeout: 120_000 }, () => {
    const runnable = runnableImage(tmp.path);
    assertOk(runCli(['push', `${registry.host}/pull/run:1`, '--layout', runnable.layout]));
    const dir = join(tmp.path, 'pulled-run');
    assertOk(runCli(['pull', `${registry.host}/pull/run:1`, '--layout', dir]));
    const result = runImage(dir, '1');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'pulled and running');
  });

  it('inspect shows digest, platform, config and layers; --raw gives the exact manifest bytes skopeo sees', () => {
    const r = runCli(['inspect', `${registry.host}/pull/app:1`]);
    assertOk(r);
    assert.match(r.stdout, new RegExp(`^Digest: +${image.manifest.digest}$`, 'm'));
    assert.match(r.stdout, /^Platform: +linux\/amd64$/m);
    assert.match(r.stdout, /^Layers: +2 /m);
    for (const layer of image.layers) assert.match(r.stdout, new RegExp(`^  ${layer} `, 'm'));

    const raw = runCli(['inspect', `${registry.host}/pull/app:1`, '--raw']);
    assertOk(raw);
    const skopeo = skopeoRawManifest(`${registry.host}/pull/app:1`);
    assert.equal(raw.stdout, skopeo.bytes.toString('utf8'));
    assert.ok(Buffer.from(raw.stdout).equals(readFileSync(blobPath(image.layout, image.manifest.digest))));

    const config = runCli(['inspect', `${registry.host}/pull/app:1`, '--config']);
    assertOk(config);
    assert.ok(Buffer.from(config.stdout).equals(readFileSync(blobPath(image.layout, image.config))));

    const json = JSON.parse(runCli(['inspect', `${registry.host}/pull/app:1`, '--json']).stdout) as { digest: string; manifest: { layers: unknown[] }; config: { os: string } };
    assert.equal(json.digest, image.manifest.digest);
    assert.equal(json.manifest.layers.length, 2);
    assert.equal(json.config.os, 'linux');
  });

  it('inspect reads layouts too: oci:DIR:TAG and a bare directory', () => {
    const byName = runCli(['inspect', `oci:${image.layout}:v1`, '--json']);
    assertOk(byName);
    assert.equal((JSON.parse(byName.stdout) as { digest: string }).digest, image.manifest.digest);
    const bare = runCli(['inspect', image.layout]);
    assertOk(bare);
    assert.match(bare.stdout, new RegExp(`^Digest: +${image.manifest.digest}$`, 'm'));
    assertOneLineError(runCli(['inspect', `oci:${image.layout}:nope`]), /no image tagged "nope"/);
  });

  it('a tag that does not exist: one line, ENOTFOUND', () => {
    assertOneLineError(runCli(['pull', `${registry.host}/pull/app:nope`, '--layout', join(tmp.path, 'none')]), /^ocipush: 127\.0\.0\.1:\d+\/pull\/app:nope: manifest not found$/);
    assertOneLineError(runCli(['inspect', `${registry.host}/pull/nothing:1`]), /^ocipush: 127\.0\.0\.1:\d+\/pull\/nothing:1: manifest not found$/);
  });
});
