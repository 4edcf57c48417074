import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { skopeoRawManifest, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from '../cli/registry-support.js';

interface IndexEntry { digest: string; annotations?: Record<string, string> }

/**
 * `cosign save IMAGE --dir DIR` writes an OCI layout of the image, its signatures and its
 * attestations, unnamed, each entry marked by a `kind` annotation (cosign's pkg/oci/layout:
 * `dev.cosignproject.cosign/image`, `/sigs`, `/atts`); `cosign verify --local-image DIR` checks
 * it and `cosign load` puts it in a registry, the signatures under `sha256-<hex>.sig`. cosign is
 * not installed: the layout is written here as cosign writes it, its images copied out of the
 * registry by skopeo.
 */
describe('a layout cosign save wrote', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let saved: string;
  const env = { COSIGN_PASSWORD: 'save-pw' };
  let key: string;
  let pub: string;
  let otherPub: string;
  const tag = (suffix: string) => `${image.manifest.digest.replace(':', '-')}.${suffix}`;

  before(async () => {
    requireTool('skopeo');
    requireTool('openssl');
    tmp = await tempDir('ocipush-cosign-save-');
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [4_000]);
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'k')], { env }));
    [key, pub] = [join(tmp.path, 'k.key'), join(tmp.path, 'k.pub')];
    otherPub = join(tmp.path, 'o.pub');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tmp.path, 'o.pem')]);
    run('openssl', ['pkey', '-in', join(tmp.path, 'o.pem'), '-pubout', '-out', otherPub]);
    const ref = `${registry.host}/saved/app:1`;
    assertOk(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOk(runCli(['sign', ref, '--key', key], { env }));
    const predicate = join(tmp.path, 'provenance.json');
    writeFileSync(predicate, '{"buildDefinition":{"buildType":"https://example.com/build"}}');
    assertOk(runCli(['attest', ref, '--key', key, '--type', 'slsaprovenance1', '--predicate', predicate], { env }));

    // cosign's WriteSignedImage: the image, then its signatures, then its attestations, each marked by kind.
    saved = join(tmp.path, 'saved');
    const copyIn = (from: string, name: string) => run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/saved/app${from}`, `oci:${saved}:${name}`]);
    copyIn(`@${image.manifest.digest}`, 'image');
    copyIn(`:${tag('sig')}`, 'sigs');
    copyIn(`:${tag('att')}`, 'atts');
    const indexFile = join(saved, 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests: IndexEntry[] };
    for (const entry of index.manifests) {
      const name = entry.annotations!['org.opencontainers.image.ref.name']!;
      entry.annotations = { kind: `dev.cosignproject.cosign/${name}` };
    }
    writeFileSync(indexFile, JSON.stringify(index));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('verify and verify-attestation check it offline, as cosign verify --local-image', () => {
    // Before: 'the layout holds 3 images, name one as oci:DIR:NAME', its signatures not found by the image's digest either.
    const r = runCli(['verify', `oci:${saved}`, '--key', pub]);
    assertOk(r);
    assert.equal(r.stdout, `${image.manifest.digest}\n`);
    assert.match(r.stderr, /: 1 valid signature by /);
    assertOk(runCli(['verify', `oci:${saved}@${image.manifest.digest}`, '--key', pub]));
    assertOneLineError(runCli(['verify', `oci:${saved}`, '--key', otherPub]), /none of 1 signature verifies: not signed by this key$/);
    assertOk(runCli(['verify-attestation', `oci:${saved}`, '--key', pub, '--type', 'slsaprovenance1']));
  });

  it('delete of a name its entries only imply (sha256-<hex>.sig) is refused in one line, the layout as it was, instead of saying it deleted what it left', () => {
    const before = readFileSync(join(saved, 'index.json'));
    assertOneLineError(runCli(['delete', `oci:${saved}:${tag('sig')}`]), /: a name cosign save's entries imply, not one index\.json lists; it leaves with the image they mark$/, 2);
    assert.deepEqual(readFileSync(join(saved, 'index.json')), before);
  });

  it('copy and push put it in a registry as cosign load does: the signatures and attestations under cosign\'s tags', () => {
    const sigs = skopeoRawManifest(`${registry.host}/saved/app:${tag('sig')}`).digest;
    const atts = skopeoRawManifest(`${registry.host}/saved/app:${tag('att')}`).digest;
    for (const [verb, repo] of [['copy', 'loaded/by-copy'], ['push', 'loaded/by-push']] as const) {
      const dest = `${registry.host}/${repo}:1`;
      assertOk(runCli([verb, `oci:${saved}`, dest, '--quiet']));
      assert.equal(skopeoRawManifest(`${registry.host}/${repo}:${tag('sig')}`).digest, sigs, verb);
      assert.equal(skopeoRawManifest(`${registry.host}/${repo}:${tag('att')}`).digest, atts, verb);
      assertOk(runCli(['verify', dest, '--key', pub]));
      assertOk(runCli(['verify-attestation', dest, '--key', pub, '--type', 'slsaprovenance1']));
    }
  });
});
