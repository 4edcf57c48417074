import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir, validateLayout } from '../support/tools.js';
import { assertSameTree } from '../assemble/support.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { validate } from './json-schema.js';
import { makeLayeredImage } from './layered-image.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;
let original: string;
const env = envWith();

interface Manifest {
  config: { digest: string };
  layers: { mediaType: string; digest: string; size: number }[];
  annotations?: Record<string, string>;
}

function blob(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

/** The manifest and config of a layout's tagged image, as umoci or skopeo wrote them. */
function imageOf(dir: string, tag: string): { manifest: Manifest; config: { rootfs: { diff_ids: string[] }; history?: { created_by?: string }[]; config?: Record<string, unknown> } } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const manifest = JSON.parse(blob(dir, entry.digest).toString()) as Manifest;
  return { manifest, config: JSON.parse(blob(dir, manifest.config.digest).toString()) };
}

function unpack(image: string, name: string): string {
  const bundle = join(tmp.path, name);
  run('umoci', ['unpack', '--image', image, bundle]);
  return join(bundle, 'rootfs');
}

/** The seven-layer image umoci built (layered-image.ts), unpacked by umoci, and pushed. */
before(async () => {
  requireTool('umoci');
  requireTool('skopeo');
  tmp = await tempDir();
  layout = makeLayeredImage(tmp.path);
  original = unpack(`${layout}:t`, 'original');
  registry = await startRegistry();
  assertOk(await runCliAsync(['push', `${registry.host}/flat/app:1`, '--layout', layout, '--tag', 't'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('flatten', () => {
  it('makes the seven layers one whose tree is what umoci unpacks of the original, and keeps the config', async () => {
    const out = join(tmp.path, 'out');
    const r = await runCliAsync(['flatten', `oci:${layout}:t`, `oci:${out}:flat`, '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { digest: string; flattened: { layers: number; layer: { digest: string } }[] };
    assert.deepEqual(validate('flatten.schema.json', report), [], r.stdout);
    assert.match(r.stderr, /linux\/amd64: 7 layers -> 1, sha256:/);
    const before = imageOf(layout, 't');
    const { manifest, config } = imageOf(out, 'flat');
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(report.flattened[0]!.layer.digest, manifest.layers[0]!.digest);
    assert.equal(config.rootfs.diff_ids.length, 1);
    assert.deepEqual(config.history?.map((h) => h.created_by), [`ocipush flatten ${JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest}`]);
    assert.deepEqual(config.config, before.config.config, 'the run config stays');
    validateLayout(out, 'flat');
    assertSameTree(original, unpack(`${out}:flat`, 'flat'));
    // The same bytes each time: a dry run names the digest the written image has.
    const dry = await runCliAsync(['flatten', `oci:${layout}:t`, `oci:${out}:again`, '--dry-run', '--json'], { env });
    assertOk(dry);
    assert.equal((JSON.parse(dry.stdout) as { digest: string }).digest, report.digest);
  });

  it('flattens registry to registry, every platform of an index, and drops the base annotations', async () => {
    const built = join(tmp.path, 'built');
    for (const arch of ['amd64', 'arm64']) {
      const dirs = ['base', 'app'].map((part) => {
        const dir = join(tmp.path, `${arch}-${part}`);
        mkdirSync(join(dir, 'srv'), { recursive: true });
        writeFileSync(join(dir, 'srv', part), `${arch} ${part}\n`);
        return dir;
      });
      assertOk(await runCliAsync(['build', ...dirs, '--layout', built, '--tag', arch, '--platform', `linux/${arch}`], { env }));
    }
    assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--tag', 'multi', '--layout', built], { env }));
    const source = `${registry.host}/flat/multi:1`;
    assertOk(await runCliAsync(['push', source, '--layout', built, '--tag', 'multi'], { env }));
    assertOk(await runCliAsync(['mutate', source, '--annotation', 'org.opencontainers.image.base.name=example.com/base:1', '--annotation', 'keep=me'], { env }));
    const r = await runCliAsync(['flatten', source, `${registry.host}/flat/flat:1`], { env });
    assertOk(r);
    assert.match(r.stderr, /linux\/amd64: 2 layers -> 1/);
    assert.match(r.stderr, /linux\/arm64: 2 layers -> 1/);
    // What skopeo fetches of each platform is one layer holding both parts, and validates.
    for (const arch of ['amd64', 'arm64']) {
      const copy = join(tmp.path, `skopeo-${arch}`);
      run('skopeo', ['copy', '--src-tls-verify=false', '--override-arch', arch, `docker://${registry.host}/flat/flat:1`, `oci:${copy}:x`]);
      const { manifest } = imageOf(copy, 'x');
      assert.equal(manifest.layers.length, 1);
      assert.equal(manifest.annotations?.['org.opencontainers.image.base.name'], undefined);
      const tree = unpack(`${copy}:x`, `unpacked-${arch}`);
      assert.equal(readFileSync(join(tree, 'srv', 'base'), 'utf8'), `${arch} base\n`);
      assert.equal(readFileSync(join(tree, 'srv', 'app'), 'utf8'), `${arch} app\n`);
    }
    assertOk(await runCliAsync(['validate', `${registry.host}/flat/flat:1`], { env }));
  });

  it('names an arm/v6 image whose config leaves out the variant (buildah manifest add --variant) linux/arm/v6, as skopeo picks it', async () => {
    const buildah = requireTool('buildah');
    const store = ['--storage-driver', 'vfs', '--root', join(tmp.path, 'buildah-root'), '--runroot', join(tmp.path, 'buildah-run')];
    const dir = join(tmp.path, 'arm-v6');
    const dirs = ['base', 'app'].map((part) => {
      const d = join(tmp.path, `arm-v6-${part}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, part), `${part}\n`);
      return d;
    });
    assertOk(await runCliAsync(['build', ...dirs, '--platform', 'linux/arm', '--layout', dir, '--tag', 'plain'], { env }));
    run(buildah, [...store, 'manifest', 'create', 'arm-v6']);
    run(buildah, [...store, 'manifest', 'add', '--variant', 'v6', 'arm-v6', `oci:${dir}:plain`]);
    run(buildah, [...store, 'manifest', 'push', '--all', 'arm-v6', `oci:${dir}:list`]);
    const r = await runCliAsync(['flatten', `oci:${dir}:list`, `oci:${dir}:flat`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { images: { platform: string }[]; flattened: { platform: string }[] };
    assert.deepEqual([out.images.map((i) => i.platform), out.flattened.map((f) => f.platform)], [['linux/arm/v6'], ['linux/arm/v6']]);
    const copy = join(tmp.path, 'arm-v6-copy');
    run('skopeo', ['copy', '--override-arch', 'arm', '--override-variant', 'v6', `oci:${dir}:flat`, `oci:${copy}:x`]);
    assert.equal(imageOf(copy, 'x').manifest.layers.length, 1);
  });

  it('--dry-run of an image built lazily onto a registry base writes nothing: the base layer is read where it lives, the layout stays lazy', async () => {
    const app = join(tmp.path, 'lazy-app');
    mkdirSync(join(app, 'srv'), { recursive: true });
    writeFileSync(join(app, 'srv', 'app'), 'app on a lazy base\n');
    const dir = join(tmp.path, 'lazy-layout');
    assertOk(await runCliAsync(['build', app, '--base', `${registry.host}/flat/app:1`, '--layout', dir, '--tag', 'lazy'], { env }));
    const files = () => run('find', [dir, '-type', 'f', '!', '-path', '*/.ocipush-cache/*']).split('\n').sort();
    const notes = () => readFileSync(join(dir, '.ocipush-remote-blobs.json'), 'utf8');
    const [before, notesBefore] = [files(), notes()];
    await registry.forgetAccessLog();
    const dry = await runCliAsync(['flatten', `oci:${dir}:lazy`, '--dry-run', '--json'], { env });
    assertOk(dry);
    assert.ok((await registry.settledAccessLog()).some((e) => e.method === 'GET' && e.path.includes('/blobs/')), 'the base layers were read from the registry');
    assert.deepEqual(files(), before, 'no blob kept in the layout');
    assert.equal(notes(), notesBefore);
    // The digest the dry run reported is the one the flatten makes.
    const flat = await runCliAsync(['flatten', `oci:${dir}:lazy`, '--json'], { env });
    assertOk(flat);
    const digestOf = (stdout: string) => (JSON.parse(stdout) as { digest: string }).digest;
    assert.match(digestOf(dry.stdout), /^sha256:[0-9a-f]{64}$/);
    assert.equal(digestOf(flat.stdout), digestOf(dry.stdout));
  });

  it('leaves an image of one layer as it is', async () => {
    const one = join(tmp.path, 'one');
    mkdirSync(join(one, 'etc'), { recursive: true });
    writeFileSync(join(one, 'etc', 'hostname'), 'one\n');
    const dir = join(tmp.path, 'one-layout');
    assertOk(await runCliAsync(['build', one, '--layout', dir, '--tag', 'one'], { env }));
    const r = await runCliAsync(['flatten', `oci:${dir}:one`], { env });
    assertOk(r);
    assert.match(r.stderr, /already is what this makes/);
  });

  it('refuses a Windows image, alone or in an index, with one line, the layout as it was: Windows applies its layers itself (registry deltas)', async () => {
    const dir = join(tmp.path, 'windows-layout');
    const files = (name: string, path: string) => {
      const root = join(tmp.path, name);
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), `${name}\n`);
      return root;
    };
    // Laid out as Windows layers are: files under Files/, registry changes as Hives/*_Delta.
    assertOk(await runCliAsync(['build', files('win-base', 'Files/Windows/win.ini'), files('win-app', 'Hives/Software_Delta'), '--platform', 'windows/amd64', '--layout', dir, '--tag', 'win'], { env }));
    assertOk(await runCliAsync(['build', files('lin-1', 'etc/a'), files('lin-2', 'etc/b'), '--layout', dir, '--tag', 'lin'], { env }));
    assertOk(await runCliAsync(['index', 'create', 'lin', 'win', '--layout', dir, '--tag', 'both'], { env }));
    const before = readFileSync(join(dir, 'index.json'), 'utf8');
    for (const tag of ['win', 'both']) {
      const r = await runCliAsync(['flatten', `oci:${dir}:${tag}`, `oci:${dir}:flat`], { env });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: oci:\\S+:${tag} \\(windows/amd64\\) is a Windows image: its layers are applied by Windows \\(registry deltas onto the base layer\\), and ocipush cannot merge them into one; nothing flattened\\n$`));
    }
    assert.equal(readFileSync(join(dir, 'index.json'), 'utf8'), before);
  });
});
