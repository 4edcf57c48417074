import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';

/**
 * The platform of a Dockerfile's image built onto a base is the one BuildKit writes
 * (dockerfile2llb's toDispatchState, Dockerfile frontend 1.15 and later): the final stage's, from
 * its base's config; with --platform, the target's os and architecture (a final
 * `FROM --platform=$BUILDPLATFORM` stage is labelled for the target), then normalized as
 * containerd's platforms.Normalize does (an arm64 config's `v8` is dropped). buildah 1.28 keeps
 * the base's platform in both cases: BuildKit is followed.
 */
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
const env = { ...process.env, SOURCE_DATE_EPOCH: '0' };
const bases = new Map<string, string>();
let contexts = 0;

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-final-platform-');
  registry = await startRegistry();
  const layout = join(tmp.path, 'bases');
  for (const [tag, platform] of [['arm64-v8', 'linux/arm64/v8'], ['amd64', 'linux/amd64']] as const) {
    const dir = join(tmp.path, tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'platform'), `${platform}\n`);
    assertOk(await runCliAsync(['build', dir, '--layout', layout, '--tag', tag, '--platform', platform], { env }));
    const ref = `${registry.host}/bases/${tag}:1`;
    assertOk(await runCliAsync(['push', ref, '--layout', layout, '--tag', tag], { env }));
    bases.set(tag, ref);
  }
  // What the base says of itself (skopeo reads it): the v8 is in its config.
  assert.equal((JSON.parse(run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${bases.get('arm64-v8')}`])) as { variant?: string }).variant, 'v8');
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

/** The config's platform and the index entry's, as skopeo and the layout's index.json give them. */
async function built(dockerfile: string, flags: string[]): Promise<{ config: unknown; entry: unknown }> {
  const context = join(tmp.path, `context-${++contexts}`);
  mkdirSync(context, { recursive: true });
  writeFileSync(join(context, 'app'), 'app\n');
  writeFileSync(join(context, 'Dockerfile'), dockerfile);
  const out = join(context, 'out');
  assertOk(await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, ...flags, '--layout', out, '--tag', 'app'], { env }));
  const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${out}:app`])) as Record<string, unknown>;
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { platform?: unknown }[] };
  return { config: { os: config.os, architecture: config.architecture, variant: config.variant }, entry: index.manifests[0]?.platform };
}

const arm64 = { os: 'linux', architecture: 'arm64' };

describe('the platform of a Dockerfile image built onto a base, as BuildKit writes it', () => {
  it('onto an arm64 base whose config says v8: linux/arm64, with --platform linux/arm64, or FROM --platform=linux/arm64 without it', async () => {
    assert.deepEqual(await built(`FROM ${bases.get('arm64-v8')}\nCOPY app /app\n`, ['--platform', 'linux/arm64']), { config: { ...arm64, variant: undefined }, entry: arm64 });
    assert.deepEqual(await built(`FROM --platform=linux/arm64 ${bases.get('arm64-v8')}\nCOPY app /app\n`, []), { config: { ...arm64, variant: undefined }, entry: arm64 });
  });

  it('a final stage FROM --platform=$BUILDPLATFORM, built with --platform linux/arm64: the image is labelled linux/arm64', async () => {
    assert.deepEqual(await built(`FROM --platform=$BUILDPLATFORM ${bases.get('amd64')}\nCOPY app /app\n`, ['--platform', 'linux/arm64']), { config: { ...arm64, variant: undefined }, entry: arm64 });
    // Without --platform the stage's own platform stays.
    const amd64 = { os: 'linux', architecture: 'amd64' };
    assert.deepEqual(await built(`FROM --platform=$BUILDPLATFORM ${bases.get('amd64')}\nCOPY app /app\n`, []), { config: { ...amd64, variant: undefined }, entry: amd64 });
  });

  it('FROM --platform as containerd\'s platforms.Parse reads it: one word is an architecture of Linux; a misspelt ARG that leaves "linux/" fails, naming the ARG meant', async () => {
    assert.deepEqual(await built(`FROM --platform=arm64 ${bases.get('arm64-v8')}\nCOPY app /app\n`, []), { config: { ...arm64, variant: undefined }, entry: arm64 });
    assert.deepEqual(await built(`FROM --platform=aarch64 ${bases.get('arm64-v8')}\nCOPY app /app\n`, []), { config: { ...arm64, variant: undefined }, entry: arm64 });
    // A scratch stage is built for the target whatever its --platform says, but BuildKit parses it
    // first: the typo fails every build instead of silently building for this machine.
    const context = join(tmp.path, `context-${++contexts}`);
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'ARG MY_ARCH=arm64\nFROM --platform=linux/${MYARCH} scratch\nLABEL a=b\n');
    const r = await runCliAsync(['build', '-f', 'Dockerfile', '.', '--layout', 'out', '--tag', 'app'], { env, cwd: context });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ocipush: Dockerfile:2:1: failed to parse platform linux\/\$\{MYARCH\}: "" is an invalid component of "linux\/": platform specifier component must match "\^\[A-Za-z0-9_\.-\]\+\$": invalid argument \(did you mean MY_ARCH\?\)$/m);
    assert.equal(existsSync(join(context, 'out')), false);
  });
});
