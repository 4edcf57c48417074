import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, opensslSignature, requireTool, runCli, tempDir } from '../support/tools.js';
import { skopeoTags, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { cosignPayload, opensslVerifiedSignatures, storeCosignSignature } from './signature-support.js';

/**
 * cosign's COSIGN_REPOSITORY (pkg/oci/remote/options.go, WithTargetRepository): signatures and
 * attestations of REG/app@sha256:X are written to and read from COSIGN_REPOSITORY:sha256-X.sig /
 * .att (and its referrers), the payload still naming the image's repository. Signatures made by
 * openssl and stored as cosign stores them, tags listed and signatures checked by skopeo and openssl.
 */
describe('COSIGN_REPOSITORY: signatures and attestations kept in another repository, as cosign keeps them', () => {
  let registry: RunningRegistry;
  let other: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let two: UmociImage;
  let key: string;
  let pub: string;

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    [registry, other] = await Promise.all([startRegistry(), startRegistry()]);
    image = umociImage(tmp.path, 'one', [4_000]);
    two = umociImage(tmp.path, 'two', [5_000]);
    ({ key, pub } = opensslKeyPair(tmp.path, 'signer'));
  });
  after(async () => {
    await Promise.all([registry?.stop(), other?.stop()]);
    await tmp?.cleanup();
  });

  const tags = (host: string, repo: string): string[] => skopeoTags(`${host}/${repo}`);

  it('verify reads a signature cosign stored in COSIGN_REPOSITORY, and sign writes one there that names the image\'s repository', () => {
    const ref = `${registry.host}/app/image:1`;
    const digest = image.manifest.digest;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const moved = { COSIGN_REPOSITORY: `${registry.host}/app/signatures` };
    // A signature as `COSIGN_REPOSITORY=REG/app/signatures cosign sign REG/app/image@…` stores it.
    const payload = cosignPayload(`${registry.host}/app/image`, digest);
    storeCosignSignature(registry.host, 'app/signatures', digest, payload, opensslSignature(key, payload, tmp.path), tmp.path);
    const verified = runCli(['verify', ref, '--key', pub], { env: moved });
    assertOk(verified);
    assert.equal(verified.stdout, `${digest}\n`);
    // Without it the image's own repository is read, as cosign reads it: nothing there.
    assertOneLineError(runCli(['verify', ref, '--key', pub]), new RegExp(`^ocipush: verify ${registry.host}/app/image@${digest}: no signatures found$`));

    const unsigned = `${registry.host}/app/image:2`;
    assertOk(runCli(['push', unsigned, '--layout', two.layout, '--tag', 'two', '--quiet']));
    assertOneLineError(runCli(['verify', unsigned, '--key', pub], { env: moved }), new RegExp(`: no signatures found in ${registry.host}/app/signatures \\(COSIGN_REPOSITORY\\)$`));

    const signed = runCli(['sign', unsigned, '--key', key], { env: moved });
    assertOk(signed);
    const second = signed.stdout.trim();
    assert.match(signed.stderr, new RegExp(`signed ${registry.host}/app/image@${second}: ${registry.host}/app/signatures:${second.replace(':', '-')}\\.sig`));
    assert.equal(opensslVerifiedSignatures(registry.host, 'app/signatures', second, pub, tmp.path, `${registry.host}/app/image`), 1);
    assert.deepEqual(tags(registry.host, 'app/image'), ['1', '2']);
    assert.deepEqual(tags(registry.host, 'app/signatures'), [`${digest.replace(':', '-')}.sig`, `${second.replace(':', '-')}.sig`].sort());
    assertOk(runCli(['verify', unsigned, '--key', pub], { env: moved }));
  });

  it('on another registry: sign, attest, verify and verify-attestation all use it; the image\'s repository gets nothing', () => {
    const ref = `${registry.host}/app/remote:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const moved = { COSIGN_REPOSITORY: `${other.host}/sigs` };
    const hex = image.manifest.digest.replace(':', '-');
    assertOk(runCli(['sign', ref, '--key', key], { env: moved }));
    assert.equal(opensslVerifiedSignatures(other.host, 'sigs', image.manifest.digest, pub, tmp.path, `${registry.host}/app/remote`), 1);
    writeFileSync(join(tmp.path, 'predicate.json'), '{"scan":"clean"}');
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'vuln', '--predicate', join(tmp.path, 'predicate.json')], { env: moved }));
    assert.deepEqual(tags(registry.host, 'app/remote'), ['1']);
    assert.ok(tags(other.host, 'sigs').includes(`${hex}.att`));
    // cosign 3's bundle: a referrer in COSIGN_REPOSITORY (the tag schema's sha256-<hex> index there), verify reads it from there.
    assertOk(runCli(['sign', ref, '--key', key, '--new-bundle-format'], { env: moved }));
    assert.ok(tags(other.host, 'sigs').includes(hex));
    assert.deepEqual(tags(registry.host, 'app/remote'), ['1']);
    const verified = runCli(['verify', ref, '--key', pub, '-o', 'text'], { env: moved });
    assertOk(verified);
    assert.equal(verified.stderr.match(/2 valid signatures/)?.length, 1, verified.stderr);
    assertOk(runCli(['verify-attestation', ref, '--key', pub, '--type', 'vuln'], { env: moved }));
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub, '--type', 'vuln']), /: no attestations found$/);
  });

  it('a COSIGN_REPOSITORY with a tag is one line, nothing written', () => {
    const ref = `${registry.host}/app/bad:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', ref, '--key', key], { env: { COSIGN_REPOSITORY: `${registry.host}/app/sigs:v1` } }),
      new RegExp(`^ocipush: COSIGN_REPOSITORY=${registry.host}/app/sigs:v1: a repository, without a tag or digest`), 2);
    assert.deepEqual(tags(registry.host, 'app/bad'), ['1']);
  });
});
