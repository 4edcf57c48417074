import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { readLayer } from '../../src/supply-chain/cosign-tags.js';
import { parsePublicKey } from '../../src/supply-chain/keys.js';
import { checkSignatures } from '../../src/supply-chain/sign.js';
import { KeyVerifier } from '../../src/supply-chain/signer.js';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runCli, tempDir } from '../support/tools.js';
import { skopeoRawManifest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk } from '../cli/registry-support.js';

/**
 * An SBOM attestation holds the whole SBOM: `cosign attest --type spdxjson` of a large image
 * makes a DSSE envelope of several MiB, which cosign reads up to its 128 MiB attachment limit.
 */
describe('attestations of several MiB', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  const env = { COSIGN_PASSWORD: 'big-pw' };
  let key: string;
  let pub: string;
  let sbom: string;

  before(async () => {
    tmp = await tempDir('ocipush-big-att-');
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [2_000]);
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }));
    [key, pub] = [join(tmp.path, 'k.key'), join(tmp.path, 'k.pub')];
    // An SPDX document of 40,000 packages, about 4.5 MiB: the envelope (base64) is about 6 MiB.
    sbom = join(tmp.path, 'sbom.spdx.json');
    const packages = Array.from({ length: 40_000 }, (_, i) => ({ name: `package-${i}`, SPDXID: `SPDXRef-Package-${i}`, versionInfo: `1.0.${i}`, downloadLocation: 'NOASSERTION' }));
    writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'big', packages }));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('verify-attestation checks one that attest wrote, in a registry and in a layout', () => {
    const ref = `${registry.host}/big/app:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'spdxjson', '--predicate', sbom], { env }));
    const att = JSON.parse(skopeoRawManifest(`${registry.host}/big/app:${image.manifest.digest.replace(':', '-')}.att`).bytes.toString()) as { layers: { size: number }[] };
    assert.ok(att.layers[0]!.size > 4 * 1024 * 1024, `${att.layers[0]!.size}`);
    // Before: 'no attestations found', a payload above 4 MiB passed over without a word.
    const r = runCli(['verify-attestation', ref, '--key', pub, '--type', 'spdxjson']);
    assertOk(r);
    assert.match(r.stderr, /: 1 attestation \(https:\/\/spdx\.dev\/Document\)\n$/);

    const layout = join(tmp.path, 'layout-copy');
    assertOk(runCli(['copy', `oci:${image.layout}:one`, `oci:${layout}:app`, '--quiet']));
    assertOk(runCli(['attest', `oci:${layout}:app`, '--key', key, '--type', 'spdxjson', '--predicate', sbom], { env }));
    assertOk(runCli(['verify-attestation', `oci:${layout}:app`, '--key', pub, '--type', 'spdxjson']));
  });
  it('one above cosign\'s 128 MiB limit is not read, and is named in the line rather than passed over', async () => {
    const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 200 * 1024 * 1024 } as const;
    const read = await readLayer(layer, async () => { throw new Error('read'); });
    assert.equal(read.oversized, true);
    const outcome = checkSignatures([read], `sha256:${'2'.repeat(64)}`, new KeyVerifier(parsePublicKey(readFileSync(pub, 'utf8'), 'k.pub')), 'x');
    assert.deepEqual([outcome.total, outcome.rejected], [1, ['a payload of 209715200 bytes, above the 128 MiB read']]);
  });
});
