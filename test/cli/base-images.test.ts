import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startRegistry, type AccessEntry, type RunningRegistry } from '../support/registry.js';
import { runImage } from '../support/runc.js';
import { requireTool, run, runCli, tempDir, validateLayout, type RunResult } from '../support/tools.js';
import { blobPath, blobWrites, putDigest, skopeoRawManifest } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';

/**
 * `ocipush build --base`: onto a real base image (Debian's static busybox, with a shell) in a
 * real registry, checked with the registry's own access log, skopeo, umoci and runc.
 */

interface BuildJson {
  digest: string;
  layers: { digest: string; mediaType: string }[];
  config: { digest: string };
  base?: { reference: string; name?: string; digest: string; layers: number };
}

interface Manifest {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: { mediaType: string; digest: string; size: number }[];
  annotations?: Record<string, string>;
}

interface Index {
  mediaType: string;
  manifests: { mediaType: string; digest: string; platform?: { os: string; architecture: string } }[];
}

interface ImageConfigJson {
  architecture: string;
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; Labels?: Record<string, string> };
  rootfs: { diff_ids: string[] };
  history: { created_by?: string }[];
}

const BUSYBOX_APPLETS = ['sh', 'echo', 'cat', 'ls', 'env'];

function json<T>(r: RunResult): T {
  assertOk(r);
  return JSON.parse(r.stdout) as T;
}

function readJson<T>(layout: string, digest: string): T {
  return JSON.parse(readFileSync(blobPath(layout, digest), 'utf8')) as T;
}

function manifestOf(layout: string, tag: string): { digest: string; manifest: Manifest } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(entry, `${tag} in ${layout}`);
  return { digest: entry.digest, manifest: readJson<Manifest>(layout, entry.digest) };
}

/** Requests that read a blob's bytes (GET /v2/…/blobs/<digest>). */
function blobGets(log: AccessEntry[], digest: string): AccessEntry[] {
  return log.filter((e) => e.method === 'GET' && e.path.endsWith(`/blobs/${digest}`));
}

/** A base root filesystem: Debian's static busybox and a few applet links. */
function busyboxRootfs(dir: string): string {
  const busybox = requireTool('busybox');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(dir, 'bin', applet));
  return dir;
}

/** Names in a gzip layer blob, as GNU tar lists them. */
function layerEntries(layout: string, digest: string): string[] {
  return run('tar', ['-tzf', blobPath(layout, digest)]).trim().split('\n').filter(Boolean);
}

function umociUnpack(layout: string, tag: string, bundle: string): string {
  requireTool('umoci');
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

describe('ocipush build --base against docker-registry', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let baseLayout: string;
  let appRootfs: string;
  let base: { ref: string; manifest: string; layer: string; config: string };

  before(async () => {
    tmp = await tempDir('ocipush-base-');
    registry = await startRegistry();
    baseLayout = join(tmp.path, 'base-layout');
    const rootfs = busyboxRootfs(join(tmp.path, 'busybox'));
    const built = json<BuildJson>(runCli(['build', rootfs, '--layout', baseLayout, '--tag', 'base', '--owner', '0:0',
      '--env', 'PATH=/bin', '--env', 'LANG=C', '--cmd', '/bin/sh', '--label', 'org.example.base=busybox', '--json']));
    base = { ref: `${registry.host}/base/busybox:1`, manifest: built.digest, layer: built.layers[0]!.digest, config: built.config.digest };
    assertOk(runCli(['push', base.ref, '--layout', baseLayout, '--tag', 'base']));
    appRootfs = join(tmp.path, 'app');
    mkdirSync(join(appRootfs, 'app'), { recursive: true });
    writeFileSync(join(appRootfs, 'app', 'hello.txt'), 'hello from the app\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(async () => {
    await registry.forgetAccessLog();
  });

  it('fetches only the base manifest and config; a push to the same registry mounts the base layer, never downloads or re-uploads it', async () => {
    const layout = join(tmp.path, 'app-layout');
    const built = json<BuildJson>(runCli(['build', appRootfs, '--base', base.ref, '--layout', layout, '--tag', 'app', '--owner', '0:0',
      '--env', 'GREETING=hello', '--env', 'LANG=C.UTF-8', '--label', 'org.example.app=hello', '--json']));
    assert.deepEqual(built.base, { reference: base.ref, name: base.ref, digest: base.manifest, layers: 1 });

    let log = await registry.settledAccessLog();
    // No GET /v2/: the first request (of the manifest) is also the loopback scheme probe.
    assert.deepEqual(log.filter((e) => e.method === 'GET').map((e) => e.path).sort(), [
      `/v2/base/busybox/blobs/${base.config}`,
      '/v2/base/busybox/manifests/1',
    ]);
    assert.equal(existsSync(blobPath(layout, base.layer)), false, 'the base layer is referenced, not downloaded');
    // The image names neither (only the base's digest, in an annotation): stored, gc would remove them.
    assert.deepEqual([existsSync(blobPath(layout, base.manifest)), existsSync(blobPath(layout, base.config))], [false, false], 'base manifest and config read, not stored');

    const { manifest } = manifestOf(layout, 'app');
    assert.deepEqual(manifest.layers.map((l) => l.digest), [base.layer, built.layers[0]!.digest]);
    assert.deepEqual(manifest.annotations, {
      'org.opencontainers.image.base.digest': base.manifest,
      'org.opencontainers.image.base.name': base.ref,
    });
    const config = readJson<ImageConfigJson>(layout, manifest.config.digest);
    assert.deepEqual(config.config.Env, ['PATH=/bin', 'LANG=C.UTF-8', 'GREETING=hello']);
    assert.deepEqual(config.config.Cmd, ['/bin/sh']);
    assert.deepEqual(config.config.Labels, { 'org.example.app': 'hello', 'org.example.base': 'busybox' });
    assert.equal(config.rootfs.diff_ids.length, 2);
    assert.equal(config.history.length, 2);

    await registry.forgetAccessLog();
    const pushed = json<{ digest: string; blobs: { digest: string; outcome: string }[] }>(runCli(['push', `${registry.host}/app/hello:1`, '--layout', layout, '--tag', 'app', '--json']));
    assert.equal(pushed.blobs.find((b) => b.digest === base.layer)?.outcome, 'mounted');
    log = await registry.settledAccessLog();
    assert.deepEqual(blobGets(log, base.layer), [], 'no GET of the base layer');
    assert.ok(log.some((e) => e.method === 'POST' && e.uri.includes(`mount=${encodeURIComponent(base.layer)}`) && e.status === 201), 'mounted (201)');
    assert.deepEqual(blobWrites(log).map(putDigest).filter((d) => d === base.layer), [], 'not re-uploaded');
    assert.deepEqual(blobWrites(log).filter((e) => e.method === 'PUT').map(putDigest).sort(), [built.layers[0]!.digest, built.config.digest].sort());
    assert.equal(existsSync(blobPath(layout, base.layer)), false, 'still not downloaded');

    const inspected = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/app/hello:1`])) as { Layers: string[]; Digest: string };
    assert.deepEqual(inspected.Layers, [base.layer, built.layers[0]!.digest]);
    assert.equal(inspected.Digest, pushed.digest);
  });

  it('the pushed image runs with runc and sees the base\'s files and the app\'s', async () => {
    const layout = join(tmp.path, 'run-layout');
    assertOk(runCli(['build', appRootfs, '--base', base.ref, '--layout', layout, '--tag', 'app', '--env', 'GREETING=hi there']));
    assertOk(runCli(['push', `${registry.host}/app/run:1`, '--layout', layout, '--tag', 'app']));
    const pulled = join(tmp.path, 'run-pulled');
    assertOk(runCli(['pull', `${registry.host}/app/run:1`, '--layout', pulled, '--tag', 'app']));
    const r = runImage(pulled, 'app', { args: ['sh', '-c', 'cat /app/hello.txt; ls /bin/busybox; echo "$GREETING"'] });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello from the app\n/bin/busybox\nhi there\n');
    assert.equal(r.status, 0);
  });

  it('--remove writes a whiteout in the top layer: the path is gone after umoci unpack', async () => {
    const layout = join(tmp.path, 'remove-layout');
    const built = json<BuildJson>(runCli(['build', appRootfs, '--base', base.ref, '--layout', layout, '--tag', 'app', '--remove', '/bin/ls', '--remove', 'bin/cat', '--json']));
    assert.equal(built.layers.length, 1);
    assertOk(runCli(['push', `${registry.host}/app/removed:1`, '--layout', layout, '--tag', 'app']));
    const pulled = join(tmp.path, 'remove-pulled');
    assertOk(runCli(['pull', `${registry.host}/app/removed:1`, '--layout', pulled, '--tag', 'app']));
    assert.deepEqual(layerEntries(pulled, built.layers[0]!.digest), ['bin/.wh.cat', 'bin/.wh.ls', 'app/', 'app/hello.txt']);
    const rootfs = umociUnpack(pulled, 'app', join(tmp.path, 'remove-bundle'));
    assert.equal(existsSync(join(rootfs, 'bin', 'ls')), false);
    assert.equal(existsSync(join(rootfs, 'bin', 'cat')), false);
    assert.equal(existsSync(join(rootfs, 'bin', '.wh.ls')), false);
    assert.ok(existsSync(join(rootfs, 'bin', 'busybox')));
    assert.ok(existsSync(join(rootfs, 'bin', 'echo')));
    assert.equal(readFileSync(join(rootfs, 'app', 'hello.txt'), 'utf8'), 'hello from the app\n');
  });

  it('--remove with no rootfs: a layer of whiteouts only, on a layout base; a path the top layer adds is refused', () => {
    const layout = join(tmp.path, 'whiteout-only');
    const built = json<BuildJson>(runCli(['build', '--base', `oci:${baseLayout}:base`, '--layout', layout, '--tag', 'slim', '--remove', '/bin/echo', '--json']));
    assert.equal(built.layers.length, 1);
    assert.deepEqual(layerEntries(layout, built.layers[0]!.digest), ['bin/.wh.echo']);
    const config = readJson<ImageConfigJson>(layout, manifestOf(layout, 'slim').manifest.config.digest);
    assert.equal(config.history.at(-1)!.created_by, 'ocipush build (remove)');
    const rootfs = umociUnpack(layout, 'slim', join(tmp.path, 'whiteout-bundle'));
    assert.equal(existsSync(join(rootfs, 'bin', 'echo')), false);
    assert.ok(existsSync(join(rootfs, 'bin', 'sh')));

    const clash = runCli(['build', appRootfs, '--base', `oci:${baseLayout}:base`, '--layout', layout, '--remove', '/app/hello.txt']);
    assertOneLineError(clash, /--remove "\/app\/hello\.txt": the top layer .* adds it/, 2);
  });

  it('a push to another registry fetches each base layer once, verified, and keeps it in the layout', async () => {
    const layout = join(tmp.path, 'elsewhere-layout');
    assertOk(runCli(['build', appRootfs, '--base', base.ref, '--layout', layout, '--tag', 'app']));
    const other = await startRegistry();
    try {
      await registry.forgetAccessLog();
      const first = json<{ blobs: { digest: string; outcome: string }[] }>(runCli(['push', `${other.host}/copy/app:1`, '--layout', layout, '--tag', 'app', '--json']));
      assert.equal(first.blobs.find((b) => b.digest === base.layer)?.outcome, 'uploaded');
      assert.equal(blobGets(await registry.settledAccessLog(), base.layer).length, 1);
      assert.ok(readFileSync(blobPath(layout, base.layer)).equals(readFileSync(blobPath(baseLayout, base.layer))), 'kept in the layout');

      await registry.forgetAccessLog();
      assertOk(runCli(['push', `${other.host}/copy/again:1`, '--layout', layout, '--tag', 'app']));
      assertOk(runCli(['export', 'app=app:1', '--layout', layout, '-o', join(tmp.path, 'app.tar')]));
      assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.path.includes('/blobs/')), [], 'fetched once');
      assert.deepEqual(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${other.host}/copy/app:1`])).Layers[0], base.layer);
    } finally {
      await other.stop();
    }
  });

  it('export streams the base layers it needs from their registry into the archive, and keeps none', async () => {
    const layout = join(tmp.path, 'export-layout');
    assertOk(runCli(['build', appRootfs, '--base', base.ref, '--layout', layout, '--tag', 'app']));
    await registry.forgetAccessLog();
    // An archive it cannot write is refused first: no layer fetched, none kept in the layout.
    const blobs = readdirSync(join(layout, 'blobs', 'sha256')).sort();
    const nowhere = join(tmp.path, 'missing', 'export.tar');
    assertOneLineError(runCli(['export', 'app=app:1', '--layout', layout, '-o', nowhere]), new RegExp(`^ocipush: cannot write ${nowhere.replace(/[/.]/g, '\\$&')}: no such file or directory$`), 1);
    assert.equal(blobGets(await registry.settledAccessLog(), base.layer).length, 0, 'no base layer fetched');
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')).sort(), blobs, 'the layout as it was');
    const archive = join(tmp.path, 'export.tar');
    assertOk(runCli(['export', 'app=app:1', '--layout', layout, '-o', archive]));
    assert.equal(blobGets(await registry.settledAccessLog(), base.layer).length, 1);
    const names = run('tar', ['-tf', archive]);
    assert.ok(names.includes(`blobs/sha256/${base.layer.slice(7)}`));
    assert.equal(existsSync(blobPath(layout, base.layer)), false, 'export writes its archive, not into the layout');
  });

  it('a two-platform image: one build per platform onto a base index, combined under one tag, pushed with both children', async () => {
    // The base as an index of two platforms (the registry never runs it: arm64 here is a label).
    assertOk(runCli(['build', join(tmp.path, 'busybox'), '--layout', baseLayout, '--tag', 'base-arm64', '--platform', 'linux/arm64', '--owner', '0:0', '--env', 'PATH=/bin']));
    const baseIndex = json<{ digest: string; manifests: { digest: string; platform: string }[] }>(
      runCli(['index', 'create', 'base', 'base-arm64', '--layout', baseLayout, '--tag', 'base-multi', '--json']));
    assert.deepEqual(baseIndex.manifests.map((m) => m.platform), ['linux/amd64', 'linux/arm64']);
    assertOk(runCli(['push', `${registry.host}/base/multi:1`, '--layout', baseLayout, '--tag', 'base-multi']));

    const layout = join(tmp.path, 'multi-layout');
    const amd64 = json<BuildJson>(runCli(['build', appRootfs, '--base', `${registry.host}/base/multi:1`, '--platform', 'linux/amd64', '--layout', layout, '--tag', 'app-amd64', '--json']));
    const arm64 = json<BuildJson>(runCli(['build', appRootfs, '--base', `${registry.host}/base/multi:1`, '--platform', 'linux/arm64', '--layout', layout, '--tag', 'app-arm64', '--json']));
    assert.equal(amd64.base!.digest, baseIndex.manifests[0]!.digest);
    assert.equal(arm64.base!.digest, baseIndex.manifests[1]!.digest);
    assert.equal(readJson<ImageConfigJson>(layout, arm64.config.digest).architecture, 'arm64');

    const index = json<{ digest: string; mediaType: string }>(runCli(['index', 'create', 'app-amd64', 'app-arm64', '--layout', layout, '--tag', 'app', '--json']));
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');

    await registry.forgetAccessLog();
    const r = runCli(['push', `${registry.host}/app/multi:1`, '--layout', layout, '--tag', 'app']);
    assertOk(r);
    assert.equal(r.stdout.trim(), index.digest);
    const log = await registry.settledAccessLog();
    assert.deepEqual(blobGets(log, base.layer), []);
    assert.deepEqual(blobWrites(log).map(putDigest).filter((d) => d === base.layer), []);

    const raw = skopeoRawManifest(`${registry.host}/app/multi:1`);
    assert.equal(raw.digest, index.digest);
    const pushedIndex = JSON.parse(raw.bytes.toString('utf8')) as Index;
    assert.deepEqual(pushedIndex.manifests.map((m) => [m.digest, m.platform?.os, m.platform?.architecture]), [
      [amd64.digest, 'linux', 'amd64'],
      [arm64.digest, 'linux', 'arm64'],
    ]);
    const armInspect = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${registry.host}/app/multi:1`])) as { Architecture: string; Layers: string[]; Digest: string };
    assert.equal(armInspect.Architecture, 'arm64');
    assert.equal(armInspect.Digest, index.digest, 'skopeo names the index it was given');
    assert.deepEqual(armInspect.Layers, [base.layer, arm64.layers[0]!.digest]);

    const none = runCli(['build', appRootfs, '--base', `${registry.host}/base/multi:1`, '--platform', 'linux/s390x', '--layout', layout]);
    assertOneLineError(none, /has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\); choose one with --platform$/);
    const twice = runCli(['index', 'create', 'app-amd64', 'app-amd64-again', '--layout', layout, '--tag', 'x']);
    assertOneLineError(twice, /no image tagged "app-amd64-again"/);
    assertOk(runCli(['build', appRootfs, '--layout', layout, '--tag', 'other-amd64']));
    assertOneLineError(runCli(['index', 'create', 'app-amd64', 'other-amd64', '--layout', layout, '--tag', 'x']), /"app-amd64" and "other-amd64" are both linux\/amd64/, 2);
  });

  it('a Docker v2 schema 2 base: converted to OCI media types by default, Docker all through with --format docker', async () => {
    requireTool('skopeo');
    run('skopeo', ['copy', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${baseLayout}:base`, `docker://${registry.host}/base/docker:1`]);
    const dockerBase = JSON.parse(skopeoRawManifest(`${registry.host}/base/docker:1`).bytes.toString('utf8')) as Manifest;
    assert.equal(dockerBase.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(dockerBase.layers[0]!.digest, base.layer);

    const layout = join(tmp.path, 'docker-layout');
    assertOk(runCli(['build', appRootfs, '--base', `${registry.host}/base/docker:1`, '--layout', layout, '--tag', 'oci']));
    assertOk(runCli(['build', appRootfs, '--base', `${registry.host}/base/docker:1`, '--layout', layout, '--tag', 'docker', '--format', 'docker']));
    await registry.forgetAccessLog();
    assertOk(runCli(['push', `${registry.host}/app/from-docker:oci`, '--layout', layout, '--tag', 'oci']));
    assertOk(runCli(['push', `${registry.host}/app/from-docker:docker`, '--layout', layout, '--tag', 'docker']));
    assert.deepEqual(blobGets(await registry.settledAccessLog(), base.layer), []);

    const oci = JSON.parse(skopeoRawManifest(`${registry.host}/app/from-docker:oci`).bytes.toString('utf8')) as Manifest;
    assert.equal(oci.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(oci.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(oci.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);
    assert.equal(oci.layers[0]!.digest, base.layer);

    const docker = JSON.parse(skopeoRawManifest(`${registry.host}/app/from-docker:docker`).bytes.toString('utf8')) as Manifest;
    assert.equal(docker.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(docker.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.deepEqual(docker.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip']);
    assert.equal(docker.layers[0]!.digest, base.layer);
    // skopeo reads the Docker image whole: its config and every layer digest.
    const inspected = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/app/from-docker:docker`])) as { Layers: string[]; Env: string[] };
    assert.deepEqual(inspected.Layers, docker.layers.map((l) => l.digest));
    assert.deepEqual(inspected.Env, ['PATH=/bin', 'LANG=C']);

    // Docker-format images combine into a Docker manifest list; the families do not mix.
    const wrongPlatform = runCli(['build', appRootfs, '--base', `${registry.host}/base/docker:1`, '--platform', 'linux/arm64', '--layout', layout]);
    assertOneLineError(wrongPlatform, /base\/docker:1 is for linux\/amd64, not linux\/arm64 \(--platform\)$/, 2);
    assertOk(runCli(['build', appRootfs, '--layout', layout, '--tag', 'docker-arm64', '--platform', 'linux/arm64', '--format', 'docker']));
    const list = json<{ digest: string; mediaType: string }>(runCli(['index', 'create', 'docker', 'docker-arm64', '--layout', layout, '--tag', 'list', '--json']));
    assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assertOk(runCli(['push', `${registry.host}/app/from-docker:list`, '--layout', layout, '--tag', 'list']));
    const pushedList = skopeoRawManifest(`${registry.host}/app/from-docker:list`);
    assert.equal(pushedList.digest, list.digest);
    assert.equal((JSON.parse(pushedList.bytes.toString('utf8')) as Index).manifests.length, 2);
    assertOneLineError(runCli(['index', 'create', 'oci', 'docker-arm64', '--layout', layout, '--tag', 'mixed']), /mix OCI and Docker media types/, 2);
  });

  it('a layout base (oci:DIR:tag): its layers are copied verified, and the image runs with runc', () => {
    const layout = join(tmp.path, 'from-layout');
    const built = json<BuildJson>(runCli(['build', appRootfs, '--base', `oci:${baseLayout}:base`, '--layout', layout, '--tag', 'app', '--entrypoint', '["/bin/cat","/app/hello.txt"]', '--json']));
    assert.deepEqual(built.base, { reference: `oci:${baseLayout}:base`, digest: base.manifest, layers: 1 });
    const { manifest } = manifestOf(layout, 'app');
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.base.digest': base.manifest });
    const config = readJson<ImageConfigJson>(layout, manifest.config.digest);
    assert.equal('Cmd' in config.config, false, '--entrypoint resets the base Cmd');
    validateLayout(layout, 'app');
    const r = runImage(layout, 'app');
    assert.equal(r.stdout, 'hello from the app\n');
    assert.equal(r.status, 0);
  });

  it('a base that is not there is named as the base, from --base and from a Dockerfile\'s FROM', () => {
    const target = join(tmp.path, 'missing-base');
    assertOneLineError(runCli(['build', appRootfs, '--base', `${registry.host}/base/none:1`, '--layout', target]), new RegExp(`^ocipush: base image ${registry.host}/base/none:1: manifest not found$`));
    const context = join(tmp.path, 'missing-base-context');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), `FROM ${registry.host}/base/none:2\n`);
    assertOneLineError(runCli(['build', '-f', join(context, 'Dockerfile'), context, '--layout', target]), new RegExp(`^ocipush: .*base image ${registry.host}/base/none:2: manifest not found$`));
    assert.equal(existsSync(target), false, 'a failed build creates no layout');
  });

  it('a base blob that fails its digest check is refused with a clear error', async () => {
    // A layout base whose layer file was damaged: refused while copying, nothing tagged.
    const damaged = join(tmp.path, 'damaged-base');
    cpSync(baseLayout, damaged, { recursive: true });
    const bytes = readFileSync(blobPath(damaged, base.layer));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(blobPath(damaged, base.layer), bytes);
    const target = join(tmp.path, 'damaged-target');
    const r = runCli(['build', appRootfs, '--base', `oci:${damaged}:base`, '--layout', target, '--tag', 'app']);
    assertOneLineError(r, new RegExp(`base image oci:.*: layer ${base.layer} is corrupt \\(.*content has digest sha256:[0-9a-f]{64}`));
    assert.equal(existsSync(target), false, 'a failed build creates no layout');

    // A registry that serves a damaged base layer: the build (manifest + config) succeeds, the
    // first reader of the layer's bytes is refused, and nothing wrong is kept.
    const bad = await startRegistry();
    try {
      assertOk(runCli(['push', `${bad.host}/base/busybox:1`, '--layout', baseLayout, '--tag', 'base']));
      const stored = join(bad.storageDir, 'docker/registry/v2/blobs/sha256', base.layer.slice(7, 9), base.layer.slice(7), 'data');
      const data = readFileSync(stored);
      data[data.length >> 1] ^= 0xff;
      writeFileSync(stored, data);
      const layout = join(tmp.path, 'bad-registry-layout');
      assertOk(runCli(['build', appRootfs, '--base', `${bad.host}/base/busybox:1`, '--layout', layout, '--tag', 'app']));
      const exported = runCli(['export', 'app=app:1', '--layout', layout, '-o', join(tmp.path, 'bad.tar')]);
      // Streamed into the archive, not kept: the registry's blob is named as a pull names it.
      assertOneLineError(exported, new RegExp(`^ocipush: ${bad.host}/base/busybox: blob ${base.layer}: content has digest sha256:[0-9a-f]{64}, expected ${base.layer}$`));
      assert.equal(existsSync(blobPath(layout, base.layer)), false, 'the damaged bytes are not kept');
      assert.equal(existsSync(join(tmp.path, 'bad.tar')), false);

      // The base registry gone: a layout that only references the layer says which and why.
      await bad.stop();
      const offline = runCli(['push', `${registry.host}/app/offline:1`, '--layout', layout, '--tag', 'app', '--quiet']);
      assertOneLineError(offline, new RegExp(`blob ${base.layer} is not in .* and cannot be fetched from where the build found it \\(${bad.host}/base/busybox: .*\\)$`));
    } finally {
      await bad.stop();
    }
  });
});
