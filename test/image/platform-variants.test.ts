import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';

/**
 * An index holding an amd64/v3 image before the plain amd64 one (a release that ships a build for
 * newer CPUs): `--platform linux/amd64` is the plain image, the one a v1 CPU runs, as skopeo's
 * `--override-arch amd64` and containerd choose; `linux/amd64/v1` is that image too, and
 * `linux/amd64/v3` the other.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let ref: string;
let older: string;
const digests = new Map<string, string>();
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };

/** The digest of the manifest skopeo copies out of `from` for `arch` (amd64) with `variant`. */
function skopeoChoice(variant?: string, arch = 'amd64', from = ref): string {
  const dir = join(tmp.path, `skopeo-${arch}-${variant ?? 'none'}-${from.length}`);
  run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--override-os', 'linux', '--override-arch', arch,
    ...(variant ? ['--override-variant', variant] : []), `docker://${from}`, `oci:${dir}:x`]);
  return (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;
}

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-variants-');
  registry = await startRegistry();
  const layout = join(tmp.path, 'layout');
  for (const [tag, platform] of [['v3', 'linux/amd64/v3'], ['plain', 'linux/amd64'], ['arm64', 'linux/arm64'], ['arm-v5', 'linux/arm/v5'], ['arm-v6', 'linux/arm/v6']] as const) {
    const dir = join(tmp.path, tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), `${platform}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', tag, '--platform', platform], { env }));
    digests.set(tag, (await (await OciLayout.open(layout)).resolve(tag)).digest);
  }
  assertOk(await runCliAsync(['index', 'create', 'v3', 'plain', 'arm64', '--tag', 'app', '--layout', layout], { env }));
  ref = `${registry.host}/variants/app:1`;
  assertOk(await runCliAsync(['push', ref, '--layout', layout, '--tag', 'app'], { env }));
  // What images for older CPUs only ship: arm/v5 and arm/v6 (no v7), and a plain amd64 (no v3).
  assertOk(await runCliAsync(['index', 'create', 'arm-v5', 'arm-v6', 'plain', '--tag', 'older', '--layout', layout], { env }));
  older = `${registry.host}/variants/older:1`;
  assertOk(await runCliAsync(['push', older, '--layout', layout, '--tag', 'older'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('an amd64 variant listed before the plain amd64 image', () => {
  it('digest, manifest and pull --platform linux/amd64 give the plain image, as skopeo --override-arch amd64 does', async () => {
    assert.equal(skopeoChoice(), digests.get('plain'));
    const digest = await runCliAsync(['digest', ref, '--platform', 'linux/amd64'], { env });
    assertOk(digest);
    assert.equal(digest.stdout.trim(), digests.get('plain'));
    const manifest = await runCliAsync(['manifest', ref, '--platform', 'linux/amd64'], { env });
    assertOk(manifest);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/variants/app@${digests.get('plain')}`]);
    assert.equal(manifest.stdout, raw);
    const pulled = join(tmp.path, 'pulled');
    assertOk(await runCliAsync(['pull', ref, '--layout', pulled, '--platform', 'linux/amd64'], { env }));
    assert.equal((await (await OciLayout.open(pulled)).resolve('1')).digest, digests.get('plain'));
  });

  it('validate --platform linux/amd64 (and linux/amd64/v3) checks the one image pull takes, not the other variant as well', async () => {
    for (const [platform, tag] of [['linux/amd64', 'plain'], ['linux/amd64/v3', 'v3'], ['linux/arm64/v8', 'arm64']] as const) {
      const validated = await runCliAsync(['validate', ref, '--platform', platform, '--json'], { env });
      assertOk(validated);
      const images = (JSON.parse(validated.stdout) as { manifests: { digest: string; kind: string }[] }).manifests.filter((m) => m.kind === 'image');
      assert.deepEqual(images.map((m) => m.digest), [digests.get(tag)], platform);
    }
  });

  it('linux/amd64/v1 is the plain image and linux/amd64/v3 the v3 one, as skopeo --override-variant reads them', async () => {
    for (const [variant, tag] of [['v1', 'plain'], ['v3', 'v3']] as const) {
      assert.equal(skopeoChoice(variant), digests.get(tag));
      const copied = join(tmp.path, `copied-${variant}`);
      const r = await runCliAsync(['copy', ref, `oci:${copied}:x`, '--platform', `linux/amd64/${variant}`], { env });
      assertOk(r);
      assert.equal((await (await OciLayout.open(copied)).resolve('x')).digest, digests.get(tag), `linux/amd64/${variant}`);
    }
  });
});

describe('an index without the variant asked for', () => {
  it('linux/arm/v7 (and linux/arm) is the arm/v6 image, not the v5 listed first, and linux/amd64/v3 the plain amd64, as skopeo --override-variant falls back', async () => {
    for (const [platform, arch, variant, tag] of [['linux/arm/v7', 'arm', 'v7', 'arm-v6'], ['linux/arm', 'arm', undefined, 'arm-v6'], ['linux/amd64/v3', 'amd64', 'v3', 'plain']] as const) {
      if (variant) assert.equal(skopeoChoice(variant, arch, older), digests.get(tag), `skopeo ${platform}`);
      const digest = await runCliAsync(['digest', older, '--platform', platform], { env });
      assertOk(digest);
      assert.equal(digest.stdout.trim(), digests.get(tag), platform);
      const pulled = join(tmp.path, `older-${platform.replaceAll('/', '-')}`);
      assertOk(await runCliAsync(['pull', older, '--layout', pulled, '--platform', platform], { env }));
      assert.equal((await (await OciLayout.open(pulled)).resolve('1')).digest, digests.get(tag), `pull ${platform}`);
      // validate --platform checks what pull takes.
      const validated = await runCliAsync(['validate', older, '--platform', platform, '--json'], { env });
      assertOk(validated);
      assert.deepEqual((JSON.parse(validated.stdout) as { manifests: { digest: string; kind: string }[] }).manifests.filter((m) => m.kind === 'image').map((m) => m.digest), [digests.get(tag)], `validate ${platform}`);
    }
  });

  it('never a higher variant nor another architecture: linux/arm/v5 is the v5 image, arm64 has none', async () => {
    const v5 = await runCliAsync(['digest', older, '--platform', 'linux/arm/v5'], { env });
    assertOk(v5);
    assert.equal(v5.stdout.trim(), digests.get('arm-v5'));
    const arm64 = await runCliAsync(['digest', older, '--platform', 'linux/arm64'], { env });
    assert.equal(arm64.status, 1);
    assert.match(arm64.stderr, /no manifest for linux\/arm64 \(the index has: linux\/arm\/v5, linux\/arm\/v6, linux\/amd64\)\n$/);
  });
});

describe('arm64 levels (v8.x, v9.x) an index has no image of', () => {
  it('linux/arm64/v9, v8.2 and v8.0 are the plain arm64 image, as skopeo --override-variant and containerd take it; pull and validate too', async () => {
    for (const variant of ['v9', 'v8.2', 'v8.0']) {
      const platform = `linux/arm64/${variant}`;
      assert.equal(skopeoChoice(variant, 'arm64'), digests.get('arm64'), `skopeo ${platform}`);
      const digest = await runCliAsync(['digest', ref, '--platform', platform], { env });
      assertOk(digest);
      assert.equal(digest.stdout.trim(), digests.get('arm64'), platform);
      const pulled = join(tmp.path, `arm64-${variant}`);
      assertOk(await runCliAsync(['pull', ref, '--layout', pulled, '--platform', platform], { env }));
      assert.equal((await (await OciLayout.open(pulled)).resolve('1')).digest, digests.get('arm64'), `pull ${platform}`);
      const validated = await runCliAsync(['validate', ref, '--platform', platform, '--json'], { env });
      assertOk(validated);
      assert.deepEqual((JSON.parse(validated.stdout) as { manifests: { digest: string; kind: string }[] }).manifests.filter((m) => m.kind === 'image').map((m) => m.digest), [digests.get('arm64')], `validate ${platform}`);
    }
  });

  it('after the plain arm64 image, an arm64/v8.2 one: v9 and v8.3 take the v8.2 one (the highest level below, containerd\'s order), v8.1 the plain one', async () => {
    const layout = join(tmp.path, 'levels');
    const dir = join(tmp.path, 'v8.2');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), 'linux/arm64/v8.2\n');
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', 'v8.2', '--platform', 'linux/arm64/v8.2'], { env }));
    const v82 = (await (await OciLayout.open(layout)).resolve('v8.2')).digest;
    const levels = `${registry.host}/variants/levels:1`;
    assertOk(await runCliAsync(['copy', ref, `oci:${layout}:app`], { env }));
    assertOk(await runCliAsync(['index', 'create', `${digests.get('arm64')}`, 'v8.2', '--tag', 'levels', '--layout', layout], { env }));
    assertOk(await runCliAsync(['push', levels, '--layout', layout, '--tag', 'levels'], { env }));
    for (const [variant, want] of [['v9', v82], ['v8.3', v82], ['v8.2', v82], ['v8.1', digests.get('arm64')]] as const) {
      const digest = await runCliAsync(['digest', levels, '--platform', `linux/arm64/${variant}`], { env });
      assertOk(digest);
      assert.equal(digest.stdout.trim(), want, variant);
    }
  });
});

describe('--platform of one word, as docker and containerd take it', () => {
  it('an architecture is Linux\'s (arm64, aarch64), an os this machine\'s architecture on it (linux): digest, pull and build take them as skopeo --override-arch does', async () => {
    const hostArch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];
    const words: [string, string][] = [['arm64', 'arm64'], ['AArch64', 'arm64'], ...(hostArch ? [['linux', hostArch] as [string, string]] : [])];
    for (const [word, arch] of words) {
      const want = skopeoChoice(undefined, arch);
      const digest = await runCliAsync(['digest', ref, '--platform', word], { env });
      assertOk(digest);
      assert.equal(digest.stdout.trim(), want, word);
      const pulled = join(tmp.path, `word-${word}`);
      assertOk(await runCliAsync(['pull', ref, '--layout', pulled, '--platform', word], { env }));
      assert.equal((await (await OciLayout.open(pulled)).resolve('1')).digest, want, `pull ${word}`);
    }
    const dir = join(tmp.path, 'word-build');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'f'), 'f\n');
    const layout = join(tmp.path, 'word-layout');
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', 'a', '--platform', 'aarch64'], { env }));
    const config = JSON.parse(run('skopeo', ['inspect', '--config', '--raw', `oci:${layout}:a`])) as { os: string; architecture: string; variant?: string };
    assert.deepEqual([config.os, config.architecture, config.variant], ['linux', 'arm64', undefined]);
  });

  it('a word that is neither: one line naming it, exit 2, before any request', async () => {
    const r = await runCliAsync(['digest', ref, '--platform', 'amd65'], { env });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'ocipush: --platform "amd65": "amd65" is neither an os nor an architecture the OCI image spec names; expected os/arch[/variant], e.g. linux/amd64 (--unlisted-platform takes it as it is)\n');
  });
});
