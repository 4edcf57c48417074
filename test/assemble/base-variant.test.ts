import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciLayout } from '../../src/content/layout.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';

/**
 * A base whose index has arm/v5 and arm/v6 images but no arm/v7 (what images for older CPUs
 * ship): a build for linux/arm/v7 builds onto the arm/v6 image, as BuildKit's FROM resolves it
 * (containerd's platforms.Only), and the image made is for linux/arm/v7, config and index entry,
 * as BuildKit writes the target's variant. One arm/v6 image, not an index, stays refused.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let older: string;
let single: string;
const digests = new Map<string, string>();
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-base-variant-');
  registry = await startRegistry();
  const layout = join(tmp.path, 'bases');
  for (const [tag, platform] of [['arm-v5', 'linux/arm/v5'], ['arm-v6', 'linux/arm/v6'], ['plain', 'linux/amd64']] as const) {
    const dir = join(tmp.path, tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), `${platform}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', tag, '--platform', platform], { env }));
    digests.set(tag, (await (await OciLayout.open(layout)).resolve(tag)).digest);
  }
  assertOk(await runCliAsync(['index', 'create', 'arm-v5', 'arm-v6', 'plain', '--tag', 'older', '--layout', layout], { env }));
  older = `${registry.host}/variants/older:1`;
  assertOk(await runCliAsync(['push', older, '--layout', layout, '--tag', 'older'], { env }));
  single = `${registry.host}/variants/arm-v6:1`;
  assertOk(await runCliAsync(['push', single, '--layout', layout, '--tag', 'arm-v6'], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

/** What skopeo reads of the image `tag` of `layout`: its config's platform, the manifest's base digest, the index entry's platform. */
function built(layout: string, tag: string): { config: unknown; baseDigest: unknown; entry: unknown } {
  const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:${tag}`])) as Record<string, unknown>;
  const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`])) as { annotations?: Record<string, string> };
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { platform?: unknown; annotations?: Record<string, string> }[] };
  return {
    config: { os: config.os, architecture: config.architecture, variant: config.variant },
    baseDigest: manifest.annotations?.['org.opencontainers.image.base.digest'],
    entry: index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.platform,
  };
}

const armV7 = { os: 'linux', architecture: 'arm', variant: 'v7' };

describe('a build for linux/arm/v7 onto an index with no arm/v7', () => {
  it('build DIR --base takes the arm/v6 image and makes a linux/arm/v7 image', async () => {
    const app = join(tmp.path, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'app'), 'app\n');
    const out = join(tmp.path, 'out-dir');
    assertOk(await runCliAsync(['build', app, '--base', older, '--platform', 'linux/arm/v7', '--layout', out, '--tag', 'app'], { env }));
    assert.deepEqual(built(out, 'app'), { config: armV7, baseDigest: digests.get('arm-v6'), entry: armV7 });
  });

  it('build -f with FROM the index takes the arm/v6 image and makes a linux/arm/v7 image', async () => {
    const context = join(tmp.path, 'context');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'app'), 'app\n');
    writeFileSync(join(context, 'Dockerfile'), `FROM ${older}\nCOPY app /app\n`);
    const out = join(tmp.path, 'out-dockerfile');
    assertOk(await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '--platform', 'linux/arm/v7', '--layout', out, '--tag', 'app'], { env }));
    assert.deepEqual(built(out, 'app'), { config: armV7, baseDigest: digests.get('arm-v6'), entry: armV7 });
  });

  it('one arm/v6 image, not an index, is refused for linux/arm/v7 by both, nothing written', async () => {
    const app = join(tmp.path, 'app-single');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'app'), 'app\n');
    const out = join(tmp.path, 'out-single');
    const r = await runCliAsync(['build', app, '--base', single, '--platform', 'linux/arm/v7', '--layout', out, '--tag', 'app'], { env });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^ocipush: base image \S+ is for linux\/arm\/v6, not linux\/arm\/v7 \(--platform\)\n$/);
    assert.equal(existsSync(out), false);
    writeFileSync(join(app, 'Dockerfile'), `FROM ${single}\nCOPY app /app\n`);
    const f = await runCliAsync(['build', '-f', join(app, 'Dockerfile'), app, '--platform', 'linux/arm/v7', '--layout', out, '--tag', 'app'], { env });
    assert.notEqual(f.status, 0);
    assert.match(f.stderr, /^ocipush: \S*Dockerfile:1:1: FROM \S+: base image \S+ is for linux\/arm\/v6, not linux\/arm\/v7 \(--platform\)\n$/);
    assert.equal(existsSync(out), false);
  });
});
