import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageConfig } from '../../src/oci/manifest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoRaw } from './copy-support.js';

/**
 * An image build made for linux/arm/v7 onto a base index that has arm/v6 and no arm/v7 (as
 * BuildKit's FROM takes it): its base.digest names the arm/v6 image. Rebase takes the bases as
 * build took them, so that image is rebased, and stays for arm/v7.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
const env = envWith(undefined, { SOURCE_DATE_EPOCH: '0' });
const digests: Record<string, string> = {};

function dir(name: string, files: Record<string, string>): string {
  const path = join(tmp.path, name);
  mkdirSync(path, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
  return path;
}

/** The base index `older:1` of version `version`: arm/v6 and amd64, no arm/v7. */
async function pushBases(version: string): Promise<void> {
  const layout = join(tmp.path, `bases-${version}`);
  for (const [tag, platform] of [['arm-v6', 'linux/arm/v6'], ['amd64', 'linux/amd64']] as const) {
    assertOk(await runCliAsync(['build', dir(`${tag}-${version}`, { version: `${version} ${platform}\n` }), '--layout', layout, '--tag', tag, '--platform', platform], { env }));
  }
  assertOk(await runCliAsync(['index', 'create', 'arm-v6', 'amd64', '--tag', 'older', '--layout', layout], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/older:1`, '--layout', layout, '--tag', 'older'], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/single:${version}`, '--layout', layout, '--tag', 'arm-v6'], { env }));
  digests[version] = (await skopeoRaw(`${registry.host}/single:${version}`)).digest;
}

before(async () => {
  requireTool('skopeo');
  requireTool('umoci');
  tmp = await tempDir('ocipush-rebase-variant-');
  registry = await startRegistry();
  await pushBases('v1');
  const layout = join(tmp.path, 'app');
  assertOk(await runCliAsync(['build', dir('app-files', { app: 'app\n' }), '--base', `${registry.host}/older:1`, '--platform', 'linux/arm/v7', '--layout', layout, '--tag', 'app'], { env }));
  assertOk(await runCliAsync(['push', `${registry.host}/app:1`, '--layout', layout, '--tag', 'app'], { env }));
  await pushBases('v2');
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('rebase of an arm/v7 image build made onto an arm/v6 base of an index', () => {
  it('is rebased onto the new arm/v6 base and stays linux/arm/v7, as an independent client unpacks it', async () => {
    const r = await runCliAsync(['rebase', `${registry.host}/app:1`, `${registry.host}/app:2`, '--json'], { env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { bases: { platform: string; previous: string; digest: string }[] };
    assert.deepEqual(out.bases.map((b) => [b.platform, b.previous, b.digest]), [['linux/arm/v7', digests.v1, digests.v2]]);
    const config = JSON.parse(run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/app:2`])) as ImageConfig;
    assert.deepEqual([config.os, config.architecture, config.variant], ['linux', 'arm', 'v7']);
    const pulled = join(tmp.path, 'pulled');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/app:2`, `oci:${pulled}:app`]);
    const bundle = join(tmp.path, 'bundle');
    run('umoci', ['unpack', '--image', `${pulled}:app`, bundle]);
    assert.deepEqual(['version', 'app'].map((f) => readFileSync(join(bundle, 'rootfs', f), 'utf8')), ['v2 linux/arm/v6\n', 'app\n']);
  });

  it('refuses one arm/v6 image (not an index) as its new base, as build refuses it as a base, nothing written', async () => {
    const before = (await skopeoRaw(`${registry.host}/app:1`)).digest;
    assertOneLineError(
      await runCliAsync(['rebase', `${registry.host}/app:1`, '--new-base', `${registry.host}/single:v2`], { env }),
      new RegExp(`^ocipush: base image ${registry.host}/single:v2 is for linux/arm/v6, not linux/arm/v7 \\(the image's platform\\)$`), 2,
    );
    assert.equal((await skopeoRaw(`${registry.host}/app:1`)).digest, before);
  });

  it('for a platform the base index lacks, says so without pointing to a --platform rebase does not have', async () => {
    const layout = join(tmp.path, 's390x');
    assertOk(await runCliAsync(['build', dir('s390x-files', { app: 's390x\n' }), '--platform', 'linux/s390x', '--layout', layout, '--tag', 'app'], { env }));
    assertOneLineError(
      await runCliAsync(['rebase', `oci:${layout}:app`, '--old-base', `${registry.host}/older:1`, '--new-base', `${registry.host}/older:1`, '--dry-run'], { env }),
      new RegExp(`^ocipush: base image ${registry.host}/older:1 has no image for linux/s390x \\(it has: linux/arm/v6, linux/amd64\\), the platform of the image to rebase$`),
    );
  });
});
