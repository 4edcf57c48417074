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
const digests = new Map<string, string>();
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };

/** The digest of the manifest skopeo copies out of `ref` for amd64 with `variant`. */
function skopeoChoice(variant?: string): string {
  const dir = join(tmp.path, `skopeo-${variant ?? 'none'}`);
  run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--override-os', 'linux', '--override-arch', 'amd64',
    ...(variant ? ['--override-variant', variant] : []), `docker://${ref}`, `oci:${dir}:x`]);
  return (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;
}

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-variants-');
  registry = await startRegistry();
  const layout = join(tmp.path, 'layout');
  for (const [tag, platform] of [['v3', 'linux/amd64/v3'], ['plain', 'linux/amd64'], ['arm64', 'linux/arm64']] as const) {
    const dir = join(tmp.path, tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), `${platform}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', tag, '--platform', platform], { env }));
    digests.set(tag, (await (await OciLayout.open(layout)).resolve(tag)).digest);
  }
  assertOk(await runCliAsync(['index', 'create', 'v3', 'plain', 'arm64', '--tag', 'app', '--layout', layout], { env }));
  ref = `${registry.host}/variants/app:1`;
  assertOk(await runCliAsync(['push', ref, '--layout', layout, '--tag', 'app'], { env }));
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
