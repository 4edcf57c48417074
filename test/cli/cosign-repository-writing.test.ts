import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, requireTool, runCli, tempDir } from '../support/tools.js';
import { skopeoRawManifest, skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
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

  const tags = (host: string, repo: string): string[] => skopeoTags(`${host}/${repo}`);
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
    // The bundle goes to COSIGN_REPOSITORY; the .sig mutate left there comes beside the copy, as cosign copy brings it.
    assert.deepEqual(tags(registry.host, 'bundled/app'), ['1', sigTag(changed)]);
    assert.ok(tags(other.host, 'sigs').includes(changed.replace(':', '-')));
    assertOk(runCli(['verify', `${registry.host}/bundled/app:1`, '--key', pub], { env: moved }));
  });

  it('a layout signed offline (build --sign --sign-container-identity --provenance --sbom): its push (and a copy out of it) puts the signature and the provenance in COSIGN_REPOSITORY, as cosign load does; the SBOM stays with the image', () => {
    const moved = { COSIGN_REPOSITORY: `${other.host}/offline-sigs` };
    const rootfs = join(tmp.path, 'offline-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello.txt'), 'offline\n');
    const layout = join(tmp.path, 'offline-layout');
    const ref = `${registry.host}/app/offline:1`;
    const built = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '--provenance', '--sign', '--key', key, '--sign-container-identity', `${registry.host}/app/offline`, '--json']);
    assertOk(built);
    const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
    const hex = digest.replace(':', '-');
    const pushed = runCli(['push', ref, '--layout', layout, '--tag', 'app'], { env: moved });
    assertOk(pushed);
    assert.match(pushed.stderr, new RegExp(`^${hex}\\.sig \\(sha256:[0-9a-f]{64}\\) pushed to ${other.host}/offline-sigs \\(COSIGN_REPOSITORY\\)$`, 'm'));
    // Before: the .sig, the .att and the provenance's referrer went beside the image, where verify under COSIGN_REPOSITORY does not look.
    assert.ok(tags(registry.host, 'app/offline').every((t) => t === '1' || t === hex), tags(registry.host, 'app/offline').join(' '));
    assert.deepEqual(tags(other.host, 'offline-sigs').filter((t) => t !== hex), [`${hex}.att`, `${hex}.sig`]);
    assert.equal(opensslVerifiedSignatures(other.host, 'offline-sigs', digest, pub, tmp.path, `${registry.host}/app/offline`), 1);
    assertOk(runCli(['verify', ref, '--key', pub], { env: moved }));
    assertOk(runCli(['verify-attestation', ref, '--key', pub, '--type', 'slsaprovenance1'], { env: moved }));
    // The SBOM, which no cosign verb moves, is the image's referrer where it went.
    const sbom = runCli(['referrers', ref, '--json']);
    assertOk(sbom);
    assert.match(sbom.stdout, /spdx|cyclonedx/i);

    // copy out of the layout is the same push, as crane and skopeo users make it.
    const copiedRef = `${registry.host}/app/copied:1`;
    const copied = runCli(['copy', `oci:${layout}:app`, copiedRef], { env: { COSIGN_REPOSITORY: `${other.host}/copied-sigs` } });
    assertOk(copied);
    assert.match(copied.stderr, new RegExp(`${hex}\\.sig in ${other.host}/copied-sigs`));
    assert.ok(tags(registry.host, 'app/copied').every((t) => t === '1' || t === hex), tags(registry.host, 'app/copied').join(' '));
    assert.deepEqual(tags(other.host, 'copied-sigs').filter((t) => t !== hex), [`${hex}.att`, `${hex}.sig`]);
    assert.equal(opensslVerifiedSignatures(other.host, 'copied-sigs', digest, pub, tmp.path, `${registry.host}/app/offline`), 1);
    assertOk(runCli(['verify', copiedRef, '--key', pub], { env: { COSIGN_REPOSITORY: `${other.host}/copied-sigs` } }));
    assertOk(runCli(['verify-attestation', copiedRef, '--key', pub, '--type', 'slsaprovenance1'], { env: { COSIGN_REPOSITORY: `${other.host}/copied-sigs` } }));
    assert.match(runCli(['referrers', copiedRef, '--json']).stdout, /spdx|cyclonedx/i);
  });

  it('copy docker://… docker://… reads the source\'s cosign tags in COSIGN_REPOSITORY and writes them beside the copy, as cosign copy does', () => {
    const moved = { COSIGN_REPOSITORY: `${other.host}/promoted-sigs` };
    const stage = `${registry.host}/stage/signed:1`;
    const digest = image.manifest.digest;
    const hex = digest.replace(':', '-');
    assertOk(runCli(['push', stage, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', stage, '--key', key], { env: moved }));
    writeFileSync(join(tmp.path, 'scan.json'), '{"scan":"clean"}');
    assertOk(runCli(['attest', stage, '--key', key, '--type', 'vuln', '--predicate', join(tmp.path, 'scan.json')], { env: moved }));
    assert.deepEqual(tags(registry.host, 'stage/signed'), ['1']);
    const copied = runCli(['copy', `docker://${stage}`, `docker://${registry.host}/prod/signed:1`], { env: moved });
    assertOk(copied);
    // Before: only the source's own repository was looked in, which holds none: the copy got the image alone.
    assert.deepEqual(tags(registry.host, 'prod/signed'), ['1', `${hex}.att`, `${hex}.sig`]);
    for (const tag of [`${hex}.sig`, `${hex}.att`]) {
      assert.equal(skopeoRawManifest(`${registry.host}/prod/signed:${tag}`).digest, skopeoRawManifest(`${other.host}/promoted-sigs:${tag}`).digest, tag);
    }
    assert.equal(opensslVerifiedSignatures(registry.host, 'prod/signed', digest, pub, tmp.path, `${registry.host}/stage/signed`), 1);
    // COSIGN_REPOSITORY itself is only read (the attestation's referrer index, ${hex}, stays there, as cosign copy leaves it).
    assert.deepEqual(tags(other.host, 'promoted-sigs'), [hex, `${hex}.att`, `${hex}.sig`]);
  });

  it('a COSIGN_REPOSITORY that is no repository stops push (--sign or not) in one line before anything is pushed', () => {
    assertOneLineError(runCli(['push', `${registry.host}/app/refused:1`, '--layout', image.layout, '--tag', 'one', '--sign', '--key', key], { env: { COSIGN_REPOSITORY: `${registry.host}/sigs:v1` } }),
      new RegExp(`^ocipush: COSIGN_REPOSITORY=${registry.host}/sigs:v1: a repository, without a tag or digest`), 2);
    // A push carries the layout's signatures there too: it stops the same way.
    assertOneLineError(runCli(['push', `${registry.host}/app/refused:1`, '--layout', image.layout, '--tag', 'one'], { env: { COSIGN_REPOSITORY: 'Not/A Repository' } }),
      /^ocipush: COSIGN_REPOSITORY=Not\/A Repository: not a repository: /, 2);
    assert.throws(() => tags(registry.host, 'app/refused'));
  });
});
