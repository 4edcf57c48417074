import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageConfig, ImageIndex, ImageManifest } from '../../src/oci/manifest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir, validateLayout } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoRaw } from './copy-support.js';
import { validate } from './json-schema.js';

interface RebaseJson {
  digest: string;
  previous: string;
  bases: { platform: string; previous: string; digest: string; name?: string }[];
  blobs: { digest: string; outcome: string }[];
}

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
const env = envWith();
/** The base's manifest digest per version, and its layers. */
const base: Record<string, { digest: string; layers: string[] }> = {};
let appLayer: string;
let appBefore: string;

function skopeoConfig(reference: string, extra: string[] = []): ImageConfig {
  return JSON.parse(run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', ...extra, `docker://${reference}`])) as ImageConfig;
}

function manifestOf(bytes: Buffer): ImageManifest {
  return JSON.parse(bytes.toString('utf8')) as ImageManifest;
}

/** A base image made by umoci (an independent implementation): one layer holding `files`. */
function umociBase(name: string, files: Record<string, string>): string {
  const layout = join(tmp.path, `base-${name}`);
  const rootfs = join(tmp.path, `rootfs-${name}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(rootfs, path, '..'), { recursive: true });
    writeFileSync(join(rootfs, path), text);
  }
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:${name}`]);
  run('umoci', ['insert', '--image', `${layout}:${name}`, rootfs, '/']);
  run('umoci', ['config', '--image', `${layout}:${name}`, '--config.env', `BASE=${name}`, '--history.created_by', `base ${name}`]);
  return layout;
}

/** The files of an image as umoci unpacks it from a layout. */
function unpackedFiles(layout: string, tag: string): Record<string, string> {
  const bundle = join(tmp.path, `bundle-${Math.random().toString(36).slice(2)}`);
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  const rootfs = join(bundle, 'rootfs');
  const files: Record<string, string> = {};
  for (const path of ['etc/version', 'etc/only-in-1', 'etc/only-in-2', 'app/run']) {
    if (existsSync(join(rootfs, path))) files[path] = readFileSync(join(rootfs, path), 'utf8');
  }
  return files;
}

async function pushBase(version: string, files: Record<string, string>, tag = '1'): Promise<void> {
  const layout = umociBase(version, files);
  assertOk(await runCliAsync(['push', `${registry.host}/base:${tag}`, '--layout', layout, '--tag', version], { env }));
  const raw = await skopeoRaw(`${registry.host}/base:${tag}`);
  base[version] = { digest: raw.digest, layers: manifestOf(raw.bytes).layers.map((l) => l.digest) };
}

before(async () => {
  requireTool('umoci');
  requireTool('skopeo');
  tmp = await tempDir();
  registry = await startRegistry();
  await pushBase('v1', { 'etc/version': 'v1\n', 'etc/only-in-1': 'old\n' });
  const app = join(tmp.path, 'app');
  mkdirSync(join(app, 'app'), { recursive: true });
  writeFileSync(join(app, 'app', 'run'), 'app\n');
  const layout = join(tmp.path, 'app-layout');
  assertOk(await runCliAsync(['build', app, '--base', `${registry.host}/base:1`, '--layout', layout, '--tag', 'app', '--entrypoint', '/app/run'], { env }));
  for (const tag of ['1', 'keep']) assertOk(await runCliAsync(['push', `${registry.host}/app:${tag}`, '--layout', layout, '--tag', 'app'], { env }));
  const raw = await skopeoRaw(`${registry.host}/app:1`);
  appBefore = raw.digest;
  appLayer = manifestOf(raw.bytes).layers.at(-1)!.digest;
  // The base tag moves on: a patched base.
  await pushBase('v2', { 'etc/version': 'v2\n', 'etc/only-in-2': 'new\n' });
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('rebase', () => {
  it('--dry-run says which base each image would move to, and writes nothing', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['rebase', `${registry.host}/app:1`, '--dry-run', '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as RebaseJson & { dryRun: boolean };
    assert.deepEqual(validate('rebase.schema.json', out), []);
    assert.equal(out.dryRun, true);
    assert.deepEqual(out.bases.map((b) => [b.previous, b.digest]), [[base.v1!.digest, base.v2!.digest]]);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), []);
    assert.equal((await skopeoRaw(`${registry.host}/app:1`)).digest, appBefore);
  });

  it('puts an image onto what its base tag names now, in place: base layers swapped, its own layer kept and not asked for', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['rebase', `${registry.host}/app:1`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as RebaseJson;
    assert.deepEqual(validate('rebase.schema.json', out), [], 'docs/json/rebase.schema.json describes it');
    assert.equal(out.previous, appBefore);
    assert.deepEqual(out.bases, [{ platform: 'linux/amd64', previous: base.v1!.digest, digest: base.v2!.digest, name: `${registry.host}/base:1` }]);
    const raw = await skopeoRaw(`${registry.host}/app:1`);
    assert.equal(raw.digest, out.digest);
    const manifest = manifestOf(raw.bytes);
    assert.deepEqual(manifest.layers.map((l) => l.digest), [...base.v2!.layers, appLayer]);
    assert.equal(manifest.annotations?.['org.opencontainers.image.base.digest'], base.v2!.digest, 'the next rebase starts from the new base');
    const config = skopeoConfig(`${registry.host}/app:1`);
    assert.deepEqual(config.config?.Entrypoint, ['/app/run'], 'the image\'s own run config stays');
    assert.deepEqual(config.history?.map((h) => h.created_by), ['umoci insert', 'base v2', 'ocipush build (directory)'], 'the new base\'s history, then the image\'s own');
    const log = await registry.settledAccessLog();
    assert.ok(!log.some((e) => e.uri.includes(appLayer)), 'the image\'s own layer is not asked for');
    assert.ok(log.some((e) => e.method === 'POST' && e.uri.includes(`mount=${encodeURIComponent(base.v2!.layers[0]!)}`) && e.uri.includes('from=base')), 'the new base layer is mounted from the base repository');
    // As an independent client pulls and unpacks it: the new base's files, the app's, none of the old base's.
    const pulled = join(tmp.path, 'pulled');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/app:1`, `oci:${pulled}:app`]);
    validateLayout(pulled, 'app');
    assert.deepEqual(unpackedFiles(pulled, 'app'), { 'etc/version': 'v2\n', 'etc/only-in-2': 'new\n', 'app/run': 'app\n' });
    assert.equal((await skopeoRaw(`${registry.host}/app:keep`)).digest, appBefore, 'another tag of the old image is untouched');
  });

  it('an image already on its new base is left as it is', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['rebase', `${registry.host}/app:1`], { env });
    assertOk(r);
    assert.match(r.stderr, new RegExp(`^linux/amd64 is already on ${base.v2!.digest}$`, 'm'));
    assert.match(r.stderr, /already is what this makes \(sha256:[0-9a-f]{64}\); nothing written\n$/);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method === 'PUT' || e.method === 'POST'), []);
  });

  it('into a layout, with both bases named: the new base\'s layers are fetched from its repository, as umoci reads the result', async () => {
    const layout = join(tmp.path, 'rebased');
    assertOk(await runCliAsync(['rebase', `${registry.host}/app:keep`, `oci:${layout}:app`, '--old-base', `${registry.host}/base@${base.v1!.digest}`, '--new-base', `${registry.host}/base@${base.v2!.digest}`], { env }));
    validateLayout(layout, 'app');
    assert.deepEqual(unpackedFiles(layout, 'app'), { 'etc/version': 'v2\n', 'etc/only-in-2': 'new\n', 'app/run': 'app\n' });
  });

  it('rebases an image a copy compressed again (zstd): its base layers are the base\'s by diff_id, not by digest, and are swapped', async () => {
    run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-compress-format', 'zstd', '--dest-compress', `docker://${registry.host}/app:keep`, `docker://${registry.host}/app-zstd:1`]);
    const zstdLayers = manifestOf((await skopeoRaw(`${registry.host}/app-zstd:1`)).bytes).layers;
    assert.notEqual(zstdLayers[0]!.digest, base.v1!.layers[0], 'skopeo wrote the base layer anew');
    assertOk(await runCliAsync(['rebase', `${registry.host}/app-zstd:1`, `${registry.host}/app-zstd:2`], { env }));
    const manifest = manifestOf((await skopeoRaw(`${registry.host}/app-zstd:2`)).bytes);
    assert.deepEqual(manifest.layers.map((l) => l.digest), [...base.v2!.layers, zstdLayers.at(-1)!.digest]);
    const before = skopeoConfig(`${registry.host}/app-zstd:1`).rootfs.diff_ids;
    const after = skopeoConfig(`${registry.host}/app-zstd:2`).rootfs.diff_ids;
    assert.deepEqual(after, [...skopeoConfig(`${registry.host}/base:1`).rootfs.diff_ids, before.at(-1)], 'the new base\'s content under the image\'s own');
    // skopeo copies it, checking each layer against its digest: every layer named is there.
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/app-zstd:2`, `oci:${join(tmp.path, 'zstd-pulled')}:app`]);
  });

  it('onto a base in a layout (a patched base built locally): base.name goes, as build --base oci: writes it, so the next rebase asks for the base instead of reading the old repository', async () => {
    const v3 = umociBase('v3', { 'etc/version': 'v3\n' });
    const v3Manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${v3}:v3`])) as ImageManifest;
    const layout = join(tmp.path, 'rebased-local');
    assertOk(await runCliAsync(['rebase', `${registry.host}/app:keep`, `oci:${layout}:app`, '--new-base', `oci:${v3}:v3`], { env }));
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:app`])) as ImageManifest;
    assert.deepEqual(manifest.layers.map((l) => l.digest), [...v3Manifest.layers.map((l) => l.digest), appLayer]);
    const annotations = manifest.annotations ?? {};
    assert.equal(annotations['org.opencontainers.image.base.name'], undefined, `no base name: ${registry.host}/base:1 names another image (${JSON.stringify(annotations)})`);
    assert.match(annotations['org.opencontainers.image.base.digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(unpackedFiles(layout, 'app'), { 'etc/version': 'v3\n', 'app/run': 'app\n' });
    assertOneLineError(
      await runCliAsync(['rebase', `oci:${layout}:app`, '--dry-run'], { env }),
      /^ocipush: oci:.*:app does not say which base it was built on \(no org\.opencontainers\.image\.base\.name annotation\): name the new base with --new-base$/, 2,
    );
  });

  it('keeps linux/arm/v6 onto a base whose config leaves out the variant its index entry names (buildah manifest add --variant), as build --base does', async () => {
    const buildah = requireTool('buildah');
    const store = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    const layout = join(tmp.path, 'arm-v6');
    // Each base: an image whose config says only "arm", listed by buildah as linux/arm/v6.
    for (const version of ['1', '2']) {
      const rootfs = join(tmp.path, `arm-v6-base-${version}`);
      mkdirSync(rootfs, { recursive: true });
      writeFileSync(join(rootfs, 'version'), `${version}\n`);
      assertOk(await runCliAsync(['build', rootfs, '--platform', 'linux/arm', '--layout', layout, '--tag', `plain-${version}`], { env }));
      run(buildah, [...store, 'manifest', 'create', `arm-v6-${version}`]);
      run(buildah, [...store, 'manifest', 'add', '--variant', 'v6', `arm-v6-${version}`, `oci:${layout}:plain-${version}`]);
      run(buildah, [...store, 'manifest', 'push', '--all', `arm-v6-${version}`, `oci:${layout}:base-${version}`]);
    }
    const app = join(tmp.path, 'arm-v6-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'app'), 'app\n');
    assertOk(await runCliAsync(['build', app, '--base', `oci:${layout}:base-1`, '--platform', 'linux/arm/v6', '--layout', layout, '--tag', 'app'], { env }));
    const variant = (tag: string) => (JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:${tag}`])) as ImageConfig).variant;
    assert.equal(variant('app'), 'v6', 'build --base gives the entry\'s variant');
    assertOk(await runCliAsync(['rebase', `oci:${layout}:app`, `oci:${layout}:rebased`, '--old-base', `oci:${layout}:base-1`, '--new-base', `oci:${layout}:base-2`], { env }));
    assert.equal(variant('rebased'), 'v6', 'not linux/arm, which reads as arm/v7');
    const bundle = join(tmp.path, 'arm-v6-bundle');
    run('umoci', ['unpack', '--image', `${layout}:rebased`, bundle]);
    assert.deepEqual(['version', 'app'].map((f) => readFileSync(join(bundle, 'rootfs', f), 'utf8')), ['2\n', 'app\n'], 'the new base under the app');
  });

  it('an index\'s arm/v6 image whose config leaves out the variant is rebased onto the arm/v6 image of the bases, not their arm/v7 one', async () => {
    const buildah = requireTool('buildah');
    const store = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    const layout = join(tmp.path, 'arm-list');
    const files = (dir: string, text: string) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'version'), text);
      return dir;
    };
    // A list by buildah: `entries` as [tag, --variant], each image's config saying only what it was built with.
    const list = (name: string, entries: [string, string][]) => {
      run(buildah, [...store, 'manifest', 'create', name]);
      for (const [tag, variant] of entries) run(buildah, [...store, 'manifest', 'add', '--variant', variant, name, `oci:${layout}:${tag}`]);
      run(buildah, [...store, 'manifest', 'push', '--all', name, `oci:${layout}:${name}`]);
    };
    for (const version of ['1', '2']) {
      assertOk(await runCliAsync(['build', files(join(tmp.path, `arm-list-v6-${version}`), `v6 ${version}\n`), '--platform', 'linux/arm', '--layout', layout, '--tag', `v6-${version}`], { env }));
      assertOk(await runCliAsync(['build', files(join(tmp.path, `arm-list-v7-${version}`), `v7 ${version}\n`), '--platform', 'linux/arm/v7', '--layout', layout, '--tag', `v7-${version}`], { env }));
      list(`arm-base-${version}`, [[`v7-${version}`, 'v7'], [`v6-${version}`, 'v6']]);
    }
    const app = join(tmp.path, 'arm-list-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'app'), 'app\n');
    assertOk(await runCliAsync(['build', app, '--base', `oci:${layout}:v6-1`, '--platform', 'linux/arm', '--layout', layout, '--tag', 'app-image'], { env }));
    list('arm-app', [['app-image', 'v6']]);
    const r = await runCliAsync(['rebase', `oci:${layout}:arm-app`, `oci:${layout}:rebased`, '--old-base', `oci:${layout}:arm-base-1`, '--new-base', `oci:${layout}:arm-base-2`, '--json'], { env });
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as RebaseJson).bases.map((b) => b.platform), ['linux/arm/v6']);
    const pulled = join(tmp.path, 'arm-list-pulled');
    run('skopeo', ['copy', '--override-arch', 'arm', '--override-variant', 'v6', `oci:${layout}:rebased`, `oci:${pulled}:app`]);
    const bundle = join(tmp.path, 'arm-list-bundle');
    run('umoci', ['unpack', '--image', `${pulled}:app`, bundle]);
    assert.deepEqual(['version', 'app'].map((f) => readFileSync(join(bundle, 'rootfs', f), 'utf8')), ['v6 2\n', 'app\n']);
  });

  it('rebases every platform of an index onto the same platform of the new base', async () => {
    const build = async (dir: string, files: Record<string, string>, args: string[]) => {
      mkdirSync(dir, { recursive: true });
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      assertOk(await runCliAsync(['build', dir, ...args], { env }));
    };
    const multiBase = async (version: string) => {
      const layout = join(tmp.path, `multi-base-${version}`);
      for (const arch of ['amd64', 'arm64']) await build(join(tmp.path, `mb-${version}-${arch}`), { 'etc/version': `${version} ${arch}\n` }, ['--layout', layout, '--tag', arch, '--platform', `linux/${arch}`]);
      assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--tag', 'multi', '--layout', layout], { env }));
      assertOk(await runCliAsync(['push', `${registry.host}/multibase:1`, '--layout', layout, '--tag', 'multi'], { env }));
    };
    await multiBase('m1');
    const apps = join(tmp.path, 'multi-app');
    for (const arch of ['amd64', 'arm64']) await build(join(tmp.path, `ma-${arch}`), { 'app/run': `app ${arch}\n` }, ['--layout', apps, '--tag', arch, '--platform', `linux/${arch}`, '--base', `${registry.host}/multibase:1`]);
    assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--tag', 'multi', '--layout', apps], { env }));
    assertOk(await runCliAsync(['push', `${registry.host}/multiapp:1`, '--layout', apps, '--tag', 'multi'], { env }));
    await multiBase('m2');

    const r = await runCliAsync(['rebase', `${registry.host}/multiapp:1`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as RebaseJson;
    assert.deepEqual(validate('rebase.schema.json', out), []);
    assert.deepEqual(out.bases.map((b) => b.platform), ['linux/amd64', 'linux/arm64']);
    const index = JSON.parse((await skopeoRaw(`${registry.host}/multiapp:1`)).bytes.toString('utf8')) as ImageIndex;
    assert.deepEqual(index.manifests.map((m) => m.platform?.architecture), ['amd64', 'arm64']);
    for (const arch of ['amd64', 'arm64']) {
      const pulled = join(tmp.path, `pulled-${arch}`);
      run('skopeo', ['copy', '--src-tls-verify=false', '--override-os', 'linux', '--override-arch', arch, `docker://${registry.host}/multiapp:1`, `oci:${pulled}:app`]);
      const files = unpackedFiles(pulled, 'app');
      assert.deepEqual(files, { 'etc/version': `m2 ${arch}\n`, 'app/run': `app ${arch}\n` }, arch);
    }
  });

  it('refuses an image not built on the old base, or one that does not say its base, with one line and nothing written', async () => {
    await registry.forgetAccessLog();
    assertOneLineError(
      await runCliAsync(['rebase', `${registry.host}/app:keep`, '--old-base', `${registry.host}/base@${base.v2!.digest}`, '--new-base', `${registry.host}/base@${base.v1!.digest}`], { env }),
      new RegExp(`^ocipush: ${registry.host}/app:keep is not built on ${registry.host}/base@${base.v2!.digest} \\(${base.v2!.digest}\\): its layer 0 is sha256:[0-9a-f]{64}, the base's ${base.v2!.layers[0]}$`),
    );
    assertOneLineError(
      await runCliAsync(['rebase', `${registry.host}/base:1`], { env }),
      /^ocipush: .*\/base:1 does not say which base it was built on \(no org\.opencontainers\.image\.base\.name annotation\): name the new base with --new-base$/, 2,
    );
    assertOneLineError(await runCliAsync(['rebase', `oci-archive:${join(tmp.path, 'x.tar')}`], { env }), /^ocipush: oci-archive:.*x\.tar: an archive is not rewritten in place; name a destination$/, 2);
    // Built onto a layout's image: the digest is recorded, but no repository to find it in.
    const rootfs = join(tmp.path, 'layout-base-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'f'), 'f\n');
    const layout = join(tmp.path, 'layout-base');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'base'], { env }));
    assertOk(await runCliAsync(['build', rootfs, '--base', `oci:${layout}:base`, '--layout', layout, '--tag', 'app'], { env }));
    assertOneLineError(
      await runCliAsync(['rebase', `oci:${layout}:app`, '--new-base', `oci:${layout}:base`], { env }),
      /^ocipush: oci:.*:app names its base only by digest \(org\.opencontainers\.image\.base\.digest sha256:[0-9a-f]{64}\), with no registry repository to find it in: name the old base with --old-base$/, 2,
    );
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method === 'PUT' || e.method === 'POST'), []);
    assert.equal((await skopeoRaw(`${registry.host}/app:keep`)).digest, appBefore);
  });
});
