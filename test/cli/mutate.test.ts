import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageConfig, ImageIndex, ImageManifest } from '../../src/oci/manifest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir, validateLayout } from '../support/tools.js';
import { blobPath, blobWrites, multiPlatformImage, umociImage, type MultiPlatformImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoFails, skopeoRaw } from './copy-support.js';

interface MutateJson {
  digest: string;
  previous: string;
  destination: string;
  images: { platform: string; previous: string; digest: string }[];
}

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let image: UmociImage;
let multi: MultiPlatformImage;
const env = envWith();
const change = ['--label', 'rev=abc', '--env', 'MODE=prod', '--entrypoint', '["/bin/app","-v"]', '--annotation', 'org.example=yes'];
let dryRunDigest: string;

/** The config of an image as skopeo reads it (its own client, not ocipush's). */
function skopeoConfig(reference: string, extra: string[] = []): ImageConfig {
  requireTool('skopeo');
  return JSON.parse(run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', ...extra, `docker://${reference}`])) as ImageConfig;
}

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [100_000, 50_000]);
  run('umoci', ['config', '--image', `${image.layout}:v1`, '--config.env', 'PATH=/usr/bin', '--config.cmd', 'serve', '--config.label', 'team=web']);
  image = { ...image, ...(await import('../registry/support.js')).describeUmociImage(image.layout, 'v1') };
  multi = await multiPlatformImage(join(tmp.path, 'multi'), 'multi');
  registry = await startRegistry();
  for (const tag of ['1', 'keep']) assertOk(await runCliAsync(['push', `${registry.host}/app:${tag}`, '--layout', image.layout, '--tag', 'v1'], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/multi:1`, '--layout', join(tmp.path, 'multi'), '--tag', 'multi'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('mutate', () => {
  it('--dry-run says the digest the change would give and writes nothing', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['mutate', `${registry.host}/app:1`, ...change, '--dry-run', '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as MutateJson & { dryRun: boolean };
    assert.equal(out.dryRun, true);
    assert.notEqual(out.digest, image.manifest.digest);
    dryRunDigest = out.digest;
    assert.match(r.stderr, /^would have mutated .*; nothing written \(--dry-run\)$/m);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), []);
    assert.equal((await skopeoRaw(`${registry.host}/app:1`)).digest, image.manifest.digest);
  });

  it('changes an image in its registry in place: config and annotations, no layer asked for or sent, the old image still there by digest', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['mutate', `${registry.host}/app:1`, ...change, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as MutateJson;
    assert.equal(out.previous, image.manifest.digest);
    assert.equal(out.digest, dryRunDigest, 'the digest --dry-run said');
    const raw = await skopeoRaw(`${registry.host}/app:1`);
    assert.equal(raw.digest, out.digest, 'the tag names the changed image');
    const manifest = JSON.parse(raw.bytes.toString('utf8')) as ImageManifest;
    assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers);
    assert.deepEqual(manifest.annotations, { 'org.example': 'yes' });
    const config = skopeoConfig(`${registry.host}/app:1`);
    assert.deepEqual(config.config?.Labels, { rev: 'abc', team: 'web' });
    assert.deepEqual(config.config?.Env, ['PATH=/usr/bin', 'MODE=prod']);
    assert.deepEqual(config.config?.Entrypoint, ['/bin/app', '-v']);
    assert.equal(config.config?.Cmd, undefined, 'a new entrypoint resets the inherited cmd, as docker does');
    const log = await registry.settledAccessLog();
    for (const layer of image.layers) assert.ok(!log.some((e) => e.uri.includes(layer)), `layer ${layer} is not asked for`);
    assert.equal(blobWrites(log).length, 1, 'one blob sent: the config');
    assert.equal((await skopeoRaw(`${registry.host}/app@${image.manifest.digest}`)).digest, image.manifest.digest);
    assert.equal((await skopeoRaw(`${registry.host}/app:keep`)).digest, image.manifest.digest, 'another tag of the old image is untouched');
    assert.match(r.stderr, new RegExp(`^mutated ${registry.host}/app:1 \\(${image.manifest.digest}\\) into ${registry.host}/app:1 \\(${out.digest}\\)$`, 'm'));
  });

  it('the same change again writes nothing', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['mutate', `${registry.host}/app:1`, ...change], { env });
    assertOk(r);
    assert.match(r.stderr, /already is what this makes \(sha256:[0-9a-f]{64}\); nothing written\n$/);
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method === 'PUT' || e.method === 'POST'), []);
  });

  it('changes every platform of an index, annotates the index', async () => {
    const r = await runCliAsync(['mutate', `${registry.host}/multi:1`, '--label', 'rev=abc', '--annotation', 'org.example=yes', '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as MutateJson;
    const index = JSON.parse((await skopeoRaw(`${registry.host}/multi:1`)).bytes.toString('utf8')) as ImageIndex;
    assert.deepEqual(index.annotations, { 'org.example': 'yes' });
    assert.deepEqual(index.manifests.map((m) => m.platform?.architecture), ['amd64', 'arm64']);
    assert.deepEqual(out.images.map((i) => [i.platform, i.previous, i.digest]), index.manifests.map((m, i) => [`linux/${m.platform!.architecture}`, multi.manifests[i]!.digest, m.digest]));
    for (const arch of ['amd64', 'arm64']) {
      assert.deepEqual(skopeoConfig(`${registry.host}/multi:1`, ['--override-os', 'linux', '--override-arch', arch]).config?.Labels, { rev: 'abc' }, arch);
    }
  });

  it('--platform changes only that platform\'s image; the other keeps its bytes', async () => {
    const before = JSON.parse((await skopeoRaw(`${registry.host}/multi:1`)).bytes.toString('utf8')) as ImageIndex;
    const r = await runCliAsync(['mutate', `${registry.host}/multi:1`, `${registry.host}/multi:arm-only`, '--platform', 'linux/arm64', '--env', 'ONLY=arm', '--json'], { env });
    assertOk(r);
    const after = JSON.parse((await skopeoRaw(`${registry.host}/multi:arm-only`)).bytes.toString('utf8')) as ImageIndex;
    assert.equal(after.manifests[0]!.digest, before.manifests[0]!.digest, 'amd64 untouched');
    assert.notEqual(after.manifests[1]!.digest, before.manifests[1]!.digest);
    assert.ok(skopeoConfig(`${registry.host}/multi:arm-only`, ['--override-os', 'linux', '--override-arch', 'arm64']).config?.Env?.includes('ONLY=arm'));
    assert.ok(!skopeoConfig(`${registry.host}/multi:arm-only`, ['--override-os', 'linux', '--override-arch', 'amd64']).config?.Env?.includes('ONLY=arm'));
    assertOneLineError(await runCliAsync(['mutate', `${registry.host}/multi:1`, `${registry.host}/multi:never`, '--platform', 'linux/s390x', '--env', 'X=1'], { env }),
      /has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\); nothing changed/);
    assert.ok(await skopeoFails(`${registry.host}/multi:never`));
  });

  it('--platform linux/arm/v6 finds the image an index lists as arm/v6 whose config leaves out the variant (buildah manifest add --variant), as skopeo picks it', async () => {
    const buildah = requireTool('buildah');
    const store = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    const layout = join(tmp.path, 'arm-v6');
    const rootfs = join(tmp.path, 'arm-v6-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'f'), 'f\n');
    assertOk(await runCliAsync(['build', rootfs, '--platform', 'linux/arm', '--layout', layout, '--tag', 'plain'], { env }));
    run(buildah, [...store, 'manifest', 'create', 'arm-v6']);
    run(buildah, [...store, 'manifest', 'add', '--variant', 'v6', 'arm-v6', `oci:${layout}:plain`]);
    run(buildah, [...store, 'manifest', 'push', '--all', 'arm-v6', `oci:${layout}:list`]);
    assertOk(await runCliAsync(['mutate', `oci:${layout}:list`, `oci:${layout}:changed`, '--platform', 'linux/arm/v6', '--label', 'rev=v6'], { env }));
    const config = JSON.parse(run('skopeo', ['inspect', '--config', '--override-arch', 'arm', '--override-variant', 'v6', `oci:${layout}:changed`])) as ImageConfig;
    assert.deepEqual(config.config?.Labels, { rev: 'v6' });
    assertOneLineError(
      await runCliAsync(['mutate', `oci:${layout}:list`, '--platform', 'linux/arm/v7', '--label', 'rev=v7'], { env }),
      /^ocipush: oci:.*:list has no image for linux\/arm\/v7 \(it has: linux\/arm\/v6\); nothing changed$/,
    );
  });

  it('to another repository: the layers are mounted, the source stays as it was', async () => {
    await registry.forgetAccessLog();
    const r = await runCliAsync(['mutate', `${registry.host}/app:keep`, `${registry.host}/other:2`, '--user', '1000:1000', '--json'], { env });
    assertOk(r);
    assert.equal((await skopeoRaw(`${registry.host}/app:keep`)).digest, image.manifest.digest);
    assert.equal(skopeoConfig(`${registry.host}/other:2`).config?.User, '1000:1000');
    const log = await registry.settledAccessLog();
    assert.equal(log.filter((e) => e.method === 'POST' && e.uri.includes('mount=')).length, image.layers.length, 'each layer mounted');
    assert.equal(blobWrites(log).length, 1, 'only the config is sent');
  });

  it('--format docker: the same layers under Docker media types, as skopeo copies and oci-image-tool validates it back', async () => {
    const r = await runCliAsync(['mutate', `${registry.host}/app:keep`, `${registry.host}/docker-format:1`, '--format', 'docker', '--json'], { env });
    assertOk(r);
    const raw = await skopeoRaw(`${registry.host}/docker-format:1`);
    const manifest = JSON.parse(raw.bytes.toString('utf8')) as ImageManifest;
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual([manifest.config.mediaType, manifest.config.digest], ['application/vnd.docker.container.image.v1+json', image.config]);
    assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), image.layers.map((d) => ['application/vnd.docker.image.rootfs.diff.tar.gzip', d]));
    // skopeo turns it back into an OCI layout (converting as it goes): the image is whole.
    const back = join(tmp.path, 'from-docker-format');
    run('skopeo', ['copy', '--src-tls-verify=false', '--format', 'oci', `docker://${registry.host}/docker-format:1`, `oci:${back}:app`]);
    validateLayout(back, 'app');
  });

  it('an image named by digest is written by digest: no tag moves', async () => {
    const r = await runCliAsync(['mutate', `${registry.host}/app@${image.manifest.digest}`, '--workdir', '/srv'], { env });
    assertOk(r);
    const digest = r.stdout.trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(skopeoConfig(`${registry.host}/app@${digest}`).config?.WorkingDir, '/srv');
    assert.equal((await skopeoRaw(`${registry.host}/app:keep`)).digest, image.manifest.digest);
    assert.match(r.stderr, new RegExp(`into ${registry.host}/app@${digest} `));
  });

  it('changes an image of a layout in place, as umoci and oci-image-tool read it', async () => {
    const layout = join(tmp.path, 'in-place');
    cpSync(image.layout, layout, { recursive: true });
    assertOk(await runCliAsync(['mutate', `oci:${layout}:v1`, '--env', 'MODE=prod', '--label', 'rev=abc', '--cmd', 'serve --port 80'], { env }));
    validateLayout(layout, 'v1');
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { env: string[]; args: string[] }; annotations: Record<string, string> };
    assert.deepEqual(spec.process.args, ['serve', '--port', '80']);
    assert.ok(spec.process.env.includes('MODE=prod') && spec.process.env.includes('PATH=/usr/bin'), spec.process.env.join(' '));
    assert.equal(spec.annotations.rev, 'abc');
    assert.equal(spec.annotations.team, 'web');
  });

  it('a relative --workdir is resolved as WORKDIR resolves it, against the base\'s: the cwd umoci gives runc is absolute', async () => {
    const rootfs = join(tmp.path, 'workdir-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'f'), 'f\n');
    const layout = join(tmp.path, 'workdir');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'plain', '--workdir', 'app'], { env }));
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'base', '--workdir', '/srv'], { env }));
    assertOk(await runCliAsync(['build', rootfs, '--base', `oci:${layout}:base`, '--layout', layout, '--tag', 'onto', '--workdir', 'app/../www'], { env }));
    assertOk(await runCliAsync(['mutate', `oci:${layout}:onto`, `oci:${layout}:mutated`, '--workdir', 'html'], { env }));
    const cwd = (tag: string) => {
      const bundle = join(tmp.path, `workdir-${tag}`);
      run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
      return (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { cwd: string } }).process.cwd;
    };
    assert.equal(cwd('plain'), '/app');
    assert.equal(cwd('onto'), '/srv/www');
    assert.equal(cwd('mutated'), '/srv/www/html');
  });

  it('a layout built onto a registry base stays lazy: its base layers are not fetched, and push still sends the change', async () => {
    const rootfs = join(tmp.path, 'app-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    const layout = join(tmp.path, 'lazy');
    assertOk(await runCliAsync(['build', rootfs, '--base', `${registry.host}/app:keep`, '--layout', layout, '--tag', 'app'], { env }));
    assertOk(await runCliAsync(['mutate', `oci:${layout}:app`, '--label', 'stage=lazy'], { env }));
    for (const layer of image.layers) assert.ok(!existsSync(blobPath(layout, layer)), `base layer ${layer} is still only referenced`);
    assertOk(await runCliAsync(['push', `${registry.host}/lazy:1`, '--layout', layout, '--tag', 'app'], { env }));
    assert.deepEqual(skopeoConfig(`${registry.host}/lazy:1`).config?.Labels, { stage: 'lazy', team: 'web' });
  });

  it('from a layout built onto a registry base into that registry: the base layers are mounted from their repository, never fetched into the layout', async () => {
    const layout = join(tmp.path, 'lazy-out');
    assertOk(await runCliAsync(['build', join(tmp.path, 'app-rootfs'), '--base', `${registry.host}/app:keep`, '--layout', layout, '--tag', 'app'], { env }));
    await registry.forgetAccessLog();
    const r = await runCliAsync(['mutate', `oci:${layout}:app`, `${registry.host}/lazy-out:1`, '--label', 'stage=out', '--json'], { env });
    assertOk(r);
    const log = await registry.settledAccessLog();
    assert.deepEqual(log.filter((e) => e.method === 'GET' && e.uri.includes('/blobs/')).map((e) => e.uri), [], 'no base layer downloaded');
    assert.equal(log.filter((e) => e.method === 'POST' && e.uri.includes('mount=')).length, image.layers.length, 'each base layer mounted');
    for (const layer of image.layers) assert.ok(!existsSync(blobPath(layout, layer)), `base layer ${layer} is still only referenced`);
    assert.deepEqual(skopeoConfig(`${registry.host}/lazy-out:1`).config?.Labels, { stage: 'out', team: 'web' });
  });

  it('refuses what it cannot do with one line, before anything is written', async () => {
    await registry.forgetAccessLog();
    assertOneLineError(await runCliAsync(['mutate', `${registry.host}/app:1`], { env }), /^ocipush: mutate: nothing to change; give --label/, 2);
    assertOneLineError(await runCliAsync(['mutate', `${registry.host}/app:1`, '--label', 'novalue'], { env }), /^ocipush: --label "novalue": expected KEY=VALUE/, 2);
    assertOneLineError(await runCliAsync(['mutate', `docker-archive:${join(tmp.path, 'x.tar')}`, '--label', 'a=b'], { env }), /^ocipush: docker-archive:.*x\.tar: an archive is not rewritten in place; name a destination/, 2);
    assertOneLineError(await runCliAsync(['mutate', `${registry.host}/app:missing`, '--label', 'a=b'], { env }), /^ocipush: .*app:missing.*not found/);
    assert.ok(await skopeoFails(`${registry.host}/app:missing`));
    assert.deepEqual((await registry.settledAccessLog()).filter((e) => e.method === 'PUT' || e.method === 'POST'), []);
  });
});
