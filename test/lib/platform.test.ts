import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { build, copy, isOcipushError, pull, push, validate } from '../../src/index.js';
import { hostPlatformOf } from '../../src/oci/platform-check.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { envWith } from '../cli/copy-support.js';

/**
 * The library's `platform` read as the CLI's `--platform`: `arm64` alone (Linux's), `linux`
 * alone (this machine's architecture), `linux/arm` (arm/v7), `Linux/aarch64`; a typo refused
 * with EUSAGE before any request, as the CLI refuses it, not sent to the registry and answered
 * "not found".
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let layout: string;
let source: string;
const env = envWith();
const host = hostPlatformOf().architecture;

/** skopeo's choice of one platform's manifest from the index: what the library must pick too. */
async function skopeoDigest(reference: string, arch: string, variant?: string): Promise<string> {
  const dir = join(tmp.path, `skopeo-${arch}${variant ?? ''}-${Math.random().toString(36).slice(2)}`);
  const choose = ['--override-os', 'linux', '--override-arch', arch, ...(variant ? ['--override-variant', variant] : [])];
  await promisify(execFile)('skopeo', ['copy', '-q', '--src-tls-verify=false', ...choose, `docker://${reference}`, `oci:${dir}:x`]);
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--raw', `oci:${dir}:x`], { encoding: 'buffer' });
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

async function rejectsUsage(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(isOcipushError(err), `expected an OcipushError EUSAGE, got ${String(err)}`);
  assert.equal(err.code, 'EUSAGE', err.message);
  assert.match(err.message, pattern);
  assert.doesNotMatch(err.message, /\n/);
}

before(async () => {
  requireTool('skopeo');
  tmp = await tempDir('ocipush-lib-platform-');
  registry = await startRegistry();
  layout = join(tmp.path, 'layout');
  const tags: string[] = [];
  for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
    const tag = platform.replaceAll('/', '-');
    const dir = join(tmp.path, tag);
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'platform'), `${platform}\n`);
    await build({ rootfs: dir, layout, tag, platform });
    tags.push(tag);
  }
  assertOk(await runCliAsync(['index', 'create', ...tags, '--tag', 'all', '--layout', layout], { env }));
  source = `${registry.host}/lib/platforms:1`;
  await push({ layout, tag: 'all', to: source });
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('the library reads platform as the CLI reads --platform', () => {
  it('pull: an architecture alone is Linux\'s, an os alone is this machine\'s architecture', async () => {
    const arm = await pull({ from: source, layout: join(tmp.path, 'pulled'), tag: 'arm', platform: 'arm64' });
    assert.equal(arm.digest, await skopeoDigest(source, 'arm64'));
    const mine = await pull({ from: source, layout: join(tmp.path, 'pulled'), tag: 'mine', platform: 'linux' });
    assert.equal(mine.digest, await skopeoDigest(source, host));
    const uname = await pull({ from: source, layout: join(tmp.path, 'pulled'), tag: 'uname', platform: 'Linux/aarch64' });
    assert.equal(uname.digest, arm.digest);
    const every = await pull({ from: source, layout: join(tmp.path, 'pulled'), tag: 'every', platform: 'all' });
    assert.equal(every.mediaType, 'application/vnd.oci.image.index.v1+json');
  });

  it('copy: linux/arm is arm/v7 and linux/arm64/v8 is arm64, as containerd normalises them', async () => {
    const arm = await copy({ from: source, to: `${registry.host}/lib/arm:1`, platform: 'linux/arm' });
    assert.equal(arm.digest, await skopeoDigest(source, 'arm', 'v7'));
    const arm64 = await copy({ from: source, to: `${registry.host}/lib/arm64:1`, platform: 'linux/arm64/v8' });
    assert.equal(arm64.digest, await skopeoDigest(source, 'arm64'));
    const two = await copy({ from: source, to: `${registry.host}/lib/two:1`, platform: 'arm64,linux/arm' });
    assert.equal(two.mediaType, 'application/vnd.oci.image.index.v1+json');
  });

  it('validate and push take the same spellings', async () => {
    const report = await validate({ image: `oci:${layout}:all`, platform: 'linux' });
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.manifests.filter((m) => m.kind === 'image').map((m) => m.platform), [`linux/${host}`]);
    const pushed = await push({ layout, tag: 'all', to: `${registry.host}/lib/pushed:1`, platform: 'arm64' });
    assert.equal(pushed.digest, await skopeoDigest(source, 'arm64'));
  });

  it('build: a platform string alone is read as --platform reads it', async () => {
    const dir = join(tmp.path, 'arm64-alone');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), 'x');
    await build({ rootfs: dir, layout, tag: 'built-arm64', platform: 'aarch64' });
    const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--config', `oci:${layout}:built-arm64`], { encoding: 'utf8' });
    const config = JSON.parse(stdout) as { os: string; architecture: string };
    assert.deepEqual([config.os, config.architecture], ['linux', 'arm64']);
  });

  it('a typo is refused with EUSAGE naming the option, before any request, and no layout is made', async () => {
    registry.clearAccessLog();
    const into = join(tmp.path, 'never');
    const unknownOs = /^`platform` "linus\/amd64": unknown os "linus"; the OCI image spec's values are .* \(`unlistedPlatform` takes it as it is\)$/;
    await rejectsUsage(pull({ from: source, layout: into, platform: 'linus/amd64' }), unknownOs);
    await rejectsUsage(copy({ from: source, to: `${registry.host}/lib/typo:1`, platform: 'linus/amd64' }), unknownOs);
    await rejectsUsage(validate({ image: source, platform: 'linus/amd64' }), unknownOs);
    await rejectsUsage(push({ layout, tag: 'all', to: `${registry.host}/lib/typo:1`, platform: 'linus/amd64' }), unknownOs);
    await rejectsUsage(pull({ from: source, layout: into, platform: 'linux/amd65,linux/arm64' }), /^`platform` "linux\/amd65": unknown architecture "amd65"/);
    await rejectsUsage(validate({ image: source, platform: 'arm65' }), /^`platform` "arm65": "arm65" is neither an os nor an architecture/);
    await rejectsUsage(build({ rootfs: join(tmp.path, 'arm64-alone'), layout: into, platform: 'linux/arm/v9' }), /^`platform` "linux\/arm\/v9": unknown variant "v9"; the variants of arm are v5, v6, v7, v8/);
    assert.deepEqual(registry.accessLog(), []);
    assert.equal(existsSync(into), false);
  });

  it('unlistedPlatform takes an unlisted one as it is: the registry\'s index is asked, and lacks it', async () => {
    const err = await pull({ from: source, layout: join(tmp.path, 'unlisted'), platform: 'linux/riscv128', unlistedPlatform: true }).then(() => undefined, (e: unknown) => e);
    assert.ok(isOcipushError(err));
    assert.notEqual(err.code, 'EUSAGE', err.message);
    assert.match(err.message, /linux\/riscv128/);
  });
});
