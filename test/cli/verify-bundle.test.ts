import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslKeyPair, opensslSignature, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { validate } from './json-schema.js';
import { cosignBundle, cosignPayload, storeCosignBundle, storeCosignSignature } from './signature-support.js';

const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/**
 * cosign 3 signs and attests into Sigstore bundles stored as OCI 1.1 referrers of the image
 * (`--new-bundle-format`, its default), not at `sha256-<hex>.sig` / `.att`. The bundles here are
 * made as cosign makes them (the DSSE signature by openssl), stored as cosign stores them by skopeo.
 */
describe('verify / verify-attestation of what cosign 3 stores as Sigstore bundles', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let other: UmociImage;
  const key = (name: string) => join(tmp.path, `${name}.pem`);
  const pub = (name: string) => join(tmp.path, `${name}.pub`);

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [4_000]);
    other = umociImage(tmp.path, 'two', [6_000], join(tmp.path, 'layout-two'));
    for (const name of ['signer', 'stranger']) opensslKeyPair(tmp.path, name);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** openssl's ECDSA signature over SHA-256 of `bytes` with `name`'s key. */
  const opensslSign = (name: string, bytes: Buffer): Buffer => opensslSignature(key(name), bytes, tmp.path);

  function hint(name: string): string {
    const der = Buffer.from(readFileSync(pub(name), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    return createHash('sha256').update(der).digest('base64');
  }

  /** The statement cosign 3's sign makes: the digest as subject, -a annotations on it, an empty predicate. */
  function signStatement(digest: string, annotations?: Record<string, string>): object {
    return {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: digest.slice('sha256:'.length) }, ...(annotations ? { annotations } : {}) }],
      predicateType: SIGN_PREDICATE,
      predicate: {},
    };
  }

  function push(repo: string, which: UmociImage): string {
    const ref = `${registry.host}/${repo}:1`;
    assertOk(runCli(['push', ref, '--layout', which.layout, '--tag', which === image ? 'one' : 'two', '--quiet']));
    return ref;
  }

  it('verify --key accepts an image signed only as cosign 3 signs it: a bundle referrer, no .sig', () => {
    const ref = push('bundle/app', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    const bundle = cosignBundle(signStatement(image.manifest.digest, { 'git-sha': 'abc123' }), (pae) => opensslSign('signer', pae), hint('signer'));
    storeCosignBundle(registry.host, 'bundle/app', subject, bundle, SIGN_PREDICATE, tmp.path);

    const r = runCli(['verify', ref, '--key', pub('signer')]);
    assertOk(r);
    assert.equal(r.stdout, `${image.manifest.digest}\n`);
    assert.match(r.stderr, /^verified .*\/bundle\/app@sha256:[0-9a-f]{64}: 1 valid signature by .*signer\.pub\n$/);
    const json = runCli(['verify', ref, '--key', pub('signer'), '--json', '-a', 'git-sha=abc123']);
    assertOk(json);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(validate('verify.schema.json', doc), [], json.stdout);
    assert.equal(doc.verified[0].bundle, true);
    assert.deepEqual(doc.verified[0].optional, { 'git-sha': 'abc123' });
    assert.equal(doc.verified[0].critical.image['docker-manifest-digest'], image.manifest.digest);

    assertOneLineError(runCli(['verify', ref, '--key', pub('signer'), '-a', 'git-sha=other']), /none of 1 signature verifies: signed by this key without the annotation git-sha=other$/);
    assertOneLineError(runCli(['verify', ref, '--key', pub('stranger')]), /^ocipush: verify .*\/bundle\/app@sha256:[0-9a-f]{64}: none of 1 signature verifies: not signed by this key$/);

    // Copied into a layout with its referrers (an air-gapped bundle): verified offline, as cosign verify --local-image.
    const layout = join(tmp.path, 'copied');
    assertOk(runCli(['copy', ref, `oci:${layout}:app`, '--quiet']));
    assertOk(runCli(['verify', `oci:${layout}:app`, '--key', pub('signer'), '-a', 'git-sha=abc123']));
    assertOneLineError(runCli(['verify', `oci:${layout}:app`, '--key', pub('stranger')]), /none of 1 signature verifies: not signed by this key$/);
  });

  it('a bundle about another image, or signed over a changed statement, does not verify', () => {
    const ref = push('bundle/moved', other);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: other.manifest.digest, size: other.manifest.size };
    // The first image's signature statement, referring to the second image.
    storeCosignBundle(registry.host, 'bundle/moved', subject, cosignBundle(signStatement(image.manifest.digest), (pae) => opensslSign('signer', pae), hint('signer')), SIGN_PREDICATE, tmp.path);
    assertOneLineError(runCli(['verify', ref, '--key', pub('signer')]), /none of 1 signature verifies: signed by this key about another image$/);
    const tampered = JSON.parse(cosignBundle(signStatement(other.manifest.digest), (pae) => opensslSign('signer', pae), hint('signer')).toString());
    tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...signStatement(other.manifest.digest), predicate: { x: 1 } })).toString('base64');
    const ref2 = push('bundle/tampered', other);
    storeCosignBundle(registry.host, 'bundle/tampered', subject, Buffer.from(JSON.stringify(tampered)), SIGN_PREDICATE, tmp.path);
    assertOneLineError(runCli(['verify', ref2, '--key', pub('signer')]), /none of 1 signature verifies: not signed by this key$/);
  });

  it('a signed bundle whose statement lists a null subject before the image\'s verifies, not a crash of the check', () => {
    const ref = push('bundle/null-subject', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    const statement = signStatement(image.manifest.digest) as { subject: unknown[] };
    statement.subject = [null, ...statement.subject];
    storeCosignBundle(registry.host, 'bundle/null-subject', subject, cosignBundle(statement, (pae) => opensslSign('signer', pae), hint('signer')), SIGN_PREDICATE, tmp.path);
    assertOk(runCli(['verify', ref, '--key', pub('signer')]));
  });

  it('a referrers tag that is not an index does not hide a valid .sig signature; without one, verify names the tag', () => {
    const ref = push('bundle/odd-tag', image);
    // An image pushed under the tag the referrers tag schema uses.
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${other.layout}:two`, `docker://${registry.host}/bundle/odd-tag:${image.manifest.digest.replace(':', '-')}`]);
    assertOneLineError(runCli(['verify', ref, '--key', pub('signer')]), /bundle\/odd-tag:sha256-[0-9a-f]{64}: the referrers tag holds an image manifest, not an index$/);
    const payload = cosignPayload(`${registry.host}/bundle/odd-tag`, image.manifest.digest);
    storeCosignSignature(registry.host, 'bundle/odd-tag', image.manifest.digest, payload, opensslSign('signer', payload), tmp.path);
    assertOk(runCli(['verify', ref, '--key', pub('signer')]));
  });

  it('verify-attestation reads a cosign 3 attestation bundle; a signature bundle is not taken for an attestation', () => {
    const ref = push('bundle/attested', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    storeCosignBundle(registry.host, 'bundle/attested', subject, cosignBundle(signStatement(image.manifest.digest), (pae) => opensslSign('signer', pae), hint('signer')), SIGN_PREDICATE, tmp.path);
    assertOneLineError(runCli(['verify-attestation', ref, '--key', pub('signer')]), /verify-attestation .*: no attestations found$/);
    const provenance = 'https://slsa.dev/provenance/v1';
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${registry.host}/bundle/attested`, digest: { sha256: image.manifest.digest.slice(7) } }], predicateType: provenance, predicate: { buildDefinition: { buildType: 'x' } } };
    storeCosignBundle(registry.host, 'bundle/attested', subject, cosignBundle(statement, (pae) => opensslSign('signer', pae), hint('signer')), provenance, tmp.path);
    const r = runCli(['verify-attestation', ref, '--key', pub('signer'), '--type', 'slsaprovenance1']);
    assertOk(r);
    assert.match(r.stderr, /1 attestation \(https:\/\/slsa\.dev\/provenance\/v1\)/);
    assertOk(runCli(['verify', ref, '--key', pub('signer')]));
  });

  it('cosign\'s --new-bundle-format on verify and verify-attestation (cosign 3 scripts pass it) is taken, =false too: both formats are read whatever it says', () => {
    const ref = push('bundle/flagged', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    storeCosignBundle(registry.host, 'bundle/flagged', subject, cosignBundle(signStatement(image.manifest.digest), (pae) => opensslSign('signer', pae), hint('signer')), SIGN_PREDICATE, tmp.path);
    const vuln = 'https://cosign.sigstore.dev/attestation/vuln/v1';
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${registry.host}/bundle/flagged`, digest: { sha256: image.manifest.digest.slice(7) } }], predicateType: vuln, predicate: {} };
    storeCosignBundle(registry.host, 'bundle/flagged', subject, cosignBundle(statement, (pae) => opensslSign('signer', pae), hint('signer')), vuln, tmp.path);
    for (const flag of ['--new-bundle-format', '--new-bundle-format=false']) {
      assertOk(runCli(['verify', ref, '--key', pub('signer'), flag]));
      assertOk(runCli(['verify-attestation', ref, '--key', pub('signer'), '--type', 'vuln', flag]));
      assertOneLineError(runCli(['verify', ref, '--key', pub('stranger'), flag]), /verifies: not signed by this key$/);
    }
  });
  it('a cosign 3 attestation bundle is not counted among the signatures verify checks: alone it is no signature found, beside a signature by another key it is not in the count', () => {
    const ref = push('bundle/attested-only', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    const vuln = 'https://cosign.sigstore.dev/attestation/vuln/v1';
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${registry.host}/bundle/attested-only`, digest: { sha256: image.manifest.digest.slice(7) } }], predicateType: vuln, predicate: {} };
    storeCosignBundle(registry.host, 'bundle/attested-only', subject, cosignBundle(statement, (pae) => opensslSign('signer', pae), hint('signer')), vuln, tmp.path);
    // Before: 'none of 1 signature verifies: predicate type …/vuln/v1, not https://sigstore.dev/cosign/sign/v1'.
    assertOneLineError(runCli(['verify', ref, '--key', pub('signer')]), /: no signatures found$/);
    assertOk(runCli(['verify-attestation', ref, '--key', pub('signer'), '--type', 'vuln']));
    storeCosignBundle(registry.host, 'bundle/attested-only', subject, cosignBundle(signStatement(image.manifest.digest), (pae) => opensslSign('stranger', pae), hint('stranger')), SIGN_PREDICATE, tmp.path);
    assertOneLineError(runCli(['verify', ref, '--key', pub('signer')]), /: none of 1 signature verifies: not signed by this key$/);
  });
  it('verify oci:DIR of what cosign 3 save wrote reads the signature bundles it left in blobs/ only (no index.json entry), as cosign verify --local-image reads them', () => {
    // cosign save writes each referrer as an image, each write starting index.json anew: only the image stays listed, kind-annotated.
    const dir = join(tmp.path, 'cosign3-save');
    run('cp', ['-r', image.layout, dir]);
    const blobs = join(dir, 'blobs', 'sha256');
    const put = (bytes: Buffer): { digest: string; size: number } => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(blobs, hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    const bundle = put(cosignBundle(signStatement(image.manifest.digest, { env: 'prod' }), (pae) => opensslSign('signer', pae), hint('signer')));
    const manifestType = 'application/vnd.oci.image.manifest.v1+json';
    put(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: manifestType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...put(Buffer.from('{}')), artifactType: bundleType },
      layers: [{ mediaType: bundleType, ...bundle }],
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': SIGN_PREDICATE, 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
      subject: { mediaType: manifestType, digest: image.manifest.digest, size: image.manifest.size },
      artifactType: bundleType,
    })));
    writeFileSync(join(dir, 'index.json'), JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: manifestType, digest: image.manifest.digest, size: image.manifest.size, annotations: { kind: 'dev.cosignproject.cosign/image' } }],
    }));
    // Before: 'no signatures found'.
    assertOk(runCli(['verify', `oci:${dir}`, '--key', pub('signer'), '-a', 'env=prod']));
    assertOneLineError(runCli(['verify', `oci:${dir}`, '--key', pub('stranger')]), /none of 1 signature verifies: not signed by this key$/);
  });
  it('push of a layout holding a cosign 3 signature bundle and an attestation puts only the attestation in .att; the bundle goes as a referrer', () => {
    const ref = push('bundle/carried', image);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifest.digest, size: image.manifest.size };
    storeCosignBundle(registry.host, 'bundle/carried', subject, cosignBundle(signStatement(image.manifest.digest), (pae) => opensslSign('signer', pae), hint('signer')), SIGN_PREDICATE, tmp.path);
    const layout = join(tmp.path, 'carried');
    assertOk(runCli(['copy', ref, `oci:${layout}:app`, '--quiet']));
    const predicate = join(tmp.path, 'carried.json');
    writeFileSync(predicate, '{}');
    assertOk(runCli(['attest', `oci:${layout}:app`, '--key', key('signer'), '--type', 'vuln', '--predicate', predicate]));
    const dest = `${registry.host}/bundle/carried-prod:1`;
    assertOk(runCli(['push', `oci:${layout}:app`, dest]));
    const att = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/bundle/carried-prod:${image.manifest.digest.replace(':', '-')}.att`])) as { layers: { annotations?: Record<string, string> }[] };
    // Before: the bundle's cosign sign statement went into .att too, as an attestation of no predicate type.
    assert.deepEqual(att.layers.map((l) => l.annotations?.predicateType), ['https://cosign.sigstore.dev/attestation/vuln/v1']);
    assertOk(runCli(['verify', dest, '--key', pub('signer')]));
    assertOk(runCli(['verify-attestation', dest, '--key', pub('signer'), '--type', 'vuln']));
  });
});
