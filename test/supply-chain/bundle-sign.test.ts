import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOci11Proxy, type Oci11Proxy } from '../support/oci11-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';
import { validate } from '../cli/json-schema.js';

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
/** SOURCE_DATE_EPOCH for every run: the referrer's created annotation is then known. */
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const CREATED = '2023-11-14T22:13:20Z';

interface Manifest {
  artifactType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  subject?: { digest: string };
  annotations?: Record<string, string>;
}
interface Bundle {
  mediaType: string;
  verificationMaterial: { publicKey: { hint: string } };
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
}

/**
 * `sign` / `attest --new-bundle-format` write what cosign 3 writes by default for a key without a
 * transparency log: a Sigstore bundle v0.3 (DSSE) as the one layer of an OCI 1.1 referrer of the
 * image. Read back over the registry API by curl, the signature checked by openssl over DSSE's
 * pre-authentication encoding of the bundle's payload, the bundle's shape against the one cosign
 * wrote (test/fixtures/cosign/oci-attestation.sigstore.json).
 */
describe('sign / attest --new-bundle-format: cosign 3\'s Sigstore bundle referrers', () => {
  let registry: RunningRegistry;
  let proxy: Oci11Proxy | undefined;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let keyFile = '';
  let pubFile = '';

  before(async () => {
    requireTool('openssl');
    tmp = await tempDir('ocipush-bundle-sign-');
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [3_000]);
    keyFile = join(tmp.path, 'signer.pem');
    pubFile = join(tmp.path, 'signer.pub');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    run('openssl', ['pkey', '-in', keyFile, '-pubout', '-out', pubFile]);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await tmp?.cleanup();
  });

  const curl = (url: string, accept?: string) => run('curl', ['-sSf', ...(accept ? ['-H', `Accept: ${accept}`] : []), url]);
  const manifestAt = (host: string, repo: string, reference: string): Manifest => JSON.parse(curl(`http://${host}/v2/${repo}/manifests/${reference}`, 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json')) as Manifest;
  const blobAt = (host: string, repo: string, digest: string): string => curl(`http://${host}/v2/${repo}/blobs/${digest}`);

  /** base64 of the SHA-256 of the public key's DER, computed by openssl. */
  function hint(): string {
    const der = join(tmp.path, 'signer.der');
    run('openssl', ['pkey', '-pubin', '-in', pubFile, '-outform', 'DER', '-out', der]);
    return createHash('sha256').update(readFileSync(der)).digest('base64');
  }

  /** Checks the bundle's one DSSE signature with openssl over PAE(payloadType, payload), returns the statement's exact text. */
  function opensslChecked(bundle: Bundle): string {
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    const type = bundle.dsseEnvelope.payloadType;
    const file = join(tmp.path, `pae-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]));
    writeFileSync(`${file}.sig`, Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pubFile, '-signature', `${file}.sig`, file]), /Verified OK/);
    return payload.toString('utf8');
  }

  /** The bundle has the fields, in the order, of the one cosign 3 wrote (a key's hint where cosign's has a certificate and a log entry). */
  function assertCosignShape(bundle: Bundle): void {
    const cosign = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'cosign', 'oci-attestation.sigstore.json'), 'utf8')) as Bundle;
    assert.deepEqual(Object.keys(bundle), Object.keys(cosign));
    assert.equal(bundle.mediaType, cosign.mediaType);
    assert.deepEqual(bundle.verificationMaterial, { publicKey: { hint: hint() } });
    assert.deepEqual(Object.keys(bundle.dsseEnvelope), Object.keys(cosign.dsseEnvelope));
    assert.equal(bundle.dsseEnvelope.payloadType, cosign.dsseEnvelope.payloadType);
    assert.deepEqual(bundle.dsseEnvelope.signatures.map((s) => Object.keys(s)), cosign.dsseEnvelope.signatures.map((s) => Object.keys(s)));
  }

  /** The one bundle referrer of `digest` listed in `index` (the tag schema's, or the API's), its manifest checked as cosign's WriteReferrer writes it. */
  function bundleReferrer(host: string, repo: string, index: { manifests: { digest: string; artifactType?: string }[] }, digest: string, predicateType: string): Bundle {
    const entries = index.manifests.filter((m) => m.artifactType === BUNDLE_TYPE);
    assert.equal(entries.length, 1, JSON.stringify(index));
    const manifest = manifestAt(host, repo, entries[0]!.digest);
    assert.equal(manifest.artifactType, BUNDLE_TYPE);
    assert.deepEqual(manifest.config, EMPTY);
    assert.equal(manifest.subject?.digest, digest);
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), [BUNDLE_TYPE]);
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.created': CREATED, 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType });
    return JSON.parse(blobAt(host, repo, manifest.layers[0]!.digest)) as Bundle;
  }

  it('sign --new-bundle-format: a bundle referrer (tag schema on docker-registry 2.8), no .sig; openssl checks it, verify reads it', () => {
    const ref = `${registry.host}/nb/app:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const r = runCli(['sign', ref, '--key', keyFile, '--new-bundle-format', '-a', 'team=core', '-a', 'git-sha=abc123', '--json'], { env: EPOCH });
    assertOk(r);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(validate('sign.schema.json', doc), [], r.stdout);
    assert.equal(doc.signatures[0].digest, image.manifest.digest);
    assert.equal(doc.signatures[0].bundle, true);

    const tag = image.manifest.digest.replace(':', '-');
    assert.throws(() => curl(`http://${registry.host}/v2/nb/app/manifests/${tag}.sig`));
    const bundle = bundleReferrer(registry.host, 'nb/app', JSON.parse(curl(`http://${registry.host}/v2/nb/app/manifests/${tag}`, 'application/vnd.oci.image.index.v1+json')), image.manifest.digest, SIGN_PREDICATE);
    assertCosignShape(bundle);
    // protojson's text of cosign's statement: the subject's annotations (a Struct) sorted by key.
    assert.equal(opensslChecked(bundle), `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${image.manifest.digest.slice(7)}"},"annotations":{"git-sha":"abc123","team":"core"}}],"predicateType":"${SIGN_PREDICATE}","predicate":{}}`);

    const verified = runCli(['verify', ref, '--key', pubFile, '-a', 'git-sha=abc123', '--json']);
    assertOk(verified);
    assert.equal(JSON.parse(verified.stdout).verified[0].bundle, true);
  });

  it('attest --new-bundle-format through a registry with the referrers API: a bundle referrer only (no .att, no DSSE referrer); openssl checks it, verify-attestation reads it', async () => {
    proxy = await startOci11Proxy({ target: registry.url, referrersApi: true });
    const ref = `${proxy.host}/nb/attested:1`;
    // The proxy runs in this process: the CLI is run without blocking it.
    assertOk(await runCliAsync(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    const predicate = join(tmp.path, 'vuln.json');
    writeFileSync(predicate, '{"scanner":{"uri":"pkg:github/aquasecurity/trivy"}}');
    const r = await runCliAsync(['attest', ref, '--key', keyFile, '--new-bundle-format', '--type', 'vuln', '--predicate', predicate, '--json'], { env: EPOCH });
    assertOk(r);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(validate('attest.schema.json', doc), [], r.stdout);
    assert.equal(doc.bundle, true);

    const tag = image.manifest.digest.replace(':', '-');
    assert.throws(() => curl(`http://${registry.host}/v2/nb/attested/manifests/${tag}.att`));
    // The API lists it; the tag schema's index is not written beside it.
    assert.throws(() => curl(`http://${registry.host}/v2/nb/attested/manifests/${tag}`, 'application/vnd.oci.image.index.v1+json'));
    const listed = await (await fetch(`http://${proxy.host}/v2/nb/attested/referrers/${image.manifest.digest}`)).json() as { manifests: { digest: string; artifactType?: string }[] };
    assert.deepEqual(listed.manifests.map((m) => m.artifactType), [BUNDLE_TYPE]);
    const vuln = 'https://cosign.sigstore.dev/attestation/vuln/v1';
    const bundle = bundleReferrer(registry.host, 'nb/attested', listed, image.manifest.digest, vuln);
    assertCosignShape(bundle);
    const statement = JSON.parse(opensslChecked(bundle));
    assert.deepEqual(statement, { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${proxy.host}/nb/attested`, digest: { sha256: image.manifest.digest.slice(7) } }], predicateType: vuln, predicate: { scanner: { uri: 'pkg:github/aquasecurity/trivy' } } });

    const verified = await runCliAsync(['verify-attestation', ref, '--key', pubFile, '--type', 'vuln']);
    assertOk(verified);
    assert.match(verified.stderr, /1 attestation \(https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1\)/);
  });

  it('sign and attest --new-bundle-format in a layout (no --sign-container-identity: the statement names the digest): verified offline, and a copy carries the bundles to the registry', () => {
    const layout = join(tmp.path, 'signed-layout');
    run('cp', ['-r', image.layout, layout]);
    const r = runCli(['sign', `oci:${layout}:one`, '--key', keyFile, '--new-bundle-format'], { env: EPOCH });
    assertOk(r);
    assert.match(r.stderr, /^signed oci:.*signed-layout:one@sha256:[0-9a-f]{64}: Sigstore bundle, referrer sha256:[0-9a-f]{64} in the layout\n$/);
    const predicate = join(tmp.path, 'notes.txt');
    writeFileSync(predicate, 'reviewed');
    assertOk(runCli(['attest', `oci:${layout}:one`, '--key', keyFile, '--new-bundle-format', '--predicate', predicate], { env: EPOCH }));
    assertOk(runCli(['verify', `oci:${layout}:one`, '--key', pubFile]));
    assertOk(runCli(['verify-attestation', `oci:${layout}:one`, '--key', pubFile, '--type', 'custom']));

    assertOk(runCli(['copy', `oci:${layout}:one`, `${registry.host}/nb/copied:1`, '--quiet']));
    const index = JSON.parse(curl(`http://${registry.host}/v2/nb/copied/manifests/${image.manifest.digest.replace(':', '-')}`, 'application/vnd.oci.image.index.v1+json')) as { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] };
    const predicates = index.manifests.map((m) => manifestAt(registry.host, 'nb/copied', m.digest).annotations?.['dev.sigstore.bundle.predicateType']).sort();
    assert.deepEqual(predicates, ['https://cosign.sigstore.dev/attestation/v1', SIGN_PREDICATE]);
    for (const m of index.manifests) opensslChecked(JSON.parse(blobAt(registry.host, 'nb/copied', manifestAt(registry.host, 'nb/copied', m.digest).layers[0]!.digest)) as Bundle);
    assertOk(runCli(['verify', `${registry.host}/nb/copied:1`, '--key', pubFile]));
    assertOk(runCli(['verify-attestation', `${registry.host}/nb/copied:1`, '--key', pubFile, '--type', 'custom']));
  });

  it('copy --sign --new-bundle-format: the copy signed as cosign 3 signs, a bundle referrer and no .sig, in a registry and in a layout without --sign-container-identity; openssl checks it, verify reads it', () => {
    const tag = image.manifest.digest.replace(':', '-');
    // Before: Unknown argument: new-bundle-format.
    const r = runCli(['copy', `oci:${image.layout}:one`, `${registry.host}/nb/promoted:1`, '--sign', '--key', keyFile, '--new-bundle-format', '--json'], { env: EPOCH });
    assertOk(r);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(validate('copy.schema.json', doc), [], r.stdout);
    assert.deepEqual(doc.signatures.map((s: { digest: string; bundle?: boolean }) => [s.digest, s.bundle]), [[image.manifest.digest, true]]);
    assert.match(r.stderr, new RegExp(`^signed ${registry.host}/nb/promoted@${image.manifest.digest}: Sigstore bundle, referrer ${registry.host}/nb/promoted@sha256:[0-9a-f]{64}$`, 'm'));
    assert.throws(() => curl(`http://${registry.host}/v2/nb/promoted/manifests/${tag}.sig`));
    const bundle = bundleReferrer(registry.host, 'nb/promoted', JSON.parse(curl(`http://${registry.host}/v2/nb/promoted/manifests/${tag}`, 'application/vnd.oci.image.index.v1+json')), image.manifest.digest, SIGN_PREDICATE);
    assertCosignShape(bundle);
    assert.equal(opensslChecked(bundle), `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${image.manifest.digest.slice(7)}"},"annotations":{}}],"predicateType":"${SIGN_PREDICATE}","predicate":{}}`);
    assert.equal(JSON.parse(runCli(['verify', `${registry.host}/nb/promoted:1`, '--key', pubFile, '--json']).stdout).verified[0].bundle, true);

    // Into a layout: the statement names the digest only, so no repository is asked for.
    const layout = join(tmp.path, 'copied-layout');
    assertOk(runCli(['copy', `oci:${image.layout}:one`, `oci:${layout}:app`, '--sign', '--key', keyFile, '--new-bundle-format'], { env: EPOCH }));
    assertOk(runCli(['verify', `oci:${layout}:app`, '--key', pubFile]));
    assertOneLineError(runCli(['copy', `oci:${image.layout}:one`, `oci:${layout}:two`, '--new-bundle-format']), /^ocipush: --new-bundle-format goes with --sign \(how the signature is stored\)$/, 2);
    assertOneLineError(runCli(['copy', `oci:${image.layout}:one`, `oci:${layout}:two`, '--sign', '--key', keyFile, '--new-bundle-format', '--sign-container-identity', `${registry.host}/nb/app`]),
      /^ocipush: --sign-container-identity names the repository in a cosign \.sig payload; a --new-bundle-format signature names the digest only: give one of the two$/, 2);
  });

  it('build --sign --new-bundle-format: signed in each repository pushed to, or without --push in the layout, offline; openssl checks the bundle, verify reads it', () => {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
    const layout = join(tmp.path, 'build-layout');
    // Before: Unknown argument: new-bundle-format.
    const pushed = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--push', `${registry.host}/nb/built:1`, '--sign', '--key', keyFile, '--new-bundle-format', '--json'], { env: EPOCH });
    assertOk(pushed);
    const digest = JSON.parse(pushed.stdout).digest as string;
    assert.throws(() => curl(`http://${registry.host}/v2/nb/built/manifests/${digest.replace(':', '-')}.sig`));
    const bundle = bundleReferrer(registry.host, 'nb/built', JSON.parse(curl(`http://${registry.host}/v2/nb/built/manifests/${digest.replace(':', '-')}`, 'application/vnd.oci.image.index.v1+json')), digest, SIGN_PREDICATE);
    assertCosignShape(bundle);
    assert.equal(JSON.parse(opensslChecked(bundle)).subject[0].digest.sha256, digest.slice(7));
    assertOk(runCli(['verify', `${registry.host}/nb/built:1`, '--key', pubFile]));

    const offline = runCli(['build', rootfs, '--layout', join(tmp.path, 'offline-layout'), '--tag', 'app', '--sign', '--key', keyFile, '--new-bundle-format'], { env: EPOCH });
    assertOk(offline);
    assert.match(offline.stderr, /^signed oci:.*offline-layout:app@sha256:[0-9a-f]{64}: Sigstore bundle, referrer sha256:[0-9a-f]{64} in the layout$/m);
    assertOk(runCli(['verify', `oci:${join(tmp.path, 'offline-layout')}:app`, '--key', pubFile]));
  });
});
