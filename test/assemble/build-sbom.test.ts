import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

/**
 * build --sbom: the SBOM of the files the build layered, stored in the layout as the image's
 * OCI 1.1 referrer, and carried by push into the registry's referrers (the tag schema on
 * docker-registry 2.8), where skopeo reads it back.
 */
describe('build --sbom', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let rootfs: string;
  let layout: string;
  let built: { digest: string; sbom: { digest: string; mediaType: string; format: string; packages: number; files: number } };

  before(async () => {
    tmp = await tempDir('ocipush-build-sbom-');
    registry = await startRegistry();
    rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'var/lib/dpkg'), { recursive: true });
    mkdirSync(join(rootfs, 'app'), { recursive: true });
    writeFileSync(join(rootfs, 'var/lib/dpkg/status'), 'Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\nDescription: greets\n\n');
    writeFileSync(join(rootfs, 'app/main.js'), 'console.log("hi")\n');
    layout = join(tmp.path, 'layout');
    const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'app:1', '--sbom', '--json'], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(r.status, 0, r.stderr);
    built = JSON.parse(r.stdout);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('stores an SPDX document of the layered files as the image\'s referrer in the layout', () => {
    assert.equal(built.sbom.format, 'spdx');
    assert.equal(built.sbom.packages, 1);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const entry = index.manifests.find((d: { digest: string }) => d.digest === built.sbom.digest);
    assert.equal(entry.artifactType, 'application/spdx+json');
    const blob = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    const manifest = JSON.parse(blob(built.sbom.digest).toString());
    assert.equal(manifest.subject.digest, built.digest);
    // RFC 3339 in whole seconds, as the image's own created and as oras attach writes it.
    assert.equal(manifest.annotations['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
    const doc = JSON.parse(blob(manifest.layers[0].digest).toString());
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    const file = doc.files.find((f: { fileName: string }) => /app\/main\.js$/.test(f.fileName));
    const sha256 = file.checksums.find((c: { algorithm: string }) => c.algorithm === 'SHA256').checksumValue;
    assert.equal(sha256, createHash('sha256').update(readFileSync(join(rootfs, 'app/main.js'))).digest('hex'));
    assert.ok(doc.packages.some((p: { name: string; versionInfo: string }) => p.name === 'hello' && p.versionInfo === '2.10-3'));
  });

  it('is not an image: the layout still has one image to push without --tag, and push carries the SBOM', () => {
    const push = runCli(['push', `${registry.host}/sbom/app:1`, '--layout', layout, '--json']);
    assert.equal(push.status, 0, push.stderr);
    const result = JSON.parse(push.stdout);
    assert.equal(result.digest, built.digest);
    assert.deepEqual(result.referrers.map((r: { digest: string }) => r.digest), [built.sbom.digest]);
    // docker-registry 2.8 has no referrers API: the tag schema's index names the SBOM.
    const hex = built.digest.slice('sha256:'.length);
    const referrers = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/sbom/app:sha256-${hex}`]));
    assert.deepEqual(referrers.manifests.map((d: { digest: string; artifactType: string }) => [d.digest, d.artifactType]), [[built.sbom.digest, 'application/spdx+json']]);
    const listed = runCli(['referrers', `${registry.host}/sbom/app:1`, '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(listed.stdout.includes(built.sbom.digest));
  });

  it('a rebuild of the tag replaces the SBOM entry of the image it replaced', () => {
    writeFileSync(join(rootfs, 'app/extra.txt'), 'more\n');
    const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'app:1', '--sbom', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const again = JSON.parse(r.stdout);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const referrers = index.manifests.filter((d: { artifactType?: string }) => d.artifactType !== undefined).map((d: { digest: string }) => d.digest);
    assert.deepEqual(referrers, [again.sbom.digest]);
  });
});

test('build -f --sbom stores the SBOM of the COPY layers as the image\'s referrer', async () => {
  const tmp = await tempDir('ocipush-build-f-sbom-');
  try {
    mkdirSync(join(tmp.path, 'ctx', 'app', 'node_modules', 'demo-app'), { recursive: true });
    writeFileSync(join(tmp.path, 'ctx', 'app', 'node_modules', 'demo-app', 'package.json'), JSON.stringify({ name: 'demo-app', version: '1.2.3' }));
    writeFileSync(join(tmp.path, 'ctx', 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
    const layout = join(tmp.path, 'layout');
    const r = runCli(['build', '-f', join(tmp.path, 'ctx', 'Dockerfile'), join(tmp.path, 'ctx'), '--layout', layout, '--tag', 'df', '--sbom', '--sbom-format', 'cyclonedx', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const built = JSON.parse(r.stdout);
    assert.equal(built.sbom.format, 'cyclonedx');
    const blob = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    const manifest = JSON.parse(blob(built.sbom.digest).toString());
    assert.equal(manifest.subject.digest, built.digest);
    const doc = JSON.parse(blob(manifest.layers[0].digest).toString());
    assert.equal(doc.specVersion, '1.6');
    assert.ok(doc.components.some((c: { name: string; version: string }) => c.name === 'demo-app' && c.version === '1.2.3'));
  } finally {
    await tmp.cleanup();
  }
});

describe('build --provenance', () => {
  it('signs a SLSA provenance naming the base by digest; push carries it, and verify-attestation accepts it with the key and refuses another', async () => {
    const tmp = await tempDir('ocipush-build-provenance-');
    const registry = await startRegistry();
    try {
      const env = { ...process.env, COSIGN_PASSWORD: 'pw' };
      for (const prefix of ['one', 'other']) {
        const r = runCli(['generate-key-pair', '--output-prefix', join(tmp.path, prefix)], { env });
        assert.equal(r.status, 0, r.stderr);
      }
      const rootfs = join(tmp.path, 'rootfs');
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'base.txt'), 'base\n');
      const layout = join(tmp.path, 'layout');
      assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'base']).status, 0);
      assert.equal(runCli(['push', `${registry.host}/prov/base:1`, '--layout', layout, '--tag', 'base']).status, 0);
      const baseDigest = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/prov/base:1`])).Digest;
      writeFileSync(join(rootfs, 'app.txt'), 'app\n');
      const built = runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '--base', `${registry.host}/prov/base:1`,
        '--provenance', '--key', join(tmp.path, 'one.key'), '--json'], { env });
      assert.equal(built.status, 0, built.stderr);
      const result = JSON.parse(built.stdout);
      assert.equal(result.provenance.predicateType, 'https://slsa.dev/provenance/v1');
      const push = runCli(['push', `${registry.host}/prov/app:1`, '--layout', layout, '--tag', 'app']);
      assert.equal(push.status, 0, push.stderr);
      const verified = runCli(['verify-attestation', `${registry.host}/prov/app:1`, '--key', join(tmp.path, 'one.pub'), '--type', 'slsaprovenance1', '--json']);
      assert.equal(verified.status, 0, verified.stderr);
      assert.ok(verified.stdout.includes(baseDigest.slice('sha256:'.length)), 'the provenance names the base by digest');
      const refused = runCli(['verify-attestation', `${registry.host}/prov/app:1`, '--key', join(tmp.path, 'other.pub')]);
      assert.notEqual(refused.status, 0);
      assert.ok(!built.stderr.includes('pw') && !built.stdout.includes('PRIVATE'), 'no secret in the output');
    } finally {
      await registry.stop();
      await tmp.cleanup();
    }
  });
});
