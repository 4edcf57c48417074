import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { sha256 } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { validate } from '../cli/json-schema.js';

/**
 * One tag for Windows Server 2019 and 2022 (and Linux), as mcr.microsoft.com's images are: the
 * Windows images differ only by os.version, which --platform names as crane takes it
 * (`windows/amd64:10.0.20348.887`) or containerd (`windows(10.0.20348)/amd64`, a build's updates).
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let ref: string;
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };
interface Index { manifests: { digest: string; platform: { os: string; architecture: string; 'os.version'?: string } }[] }
const raw = (reference: string): string => run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reference}`]);
const digestOf = (reference: string): string => sha256(Buffer.from(raw(reference)));
let byVersion: Map<string, string>;

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-os-version-');
  registry = await startRegistry();
  const layout = join(tmp.path, 'layout');
  const dir = join(tmp.path, 'linux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'os'), 'linux\n');
  assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', 'linux', '--platform', 'linux/amd64'], { env }));
  const store = await OciLayout.open(layout);
  for (const version of ['10.0.17763.1234', '10.0.20348.887']) {
    const layer = await store.putBytes(MediaType.OciLayer, Buffer.alloc(1024));
    const config = await store.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'windows', 'os.version': version, rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
    const manifest = await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
    await store.tag(manifest, `windows-${version}`);
  }
  await store.close();
  assertOk(await runCliAsync(['index', 'create', 'windows-10.0.17763.1234', 'windows-10.0.20348.887', 'linux', '--tag', 'all', '--layout', layout], { env }));
  ref = `${registry.host}/win/app:1`;
  assertOk(await runCliAsync(['push', ref, '--layout', layout, '--tag', 'all'], { env }));
  const index = JSON.parse(raw(ref)) as Index;
  byVersion = new Map(index.manifests.map((m) => [m.platform['os.version'] ?? m.platform.os, m.digest]));
  assert.equal(byVersion.size, 3);
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('--platform with an os.version', () => {
  it('digest, config and inspect choose the Windows image of that os.version, in crane\'s form or containerd\'s (a build stands for its updates)', async () => {
    for (const [platform, version] of [
      ['windows/amd64:10.0.20348.887', '10.0.20348.887'], ['windows(10.0.20348)/amd64', '10.0.20348.887'],
      ['Windows/AMD64:10.0.17763.1234', '10.0.17763.1234'], ['windows(10.0.17763)/amd64', '10.0.17763.1234'],
    ] as const) {
      const digest = await runCliAsync(['digest', ref, '--platform', platform], { env });
      assertOk(digest);
      assert.equal(digest.stdout.trim(), byVersion.get(version), platform);
      const config = await runCliAsync(['config', ref, '--platform', platform], { env });
      assertOk(config);
      assert.equal((JSON.parse(config.stdout) as { 'os.version': string })['os.version'], version);
    }
    const shown = await runCliAsync(['inspect', ref, '--platform', 'windows/amd64:10.0.20348'], { env });
    assertOk(shown);
    assert.match(shown.stdout, /^Platform: +windows\/amd64 \(os\.version 10\.0\.20348\.887\)$/m);
  });

  it('build -f (FROM) and build --base build onto the Windows image of that os.version, as skopeo reads the result', async () => {
    const dir = join(tmp.path, 'dockerfile');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${ref}\nLABEL built=1\n`);
    const layout = join(tmp.path, 'built');
    assertOk(await runCliAsync(['build', '-f', join(dir, 'Dockerfile'), dir, '--layout', layout, '--tag', 'f', '--platform', 'windows/amd64:10.0.20348.887'], { env }));
    assertOk(await runCliAsync(['build', '--base', ref, '--layout', layout, '--tag', 'b', '--label', 'built=1', '--platform', 'windows(10.0.20348)/amd64'], { env }));
    for (const tag of ['f', 'b']) {
      const config = JSON.parse(run('skopeo', ['inspect', '--config', '--raw', `oci:${layout}:${tag}`])) as { 'os.version': string };
      assert.equal(config['os.version'], '10.0.20348.887', tag);
      const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`])) as { annotations: Record<string, string> };
      assert.equal(manifest.annotations['org.opencontainers.image.base.digest'], byVersion.get('10.0.20348.887'), tag);
    }
  });

  it('copy and pull take that image, and a list keeps only the entries asked for, which skopeo reads', async () => {
    const one = `${registry.host}/win/one:1`;
    assertOk(await runCliAsync(['copy', ref, one, '--platform', 'windows/amd64:10.0.20348.887'], { env }));
    assert.equal(digestOf(one), byVersion.get('10.0.20348.887'));
    const two = `${registry.host}/win/two:1`;
    assertOk(await runCliAsync(['copy', ref, two, '--platform', 'linux/amd64,windows(10.0.17763)/amd64'], { env }));
    const narrowed = JSON.parse(raw(two)) as Index;
    assert.deepEqual(narrowed.manifests.map((m) => m.digest), [byVersion.get('10.0.17763.1234'), byVersion.get('linux')]);
    const layout = join(tmp.path, 'pulled');
    assertOk(await runCliAsync(['pull', ref, '--layout', layout, '--tag', 'w', '--platform', 'windows/amd64:10.0.17763.1234'], { env }));
    const pulled = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as Index;
    assert.deepEqual(pulled.manifests.map((m) => m.digest), [byVersion.get('10.0.17763.1234')]);
  });

  it('an os.version the index lacks: one line naming it and every os.version there; a malformed one is a usage error', async () => {
    const listing = 'windows/amd64 \\(os\\.version 10\\.0\\.17763\\.1234\\), windows/amd64 \\(os\\.version 10\\.0\\.20348\\.887\\), linux/amd64';
    assertOneLineError(await runCliAsync(['digest', ref, '--platform', 'windows/amd64:10.0.26100'], { env }),
      new RegExp(`no manifest for windows/amd64:10\\.0\\.26100 \\(the index has: ${listing}\\)$`));
    assertOneLineError(await runCliAsync(['copy', ref, `${registry.host}/win/none:1`, '--platform', 'linux/amd64,windows/amd64:10.0.26100'], { env }),
      new RegExp(`has no image for windows/amd64:10\\.0\\.26100 \\(it has: ${listing}\\)$`));
    assertOneLineError(await runCliAsync(['digest', ref, '--platform', 'windows/amd64:10.0 17763'], { env }), /invalid os\.version "10\.0 17763"/, 2);
  });
});

describe('the Windows images of one tag in mutate and validate', () => {
  it('are told apart by their os.version: in the lines, and in --json beside the platform, as index create names them', async () => {
    const mutated = await runCliAsync(['mutate', ref, `${registry.host}/win/labelled:1`, '--label', 'k=v', '--json'], { env });
    assertOk(mutated);
    const report = JSON.parse(mutated.stdout) as { images: { platform: string; osVersion?: string }[] };
    assert.deepEqual(validate('mutate.schema.json', report), []);
    assert.deepEqual(report.images.map((i) => [i.platform, i.osVersion]), [['windows/amd64', '10.0.17763.1234'], ['windows/amd64', '10.0.20348.887'], ['linux/amd64', undefined]]);
    assert.match(mutated.stderr, /^windows\/amd64 \(os\.version 10\.0\.20348\.887\) sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}$/m);
    const labelled = JSON.parse(raw(`${registry.host}/win/labelled:1`)) as Index;
    assert.deepEqual(labelled.manifests.map((m) => m.platform['os.version']), ['10.0.17763.1234', '10.0.20348.887', undefined]);
    const validated = await runCliAsync(['validate', ref, '--json'], { env });
    assertOk(validated);
    const checked = JSON.parse(validated.stdout) as { manifests: { digest: string; osVersion?: string }[] };
    assert.deepEqual(validate('validate.schema.json', checked), []);
    for (const [version, digest] of byVersion) if (version.startsWith('10.')) assert.equal(checked.manifests.find((m) => m.digest === digest)?.osVersion, version);
  });
});

describe('rebase of a tag with Windows Server 2019 and 2022 images', () => {
  it('puts each image onto the base of its own release (its os.version\'s build), in the new base\'s update: not both onto the first Windows base; the index names the new os.version', async () => {
    const layout = join(tmp.path, 'rebase');
    const store = await OciLayout.open(layout, { create: true });
    const layer = async (text: string) => {
      const bytes = Buffer.from(text.padEnd(1024, '.'));
      return { descriptor: await store.putBytes(MediaType.OciLayer, bytes), diffId: sha256(bytes) };
    };
    const image = async (version: string, layers: { descriptor: Descriptor; diffId: string }[], tag: string) => {
      const config = await store.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'windows', 'os.version': version, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } });
      await store.tag(await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: layers.map((l) => l.descriptor) }), tag);
    };
    const newLayers = new Map<string, string>();
    for (const build of ['17763', '20348']) {
      const base = await layer(`base ${build}, first update`);
      await image(`10.0.${build}.1`, [base], `old-${build}`);
      await image(`10.0.${build}.1`, [base, await layer(`app on ${build}`)], `app-${build}`);
      const patched = await layer(`base ${build}, second update`);
      newLayers.set(build, patched.descriptor.digest);
      await image(`10.0.${build}.2`, [patched], `new-${build}`);
    }
    await store.close();
    for (const name of ['old', 'new', 'app']) assertOk(await runCliAsync(['index', 'create', `${name}-17763`, `${name}-20348`, '--tag', name, '--layout', layout], { env }));
    const rebased = `${registry.host}/win/rebased:1`;
    const r = await runCliAsync(['rebase', `oci:${layout}:app`, rebased, '--old-base', `oci:${layout}:old`, '--new-base', `oci:${layout}:new`, '--json'], { env });
    assertOk(r);
    assert.match(r.stderr, /^windows\/amd64 \(os\.version 10\.0\.20348\.1\): base sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}$/m);
    const index = JSON.parse(raw(rebased)) as Index;
    // The index says each image's new os.version, which a Windows host chooses by.
    assert.deepEqual(index.manifests.map((m) => m.platform['os.version']), ['10.0.17763.2', '10.0.20348.2']);
    for (const entry of index.manifests) {
      const manifest = JSON.parse(raw(`${registry.host}/win/rebased@${entry.digest}`)) as { layers: { digest: string }[]; config: { digest: string } };
      const config = JSON.parse(run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/win/rebased@${entry.digest}`])) as { 'os.version': string };
      const build = config['os.version'].split('.')[2]!;
      assert.equal(manifest.layers[0]!.digest, newLayers.get(build), `the ${build} image is on the ${build} base`);
      assert.equal(config['os.version'], `10.0.${build}.2`);
    }
  });
});

