import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { opensslSignature, requireTool, run, runCli, tempDir } from '../support/tools.js';
import { skopeoRawManifest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk } from '../cli/registry-support.js';
import { cosignPayload, opensslVerifiedSignatures, storeCosignSignature } from '../cli/signature-support.js';

/**
 * A copy (or push) into a repository whose cosign `.sig` tag already holds signatures made there
 * appends the source's signatures to them, as skopeo (containers/image) writes signatures into a
 * registry that has some: a promotion never drops the destination's own signatures.
 */
describe('copy and push into a repository that already holds signatures of the image', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  const env = { COSIGN_PASSWORD: 'merge-pw' };
  let keyA: string;
  let pubA: string;
  let keyB: string;
  let pubB: string;

  before(async () => {
    tmp = await tempDir('ocipush-merge-sig-');
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [4_000]);
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'a')], { env }));
    [keyA, pubA] = [join(tmp.path, 'a.key'), join(tmp.path, 'a.pub')];
    requireTool('openssl');
    keyB = join(tmp.path, 'b.pem');
    pubB = join(tmp.path, 'b.pub');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyB]);
    run('openssl', ['pkey', '-in', keyB, '-pubout', '-out', pubB]);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** A signature by key B made without ocipush (openssl over cosign's payload, stored by skopeo), as another signer leaves it in `repo`. */
  function signThereWithB(repo: string): void {
    const payload = cosignPayload(`${registry.host}/${repo}`, image.manifest.digest);
    storeCosignSignature(registry.host, repo, image.manifest.digest, payload, opensslSignature(keyB, payload, tmp.path), tmp.path);
  }

  const sigLayers = (repo: string): number => (JSON.parse(skopeoRawManifest(`${registry.host}/${repo}:${image.manifest.digest.replace(':', '-')}.sig`).bytes.toString()) as { layers: unknown[] }).layers.length;

  it('copy appends the source\'s signatures to those the destination has; a copy made again writes nothing', async () => {
    const src = `${registry.host}/staging/app:1`;
    const dst = `${registry.host}/prod/app:1`;
    assertOk(runCli(['push', src, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', src, '--key', keyA], { env }));
    assertOk(runCli(['push', dst, '--layout', image.layout, '--tag', 'one', '--quiet']));
    signThereWithB('prod/app');

    assertOk(runCli(['copy', src, dst]));
    // Before, the source's .sig image replaced the destination's: B's signature was gone.
    assertOk(runCli(['verify', dst, '--key', pubB]));
    assertOk(runCli(['verify', dst, '--key', pubA]));
    assert.equal(sigLayers('prod/app'), 2);
    // Checked without ocipush: skopeo reads the .sig image, openssl each signature, the destination's own first.
    assert.equal(opensslVerifiedSignatures(registry.host, 'prod/app', image.manifest.digest, pubB, tmp.path), 1);
    assert.equal(opensslVerifiedSignatures(registry.host, 'staging/app', image.manifest.digest, pubA, tmp.path, `${registry.host}/staging/app`), 1);

    // A second run of the same promotion: every signature of the source is already there.
    const before = skopeoRawManifest(`${registry.host}/prod/app:${image.manifest.digest.replace(':', '-')}.sig`).digest;
    await registry.forgetAccessLog();
    assertOk(runCli(['copy', src, dst]));
    const writes = (await registry.settledAccessLog()).filter((e) => e.method !== 'GET' && e.method !== 'HEAD' && !e.uri.includes('harness-settle'));
    assert.deepEqual(writes.map((e) => `${e.method} ${e.path}`), [], 'nothing written');
    assert.equal(skopeoRawManifest(`${registry.host}/prod/app:${image.manifest.digest.replace(':', '-')}.sig`).digest, before);

    // A new signature in the source is appended on the next copy; B's stays.
    assertOk(runCli(['sign', src, '--key', keyA, '-a', 'run=2'], { env }));
    assertOk(runCli(['copy', src, dst]));
    assert.equal(sigLayers('prod/app'), 3);
    assertOk(runCli(['verify', dst, '--key', pubB]));
    assertOk(runCli(['verify', dst, '--key', pubA, '-a', 'run=2']));
  });

  it('push of a layout signed offline keeps the signature the registry already has', () => {
    const layout = join(tmp.path, 'signed-layout');
    assertOk(runCli(['copy', `oci:${image.layout}:one`, `oci:${layout}:app`]));
    assertOk(runCli(['sign', `oci:${layout}:app`, '--key', keyA, '--sign-container-identity', `${registry.host}/rel/app`], { env }));
    const dst = `${registry.host}/rel/app:1`;
    assertOk(runCli(['push', dst, '--layout', image.layout, '--tag', 'one', '--quiet']));
    signThereWithB('rel/app');

    assertOk(runCli(['push', `oci:${layout}:app`, dst]));
    assertOk(runCli(['verify', dst, '--key', pubB]));
    assertOk(runCli(['verify', dst, '--key', pubA]));
    assert.equal(sigLayers('rel/app'), 2);
  });
  it('cosign\'s .att likewise: the destination\'s attestation stays beside the source\'s', () => {
    const src = `${registry.host}/staging/att:1`;
    const dst = `${registry.host}/prod/att:1`;
    const predicate = join(tmp.path, 'scan.json');
    writeFileSync(predicate, '{"scanner":{"uri":"pkg:github/aquasecurity/trivy"}}');
    for (const ref of [src, dst]) assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['attest', src, '--key', keyA, '--type', 'slsaprovenance1', '--predicate', predicate], { env }));
    assertOk(runCli(['attest', dst, '--key', keyB, '--type', 'vuln', '--predicate', predicate]));
    assertOk(runCli(['copy', src, dst]));
    const att = JSON.parse(skopeoRawManifest(`${registry.host}/prod/att:${image.manifest.digest.replace(':', '-')}.att`).bytes.toString()) as { layers: { annotations: Record<string, string> }[] };
    assert.deepEqual(att.layers.map((l) => l.annotations.predicateType), ['https://cosign.sigstore.dev/attestation/vuln/v1', 'https://slsa.dev/provenance/v1']);
    assertOk(runCli(['verify-attestation', dst, '--key', pubA, '--type', 'slsaprovenance1']));
    assertOk(runCli(['verify-attestation', dst, '--key', pubB, '--type', 'vuln']));
  });
});
