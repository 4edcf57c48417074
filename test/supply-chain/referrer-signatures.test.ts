import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, opensslSignature, requireTool, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from '../cli/registry-support.js';
import { cosignPayload, storeCosignReferrerSignature, storeCosignSignature, storeReferrer } from '../cli/signature-support.js';

/**
 * `cosign sign --registry-referrers-mode=oci-1-1` stores the signature image as an OCI 1.1
 * referrer of the image (artifactType `application/vnd.dev.cosign.artifact.sig.v1+json`), not at
 * `sha256-<hex>.sig`; `cosign verify --experimental-oci11` reads it there. The signatures here are
 * made by openssl over cosign's payload and stored as cosign stores them, by curl.
 */
describe('verify of signatures cosign stores as OCI 1.1 referrers', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  const key = (name: string) => join(tmp.path, `${name}.pem`);
  const pub = (name: string) => join(tmp.path, `${name}.pub`);

  before(async () => {
    requireTool('openssl');
    tmp = await tempDir('ocipush-referrer-sig-');
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [4_000]);
    for (const name of ['signer', 'stranger']) opensslKeyPair(tmp.path, name);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  const opensslSign = (name: string, bytes: Buffer): Buffer => opensslSignature(key(name), bytes, tmp.path);

  const subject = () => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size });

  for (const artifactTypeField of [true, false]) {
    it(`verify accepts it, as cosign ${artifactTypeField ? '3.1.2 and later writes it (artifactType in the manifest)' : 'before 3.1.2 wrote it (the type in config.mediaType only)'}; another key fails; copied into a layout it verifies offline`, () => {
      const repo = `oci11sig/${artifactTypeField ? 'typed' : 'config'}`;
      const ref = `${registry.host}/${repo}:1`;
      assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
      const payload = cosignPayload(`${registry.host}/${repo}`, image.manifest.digest);
      storeCosignReferrerSignature(registry.host, repo, subject(), payload, opensslSign('signer', payload), tmp.path, artifactTypeField);

      // Before: 'no signatures found', the referrer never read.
      const r = runCli(['verify', ref, '--key', pub('signer')]);
      assertOk(r);
      assert.match(r.stderr, /: 1 valid signature by .*signer\.pub\n$/);
      assertOneLineError(runCli(['verify', ref, '--key', pub('stranger')]), /none of 1 signature verifies: not signed by this key$/);

      const layout = join(tmp.path, `copied-${artifactTypeField}`);
      assertOk(runCli(['copy', ref, `oci:${layout}:app`, '--quiet']));
      assertOk(runCli(['verify', `oci:${layout}:app`, '--key', pub('signer')]));
      assertOneLineError(runCli(['verify', `oci:${layout}:app`, '--key', pub('stranger')]), /none of 1 signature verifies: not signed by this key$/);
    });
  }

  it('one signature kept both at .sig and as a referrer counts once; a referrer signature of another image does not verify', () => {
    const repo = 'oci11sig/both';
    const ref = `${registry.host}/${repo}:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const payload = cosignPayload(`${registry.host}/${repo}`, image.manifest.digest);
    const signature = opensslSign('signer', payload);
    storeCosignSignature(registry.host, repo, image.manifest.digest, payload, signature, tmp.path);
    storeCosignReferrerSignature(registry.host, repo, subject(), payload, signature, tmp.path, true);
    const r = runCli(['verify', ref, '--key', pub('signer')]);
    assertOk(r);
    assert.match(r.stderr, /: 1 valid signature by /);

    const elsewhere = 'oci11sig/elsewhere';
    assertOk(runCli(['push', `${registry.host}/${elsewhere}:1`, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const other = cosignPayload(`${registry.host}/${elsewhere}`, `sha256:${'0'.repeat(64)}`);
    storeCosignReferrerSignature(registry.host, elsewhere, subject(), other, opensslSign('signer', other), tmp.path, true);
    assertOneLineError(runCli(['verify', `${registry.host}/${elsewhere}:1`, '--key', pub('signer')]), /none of 1 signature verifies: signed by this key for another image \(sha256:0{64}\)$/);
  });
  it('verify-attestation reads the attestations cosign\'s WriteAttestationsReferrer stores (artifactType application/vnd.in-toto+json, DSSE layers)', () => {
    const repo = 'oci11sig/att';
    const ref = `${registry.host}/${repo}:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const statement = Buffer.from(JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: `${registry.host}/${repo}`, digest: { sha256: image.manifest.digest.slice('sha256:'.length) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://example.com/build' } },
    }));
    const payloadType = 'application/vnd.in-toto+json';
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${statement.length} `), statement]);
    const envelope = Buffer.from(JSON.stringify({ payloadType, payload: statement.toString('base64'), signatures: [{ keyid: '', sig: opensslSign('signer', pae).toString('base64') }] }));
    storeReferrer(registry.host, repo, subject(), {
      artifactType: payloadType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') },
      layers: [{ mediaType: 'application/vnd.dsse.envelope.v1+json', bytes: envelope, annotations: { predicateType: 'https://slsa.dev/provenance/v1' } }],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    }, tmp.path);
    const r = runCli(['verify-attestation', ref, '--key', pub('signer'), '--type', 'slsaprovenance1']);
    assertOk(r);
    assert.match(r.stderr, /: 1 attestation \(https:\/\/slsa\.dev\/provenance\/v1\)\n$/);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub('stranger')]), /none of 1 attestation verifies: not signed by this key$/);
  });
});
