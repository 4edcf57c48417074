import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, skopeoRaw } from './copy-support.js';
import { validate } from './json-schema.js';
import { opensslVerifiedSignatures } from './signature-support.js';

interface IndexJson { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] }
interface ReferrersIndex { manifests: { digest: string; artifactType?: string }[] }

const PROVENANCE = 'https://slsa.dev/provenance/v1';
let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
const env = envWith(missingPath('docker-config'), { COSIGN_PASSWORD: 'through-layout' });
let key: string;
let pub: string;
/** The public key of a pair that signed nothing. */
let otherPub: string;
let rootfs: string;
/** The layout the first test copies a signed, described image into, with what that copy found. */
let bundle: { path: string; digest: string; sigTag: string; sigDigest: string; attached: { digest: string; artifactType?: string }[] } | undefined;

/** The referrers the registry's `sha256-<hex>` tag index lists for `digest` (distribution 2.8 has no referrers API), read by skopeo. */
async function tagSchemaReferrers(repo: string, digest: string): Promise<{ digest: string; artifactType?: string }[]> {
  const { bytes } = await skopeoRaw(`${registry.host}/${repo}:${digest.replace(':', '-')}`);
  return (JSON.parse(bytes.toString('utf8')) as ReferrersIndex).manifests.map((m) => ({ digest: m.digest, artifactType: m.artifactType })).sort((a, b) => a.digest.localeCompare(b.digest));
}

before(async () => {
  tmp = await tempDir();
  registry = await startRegistry();
  rootfs = join(tmp.path, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'through\n');
  const prefix = join(tmp.path, 'release');
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', prefix], { env }));
  key = `${prefix}.key`;
  pub = `${prefix}.pub`;
  assertOk(await runCliAsync(['generate-key-pair', '--output-prefix', join(tmp.path, 'other')], { env }));
  otherPub = join(tmp.path, 'other.pub');
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('copy through an OCI layout (an air-gapped transfer)', () => {
  it('carries signatures, the SBOM and the attestation from a registry into a layout and on to another repository, where they verify', async () => {
    const layout = join(tmp.path, 'build');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app'], { env }));
    const source = `${registry.host}/staging/app:1`;
    assertOk(await runCliAsync(['push', source, '--layout', layout, '--tag', 'app'], { env }));
    assertOk(await runCliAsync(['sign', source, '--key', key], { env }));
    const predicate = join(tmp.path, 'predicate.json');
    writeFileSync(predicate, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/build/v1' } }));
    assertOk(await runCliAsync(['attest', source, '--key', key, '--type', 'slsaprovenance1', '--predicate', predicate], { env }));
    assertOk(await runCliAsync(['sbom', source, '--attach', '-o', join(tmp.path, 'app.spdx.json')], { env }));
    const digest = (await skopeoRaw(source)).digest;
    const attached = await tagSchemaReferrers('staging/app', digest);
    assert.deepEqual(attached.map((r) => r.artifactType).sort(), ['application/spdx+json', 'application/vnd.dsse.envelope.v1+json']);
    const sigTag = `${digest.replace(':', '-')}.sig`;
    const signature = await skopeoRaw(`${registry.host}/staging/app:${sigTag}`);

    // Into a directory: the signature under its cosign name, the OCI 1.1 referrers listed as a build lists its SBOM.
    const bundleDir = join(tmp.path, 'bundle');
    assertOk(await runCliAsync(['copy', source, `oci:${bundleDir}:app`], { env }));
    const index = JSON.parse(readFileSync(join(bundleDir, 'index.json'), 'utf8')) as IndexJson;
    const listed = index.manifests.filter((m) => m.artifactType !== undefined).map((m) => ({ digest: m.digest, artifactType: m.artifactType })).sort((a, b) => a.digest.localeCompare(b.digest));
    assert.deepEqual(listed, attached);
    // skopeo reads the signature back out of the layout, byte for byte.
    const inLayout = run('skopeo', ['inspect', '--raw', `oci:${bundleDir}:${sigTag}`]);
    assert.equal(inLayout, signature.bytes.toString('utf8'));
    // Checked offline before it goes anywhere, as cosign verify --local-image: this key yes, another no.
    assertOk(await runCliAsync(['verify', `oci:${bundleDir}:app`, '--key', pub], { env }));
    assertOk(await runCliAsync(['verify-attestation', `oci:${bundleDir}:app`, '--key', pub, '--type', 'slsaprovenance1'], { env }));
    assertOneLineError(await runCliAsync(['verify', `oci:${bundleDir}:app`, '--key', otherPub], { env }), /verify oci:.*bundle:app@sha256:[0-9a-f]{64}: none of 1 signature verifies/);

    // Out of the directory into another repository: the same signature bytes (skopeo), which verify accepts there.
    const destination = `${registry.host}/production/app:1`;
    assertOk(await runCliAsync(['copy', `oci:${bundleDir}:app`, destination], { env }));
    assert.equal((await skopeoRaw(destination)).digest, digest);
    assert.equal((await skopeoRaw(`${registry.host}/production/app:${sigTag}`)).digest, signature.digest);
    assertOk(await runCliAsync(['verify', destination, '--key', pub], { env }));
    assertOk(await runCliAsync(['verify-attestation', destination, '--key', pub, '--type', 'slsaprovenance1'], { env }));
    assert.deepEqual(await tagSchemaReferrers('production/app', digest), attached);
    bundle = { path: bundleDir, digest, sigTag, sigDigest: signature.digest, attached };
  });

  it('push from such a layout carries them as copy does: the cosign tags under their names, the OCI 1.1 referrers', async () => {
    assert.ok(bundle, 'the copy into a layout ran first');
    const destination = `${registry.host}/pushed/app:1`;
    const r = await runCliAsync(['push', destination, '--layout', bundle.path, '--tag', 'app', '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { referrers: { via: string; tag?: string }[] };
    assert.deepEqual(validate('push.schema.json', report), [], r.stdout);
    const reported = report.referrers;
    assert.deepEqual(reported.filter((x) => x.via === 'cosign-tag').map((x) => x.tag).sort(), [`${bundle.digest.replace(':', '-')}.att`, bundle.sigTag]);
    assert.equal((await skopeoRaw(`${registry.host}/pushed/app:${bundle.sigTag}`)).digest, bundle.sigDigest);
    assert.deepEqual(await tagSchemaReferrers('pushed/app', bundle.digest), bundle.attached);
    assertOk(await runCliAsync(['verify', destination, '--key', pub], { env }));
  });

  it('push keeps both: the .att a copy brought and the provenance a build then added to the same image in the layout', async () => {
    assert.ok(bundle, 'the copy into a layout ran first');
    // The same tree builds the same image (reproducible): its provenance is a new referrer of the digest the .att is for.
    const r = await runCliAsync(['build', rootfs, '--layout', bundle.path, '--tag', 'app', '--provenance', '--key', key, '--json'], { env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, bundle.digest);
    assertOk(await runCliAsync(['push', `${registry.host}/both/app:1`, '--layout', bundle.path, '--tag', 'app'], { env }));
    const att = JSON.parse((await skopeoRaw(`${registry.host}/both/app:${bundle.digest.replace(':', '-')}.att`)).bytes.toString('utf8')) as { layers: { digest: string }[] };
    assert.equal(new Set(att.layers.map((l) => l.digest)).size, 2, 'the attest from the registry and the build\'s provenance');
  });

  it('copies a layout a build described and attested to a registry as push does: the SBOM and provenance as referrers, the provenance at cosign\'s .att', async () => {
    const layout = join(tmp.path, 'described');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '--provenance', '--key', key], { env }));
    const destination = `${registry.host}/described/app:1`;
    assertOk(await runCliAsync(['copy', `oci:${layout}:app`, destination], { env }));
    const digest = (await skopeoRaw(destination)).digest;
    assert.deepEqual((await tagSchemaReferrers('described/app', digest)).map((r) => r.artifactType).sort(), ['application/spdx+json', 'application/vnd.dsse.envelope.v1+json']);
    const att = JSON.parse((await skopeoRaw(`${registry.host}/described/app:${digest.replace(':', '-')}.att`)).bytes.toString('utf8')) as { layers: { annotations?: Record<string, string> }[] };
    assert.deepEqual(att.layers.map((l) => l.annotations?.predicateType), [PROVENANCE]);
    assertOk(await runCliAsync(['verify-attestation', destination, '--key', pub, '--type', 'slsaprovenance1'], { env }));
    // In the layout itself, offline: the build's provenance verifies by this key only, and no image is signed there.
    assertOk(await runCliAsync(['verify-attestation', `oci:${layout}:app`, '--key', pub, '--type', 'slsaprovenance1'], { env }));
    assertOneLineError(await runCliAsync(['verify-attestation', `oci:${layout}:app`, '--key', otherPub], { env }), /none of 1 attestation verifies/);
    assertOneLineError(await runCliAsync(['verify', `oci:${layout}:app`, '--key', pub], { env }), /verify oci:.*described:app@sha256:[0-9a-f]{64}: no signatures found/);
  });

  it('a layout name moved to another image is no longer verified: the signature names the digest it was made for', async () => {
    assert.ok(bundle, 'the copy into a layout ran first');
    const other = join(tmp.path, 'other-rootfs');
    mkdirSync(other);
    writeFileSync(join(other, 'else'), 'another image\n');
    assertOk(await runCliAsync(['build', other, '--layout', bundle.path, '--tag', 'app'], { env }));
    assertOneLineError(await runCliAsync(['verify', `oci:${bundle.path}:app`, '--key', pub], { env }), /no signatures found/);
  });

  it('sign and attest work in a layout, offline: verify and verify-attestation accept them there, and push takes them to the repository the signature names, where openssl verifies it', async () => {
    const layout = join(tmp.path, 'offline');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app'], { env }));
    assertOneLineError(await runCliAsync(['sign', `oci:${layout}:app`, '--key', key], { env }), /give it with --sign-container-identity REGISTRY\/REPOSITORY/, 2);
    const r = await runCliAsync(['sign', `oci:${layout}:app`, '--key', key, '--sign-container-identity', `${registry.host}/offline/app`, '--json'], { env });
    assertOk(r);
    assert.deepEqual(validate('sign.schema.json', JSON.parse(r.stdout)), [], r.stdout);
    const digest = (JSON.parse(r.stdout) as { signatures: { digest: string }[] }).signatures[0]!.digest;
    // The signature beside the image is not a second image: the layout's only image is still found without a name.
    assertOk(await runCliAsync(['verify', `oci:${layout}`, '--key', pub], { env }));
    const predicate = join(tmp.path, 'offline-predicate.json');
    writeFileSync(predicate, JSON.stringify({ scanner: 'offline' }));
    const attested = await runCliAsync(['attest', `oci:${layout}:app`, '--key', key, '--type', 'vuln', '--predicate', predicate, '--json'], { env });
    assertOk(attested);
    assert.deepEqual(validate('attest.schema.json', JSON.parse(attested.stdout)), [], attested.stdout);
    assertOk(await runCliAsync(['verify-attestation', `oci:${layout}:app`, '--key', pub, '--type', 'vuln'], { env }));

    assertOk(await runCliAsync(['push', `${registry.host}/offline/app:1`, '--layout', layout], { env }));
    assert.equal(opensslVerifiedSignatures(registry.host, 'offline/app', digest, pub, tmp.path), 1);
    assertOk(await runCliAsync(['verify', `${registry.host}/offline/app:1`, '--key', pub], { env }));
    assertOk(await runCliAsync(['verify-attestation', `${registry.host}/offline/app:1`, '--key', pub, '--type', 'vuln'], { env }));
    // Kept both ways in the layout, as in a registry: one envelope at .att, not two.
    const att = JSON.parse((await skopeoRaw(`${registry.host}/offline/app:${digest.replace(':', '-')}.att`)).bytes.toString('utf8')) as { layers: unknown[] };
    assert.equal(att.layers.length, 1);
    assert.deepEqual((await tagSchemaReferrers('offline/app', digest)).map((r) => r.artifactType), ['application/vnd.dsse.envelope.v1+json']);
  });

  it('leaves the referrers behind with --no-referrers', async () => {
    const layout = join(tmp.path, 'described');
    const destination = `${registry.host}/bare/app:1`;
    assertOk(await runCliAsync(['copy', `oci:${layout}:app`, destination, '--no-referrers'], { env }));
    const digest = (await skopeoRaw(destination)).digest;
    await assert.rejects(skopeoRaw(`${registry.host}/bare/app:${digest.replace(':', '-')}`), /manifest unknown/);
  });
});

describe('copy out of a layout whose base a build only referenced', () => {
  it('mounts the base layers from their repository in that registry, as push does, writes nothing into the layout, and keeps its clients for --sign', async () => {
    const baseLayout = join(tmp.path, 'base-build');
    assertOk(await runCliAsync(['build', rootfs, '--layout', baseLayout, '--tag', 'base'], { env }));
    const base = `${registry.host}/lazy/base:1`;
    assertOk(await runCliAsync(['push', base, '--layout', baseLayout, '--tag', 'base'], { env }));
    const app = join(tmp.path, 'app-rootfs');
    mkdirSync(app);
    writeFileSync(join(app, 'app.txt'), 'the app\n');
    const layout = join(tmp.path, 'lazy');
    assertOk(await runCliAsync(['build', app, '--base', base, '--layout', layout, '--tag', 'app'], { env }));
    const before = readdirSync(join(layout, 'blobs', 'sha256')).sort();
    const baseLayer = (JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${base}`])) as { layers: { digest: string }[] }).layers[0]!.digest;
    assert.ok(!before.includes(baseLayer.slice(7)), 'the build referenced the base layer without fetching it');

    const destination = `${registry.host}/lazy/app:1`;
    const r = await runCliAsync(['copy', `oci:${layout}:app`, destination, '--sign', '--key', key, '--json'], { env });
    assertOk(r);
    const blobs = (JSON.parse(r.stdout) as { blobs: { digest: string; outcome: string }[] }).blobs;
    assert.equal(blobs.find((b) => b.digest === baseLayer)?.outcome, 'mounted');
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')).sort(), before);
    // skopeo reads the whole image back from the destination, base layer included.
    run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${destination}`, `oci:${join(tmp.path, 'lazy-check')}:app`]);
    assertOk(await runCliAsync(['verify', destination, '--key', pub], { env }));
  });
});
