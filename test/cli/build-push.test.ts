import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, requireTool, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { skopeoRaw } from './copy-support.js';
import { validate } from './json-schema.js';
import { opensslVerifiedSignatures } from './signature-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let rootfs: string;
let keys: string;
const env = { COSIGN_PASSWORD: 'build-push-pw', OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, DOCKER_CONFIG: missingPath('docker-config') };

interface Pushed { reference: string; digest: string; blobs: { outcome: string }[]; referrers?: { artifactType: string }[]; signatures?: { digest: string }[] }

before(async () => {
  requireTool('skopeo');
  requireTool('openssl');
  tmp = await tempDir();
  registry = await startRegistry();
  rootfs = join(tmp.path, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'release'), 'build and push in one run\n');
  keys = join(tmp.path, 'k');
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', keys], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('build --push', () => {
  it('builds, makes the SBOM, pushes to two references and signs the image once in their repository, in one run', async () => {
    const layout = join(tmp.path, 'layout');
    const r = await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom',
      '--push', `${registry.host}/one/app:1`, '--push', `docker://${registry.host}/one/app:latest`, '--sign', '--key', `${keys}.key`, '--json'], { env });
    assertOk(r);
    const built = JSON.parse(r.stdout) as { digest: string; pushed: Pushed[] };
    assert.deepEqual(validate('build.schema.json', built), [], r.stdout);
    assert.deepEqual(built.pushed.map((p) => p.reference), [`${registry.host}/one/app:1@${built.digest}`, `${registry.host}/one/app:latest@${built.digest}`]);
    for (const tag of ['1', 'latest']) assert.equal((await skopeoRaw(`${registry.host}/one/app:${tag}`)).digest, built.digest);
    assert.deepEqual(built.pushed[0]!.referrers?.map((x) => x.artifactType), ['application/spdx+json'], 'the SBOM went along');
    assert.ok(built.pushed[1]!.blobs.every((b) => b.outcome === 'exists'), 'the second push found every blob there');
    // One image in one repository: signed once, by the first push there.
    assert.deepEqual(built.pushed.map((p) => p.signatures?.map((s) => s.digest)), [[built.digest], undefined]);
    assert.equal(opensslVerifiedSignatures(registry.host, 'one/app', built.digest, `${keys}.pub`, tmp.path), 1);
    assert.match(r.stderr, /^layer 1\/1 [\s\S]*^pushed .*one\/app:1 [\s\S]*^signed /m);
  });

  it('build -f pushes too', async () => {
    const context = join(tmp.path, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /srv/\n');
    writeFileSync(join(context, 'hello'), 'hi\n');
    const r = await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '--layout', join(tmp.path, 'df'), '--tag', 'df', '--push', `${registry.host}/two/df:1`, '--json'], { env });
    assertOk(r);
    const built = JSON.parse(r.stdout) as { digest: string; pushed: Pushed[] };
    assert.equal((await skopeoRaw(`${registry.host}/two/df:1`)).digest, built.digest);
  });

  it('--sign --sign-container-identity signs in the layout, offline; a later push carries the signature, which names that repository', async () => {
    const layout = join(tmp.path, 'offline');
    const identity = 'registry.example.com/prod/app';
    const r = await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '--sign', '--key', `${keys}.key`, '--sign-container-identity', identity, '--json'], { env });
    assertOk(r);
    const built = JSON.parse(r.stdout) as { digest: string; signatures: { digest: string; tag: string }[]; pushed?: unknown };
    assert.deepEqual(validate('build.schema.json', built), [], r.stdout);
    assert.deepEqual(built.signatures.map((s) => [s.digest, s.tag]), [[built.digest, `${built.digest.replace(':', '-')}.sig`]]);
    assert.equal(built.pushed, undefined);
    assert.match(r.stderr, /^signed oci:.*offline:app@sha256:[0-9a-f]{64} for registry\.example\.com\/prod\/app \(sha256-[0-9a-f]{64}\.sig in the layout\)$/m);
    assertOk(await runCliAsync(['verify', `oci:${layout}:app`, '--key', `${keys}.pub`], { env }));
    // Pushed without naming the image (the signature is not one), to a staging repository.
    assertOk(await runCliAsync(['push', layout, `${registry.host}/staging/app:1`], { env }));
    assert.equal((await skopeoRaw(`${registry.host}/staging/app:1`)).digest, built.digest);
    assert.equal(opensslVerifiedSignatures(registry.host, 'staging/app', built.digest, `${keys}.pub`, tmp.path, identity), 1);
    // With --push too: signed once, in the layout, and each push carries that signature.
    const both = await runCliAsync(['build', rootfs, '--layout', join(tmp.path, 'both'), '--tag', 'app',
      '--push', `${registry.host}/four/app:1`, '--sign', '--key', `${keys}.key`, '--sign-container-identity', identity, '--json'], { env });
    assertOk(both);
    const pushedToo = JSON.parse(both.stdout) as { digest: string; signatures: unknown[]; pushed: Pushed[] };
    assert.deepEqual(validate('build.schema.json', pushedToo), [], both.stdout);
    assert.equal(pushedToo.signatures.length, 1);
    assert.equal(pushedToo.pushed[0]!.signatures, undefined, 'the push signs nothing more');
    assert.equal(opensslVerifiedSignatures(registry.host, 'four/app', pushedToo.digest, `${keys}.pub`, tmp.path, identity), 1);
  });

  it('a bad --push or --concurrency, --sign without --push, or a key that does not open stop it before anything is built', async () => {
    const layout = join(tmp.path, 'never');
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--push', 'UPPER/Case:1'], { env }), /UPPER\/Case/, 2);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--sign', '--key', `${keys}.key`], { env }), /--sign signs what --push pushes: add --push REGISTRY\/REPO\[:TAG\], or sign in the layout with --sign-container-identity/, 2);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--sign-container-identity', 'reg.example/app'], { env }), /--sign-container-identity names the repository a signature is for: add --sign --key KEY/, 2);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--sign', '--key', `${keys}.key`, '--sign-container-identity', 'reg.example/app:1'], { env }), /a repository, without a tag or digest/, 2);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--sign', '--key', `${keys}.key`, '--sign-container-identity', 'reg.example/app'], { env: { ...env, COSIGN_PASSWORD: 'wrong' } }), /wrong password/);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--push', `${registry.host}/three/app:1`, '--sign', '--key', `${keys}.key`], { env: { ...env, COSIGN_PASSWORD: 'wrong' } }), /wrong password/);
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--push', `${registry.host}/three/app:1`, '--concurrency', '0'], { env }), /--concurrency 0: expected a whole number from 1 to 64/, 2);
    // Without a push too (a base's and a cache registry's requests take it), and for build -f.
    assertOneLineError(await runCliAsync(['build', rootfs, '--layout', layout, '--concurrency', '0'], { env }), /--concurrency 0: expected a whole number from 1 to 64/, 2);
    assertOneLineError(await runCliAsync(['build', '-f', '/dev/null', rootfs, '--layout', layout, '--concurrency', '-1'], { env }), /--concurrency -1: expected a whole number from 1 to 64/, 2);
    assert.equal(existsSync(layout), false, 'no layout was made');
  });
});
