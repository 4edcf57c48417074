import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { opensslVerifiedSignatures } from './signature-support.js';

/**
 * `--sign` of the verbs that write an image, under cosign's COSIGN_REPOSITORY: the signature goes
 * to COSIGN_REPOSITORY:sha256-<hex>.sig, as `cosign sign` (and `ocipush sign`) put it there, its
 * payload naming the repository written to. Tags listed by skopeo, signatures checked by openssl
 * over the payload the registry holds, and by `verify` under the same COSIGN_REPOSITORY.
 */
describe('--sign of push, build --push, copy and mutate under COSIGN_REPOSITORY', () => {
  let registry: RunningRegistry;
  let other: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let key: string;
  let pub: string;

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    [registry, other] = await Promise.all([startRegistry(), startRegistry()]);
    image = umociImage(tmp.path, 'one', [4_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
  });
  after(async () => {
    await Promise.all([registry?.stop(), other?.stop()]);
    await tmp?.cleanup();
  });

  const tags = (host: string, repo: string): string[] => (JSON.parse(run('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/${repo}`])) as { Tags: string[] }).Tags.sort();
  const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

  it('push --sign and build --push --sign keep the signature in COSIGN_REPOSITORY (the same registry), naming the repository pushed to', () => {
    const moved = { COSIGN_REPOSITORY: `${registry.host}/sigs/here` };
    const pushed = runCli(['push', `${registry.host}/app/pushed:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key, '--json'], { env: moved });
    // Before: '--sign: COSIGN_REPOSITORY=… is set, which --sign does not follow', nothing pushed.
    assertOk(pushed);
    const digest = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    assert.match(pushed.stderr, new RegExp(`^signed ${registry.host}/app/pushed@${digest}: ${registry.host}/sigs/here:${sigTag(digest)}$`, 'm'));
    assert.deepEqual(tags(registry.host, 'app/pushed'), ['1']);
    assert.deepEqual(tags(registry.host, 'sigs/here'), [sigTag(digest)]);
    assert.equal(opensslVerifiedSignatures(registry.host, 'sigs/here', digest, pub, tmp.path, `${registry.host}/app/pushed`), 1);
    assertOk(runCli(['verify', `${registry.host}/app/pushed:1`, '--key', pub], { env: moved }));
    assertOneLineError(runCli(['verify', `${registry.host}/app/pushed:1`, '--key', pub]), /: no signatures found$/);

    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    const built = runCli(['build', rootfs, '--layout', join(tmp.path, 'built'), '--tag', 'app', '--push', `${registry.host}/app/built:1`, '--sign', '--key', key, '--json'], { env: moved });
    assertOk(built);
    const builtDigest = (JSON.parse(built.stdout) as { digest: string }).digest;
    assert.deepEqual(tags(registry.host, 'app/built'), ['1']);
    assert.deepEqual(tags(registry.host, 'sigs/here'), [sigTag(digest), sigTag(builtDigest)].sort());
    assert.equal(opensslVerifiedSignatures(registry.host, 'sigs/here', builtDigest, pub, tmp.path, `${registry.host}/app/built`), 1);
    assertOk(runCli(['verify', `${registry.host}/app/built:1`, '--key', pub], { env: moved }));
  });

  it('copy --sign and mutate --sign keep it in a COSIGN_REPOSITORY on another registry; the repository written to gets the image alone', () => {
    const moved = { COSIGN_REPOSITORY: `${other.host}/sigs` };
    assertOk(runCli(['push', `${registry.host}/stage/app:1`, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const copied = runCli(['copy', `${registry.host}/stage/app:1`, `${registry.host}/prod/app:1`, '--sign', '--key', key], { env: moved });
    assertOk(copied);
    const digest = copied.stdout.trim();
    assert.match(copied.stderr, new RegExp(`^signed ${registry.host}/prod/app@${digest}: ${other.host}/sigs:${sigTag(digest)}$`, 'm'));
    assert.deepEqual(tags(registry.host, 'prod/app'), ['1']);
    assert.equal(opensslVerifiedSignatures(other.host, 'sigs', digest, pub, tmp.path, `${registry.host}/prod/app`), 1);
    assertOk(runCli(['verify', `${registry.host}/prod/app:1`, '--key', pub], { env: moved }));

    const mutated = runCli(['mutate', `${registry.host}/prod/app:1`, '--label', 'rev=2', '--sign', '--key', key, '--json'], { env: moved });
    assertOk(mutated);
    const changed = (JSON.parse(mutated.stdout) as { digest: string }).digest;
    assert.notEqual(changed, digest);
    assert.deepEqual(tags(registry.host, 'prod/app'), ['1']);
    assert.deepEqual(tags(other.host, 'sigs'), [sigTag(digest), sigTag(changed)].sort());
    assert.equal(opensslVerifiedSignatures(other.host, 'sigs', changed, pub, tmp.path, `${registry.host}/prod/app`), 1);
    assertOk(runCli(['verify', `${registry.host}/prod/app:1`, '--key', pub], { env: moved }));

    // cosign 3's bundle: a referrer in COSIGN_REPOSITORY (its sha256-<hex> tag schema index there).
    assertOk(runCli(['copy', `${registry.host}/prod/app:1`, `${registry.host}/bundled/app:1`, '--sign', '--key', key, '--new-bundle-format'], { env: moved }));
    assert.deepEqual(tags(registry.host, 'bundled/app'), ['1']);
    assert.ok(tags(other.host, 'sigs').includes(changed.replace(':', '-')));
    assertOk(runCli(['verify', `${registry.host}/bundled/app:1`, '--key', pub], { env: moved }));
  });

  it('a COSIGN_REPOSITORY that is no repository stops push --sign in one line before anything is pushed', () => {
    assertOneLineError(runCli(['push', `${registry.host}/app/refused:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key], { env: { COSIGN_REPOSITORY: `${registry.host}/sigs:v1` } }),
      new RegExp(`^ocipush: COSIGN_REPOSITORY=${registry.host}/sigs:v1: a repository, without a tag or digest`), 2);
    assert.throws(() => tags(registry.host, 'app/refused'));
  });
});
