import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, runCli, tempDir } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startOci11Proxy, type Oci11Proxy } from '../support/oci11-proxy.js';
import { installTestDebs, validator } from '../support/sbom.js';
import { validate } from '../cli/json-schema.js';
import { runCliAsync } from '../cli/registry-support.js';

/**
 * build --sbom onto a base that has its own SBOM: the base's layers are not downloaded, and the
 * base's packages (real Debian packages, unpacked with dpkg-deb) and files come from the base's
 * SBOM, found as an OCI 1.1 referrer (tag schema on docker-registry 2.8, the referrers API
 * through a proxy), a cosign `.sbom` tag, a layout referrer, or the index's referrer.
 */

interface Spdx {
  documentNamespace: string;
  externalDocumentRefs?: { externalDocumentId: string; spdxDocument: string; checksum: { algorithm: string; checksumValue: string } }[];
  packages: { SPDXID: string; name: string; versionInfo?: string; externalRefs?: { referenceLocator: string }[]; comment?: string }[];
  files: { fileName: string; SPDXID: string; checksums: { algorithm: string; checksumValue: string }[] }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
}
interface Cdx {
  components: { type: string; name: string; version?: string; purl?: string; hashes?: { alg: string; content: string }[]; properties?: { name: string; value: string }[]; externalReferences?: { type: string; url: string }[] }[];
}

const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };

describe('build --sbom onto a base with its own SBOM', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let baseLayout: string;
  let baseRootfs: string;
  let app: string;
  const versions = new Map<string, string>();
  const schemas = validator();

  const blob = (layout: string, digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  /** The SBOM document a build stored, and the build's JSON result. */
  let builds = 0;
  // Async: the referrers-API proxy runs in this process and must answer while the CLI runs.
  const build = async (args: string[], into?: string) => {
    const layout = into ?? join(tmp.path, `out-${++builds}`);
    const r = await runCliAsync(['build', ...args, '--layout', layout, '--tag', 'app', '--sbom', '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.deepEqual(validate('build.schema.json', result), []);
    const manifest = JSON.parse(blob(layout, result.sbom.digest).toString());
    return { result, layout, stderr: r.stderr, bytes: blob(layout, manifest.layers[0].digest) };
  };
  const debPurls = () => [...versions].map(([name, version]) => `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`);

  before(async () => {
    tmp = await tempDir('ocipush-base-sbom-');
    registry = await startRegistry();
    baseRootfs = join(tmp.path, 'base');
    mkdirSync(join(baseRootfs, 'etc'), { recursive: true });
    for (const p of installTestDebs(baseRootfs)) versions.set(p.name, p.version);
    writeFileSync(join(baseRootfs, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    app = join(tmp.path, 'app');
    mkdirSync(join(app, 'app'), { recursive: true });
    writeFileSync(join(app, 'app/main.js'), 'console.log("hi")\n');
    // The base: built with its SPDX SBOM, pushed (the SBOM goes along as a referrer, by the tag schema here).
    baseLayout = join(tmp.path, 'base-layout');
    assert.equal(runCli(['build', baseRootfs, '--layout', baseLayout, '--tag', 'base', '--sbom', '--quiet'], { env }).status, 0);
    const push = runCli(['push', `${registry.host}/base/debian:12`, '--layout', baseLayout, '--tag', 'base', '--quiet']);
    assert.equal(push.status, 0, push.stderr);
    // The same base without an SBOM.
    assert.equal(runCli(['build', baseRootfs, '--layout', join(tmp.path, 'plain-layout'), '--tag', 'base', '--quiet'], { env }).status, 0);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('SPDX: lists the base\'s Debian packages with their versions from the base\'s SBOM (tag schema), without downloading a base layer', async () => {
    const baseRef = `${registry.host}/base/debian:12`;
    const baseManifest = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${baseRef}`]));
    await registry.forgetAccessLog();
    const { result, layout, bytes, stderr } = await build([app, '--base', baseRef]);
    const log = await registry.settledAccessLog();
    assert.match(stderr, /sbom sha256:\S+ \(spdx: 0 packages, 1 file; and 2 packages, \d+ files from the base's own SBOM sha256:[0-9a-f]{64}\)/);
    for (const layer of baseManifest.layers as { digest: string }[]) {
      assert.ok(!log.some((e) => e.method === 'GET' && e.path.endsWith(`/blobs/${layer.digest}`)), `base layer ${layer.digest} was downloaded`);
      assert.ok(!existsSync(join(layout, 'blobs', 'sha256', layer.digest.slice('sha256:'.length))));
    }
    assert.ok(log.some((e) => e.path.endsWith(`/manifests/sha256-${result.base.digest.slice('sha256:'.length)}`)), 'the referrers tag was read');
    assert.equal(result.sbom.base.packages, 2);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    schemas.spdx(doc);
    for (const [name, version] of versions) {
      const p = doc.packages.find((x) => x.name === name);
      assert.equal(p?.versionInfo, version, name);
      assert.ok(doc.relationships.some((r) => r.spdxElementId === 'SPDXRef-BaseImage' && r.relationshipType === 'CONTAINS' && r.relatedSpdxElement === p!.SPDXID));
    }
    const purls = doc.packages.flatMap((p) => p.externalRefs?.map((r) => r.referenceLocator) ?? []);
    for (const purl of debPurls()) assert.ok(purls.includes(purl), purl);
    // The base's files, with the checksums of the base's rootfs; the new layer's file beside them.
    const names = doc.files.map((f) => f.fileName);
    assert.ok(names.includes('/app/main.js'));
    const status = doc.files.find((f) => f.fileName === '/var/lib/dpkg/status')!;
    assert.equal(status.checksums.find((c) => c.algorithm === 'SHA256')!.checksumValue, createHash('sha256').update(readFileSync(join(baseRootfs, 'var/lib/dpkg/status'))).digest('hex'));
    assert.ok(doc.relationships.some((r) => r.spdxElementId === 'SPDXRef-BaseImage' && r.relatedSpdxElement === status.SPDXID));
    // The base's SBOM as an external document, by its namespace and the SHA1 of its bytes.
    const baseSbomEntry = JSON.parse(readFileSync(join(baseLayout, 'index.json'), 'utf8')).manifests.find((d: { artifactType?: string }) => d.artifactType === 'application/spdx+json');
    const baseSbomBytes = blob(baseLayout, JSON.parse(blob(baseLayout, baseSbomEntry.digest).toString()).layers[0].digest);
    assert.deepEqual(doc.externalDocumentRefs, [{
      externalDocumentId: 'DocumentRef-BaseImage', spdxDocument: JSON.parse(baseSbomBytes.toString()).documentNamespace,
      checksum: { algorithm: 'SHA1', checksumValue: createHash('sha1').update(baseSbomBytes).digest('hex') },
    }]);
    // Deterministic: the same build gives the same SBOM bytes.
    assert.deepEqual((await build([app, '--base', baseRef])).bytes, bytes);
  });

  it('CycloneDX output from the SPDX base SBOM: components with purl and version, marked with the base digest', async () => {
    const { result, bytes } = await build([app, '--base', `${registry.host}/base/debian:12`, '--sbom-format', 'cyclonedx']);
    const doc = JSON.parse(bytes.toString()) as Cdx;
    schemas.cyclonedx(doc);
    for (const purl of debPurls()) {
      const c = doc.components.find((x) => x.purl === purl);
      assert.ok(c, purl);
      assert.equal(c.version, versions.get(c.name));
      assert.deepEqual(c.properties?.find((p) => p.name === 'ocipush:base-image')?.value, result.base.digest);
    }
    const base = doc.components.find((c) => c.type === 'container')!;
    assert.equal(base.externalReferences?.[0]?.type, 'bom');
    assert.ok(doc.components.some((c) => c.type === 'file' && c.name === '/var/lib/dpkg/status' && c.hashes?.some((h) => h.alg === 'SHA-1')));
  });

  it('what the new layers remove (whiteouts) is gone from what the base SBOM adds', async () => {
    const { result, bytes } = await build([app, '--base', `${registry.host}/base/debian:12`, '--remove', '/var/lib/dpkg/status', '--remove', '/etc']);
    assert.equal(result.sbom.base.packages, 0, 'their declaring file is removed');
    const names = (JSON.parse(bytes.toString()) as Spdx).files.map((f) => f.fileName);
    assert.ok(!names.includes('/var/lib/dpkg/status') && !names.some((n) => n.startsWith('/etc/')), names.join(' '));
    assert.ok(names.includes('/app/main.js'));
    assert.ok(names.some((n) => n.startsWith('/usr/')), 'the other base files stay');
  });

  it('what the new layers replace by a symlink or a file (a base directory, a base file) is gone with its tree, as umoci unpacks the image', async () => {
    const over = join(tmp.path, 'over');
    mkdirSync(join(over, 'var/lib'), { recursive: true });
    symlinkSync('/srv/dpkg', join(over, 'var/lib/dpkg'));
    writeFileSync(join(over, 'etc'), 'a file where the base has a directory\n');
    const { result, layout, bytes } = await build([over, '--base', `${registry.host}/base/debian:12`]);
    assert.equal(result.sbom.base.packages, 0, 'their declaring file is gone with its directory');
    const names = (JSON.parse(bytes.toString()) as Spdx).files.map((f) => f.fileName).sort();
    // The filesystem the image is: its layers (the base's from the registry) applied by umoci.
    assert.equal(runCli(['push', `${registry.host}/over/app:1`, '--layout', layout, '--tag', 'app', '--quiet']).status, 0);
    const copy = join(tmp.path, 'over-copy');
    run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/over/app:1`, `oci:${copy}:app`]);
    run('umoci', ['unpack', '--rootless', '--image', `${copy}:app`, join(tmp.path, 'over-bundle')]);
    const unpacked = run('sh', ['-c', 'cd rootfs && find . -type f | sort'], { cwd: join(tmp.path, 'over-bundle') }).trim().split('\n').map((l) => l.replace(/^\.\//, '/'));
    assert.ok(unpacked.includes('/etc') && !unpacked.some((n) => n.startsWith('/var/lib/dpkg/')));
    assert.deepEqual(names, unpacked);
  });

  it('build -f: FROM a base with an SBOM lists the base\'s packages', async () => {
    const ctx = join(tmp.path, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'main.js'), 'console.log(1)\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${registry.host}/base/debian:12\nCOPY main.js /app/\n`);
    const { bytes } = await build(['-f', join(ctx, 'Dockerfile'), ctx]);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    schemas.spdx(doc);
    for (const [name, version] of versions) assert.equal(doc.packages.find((p) => p.name === name)?.versionInfo, version);
  });

  it('a base in a layout whose layers live in a registry: its SBOM is the layout\'s referrer (itself made from its base\'s SBOM)', async () => {
    // mid: built onto the registry base (lazily), its SBOM carries the Debian packages from the base's SBOM.
    const mid = join(tmp.path, 'mid-layout');
    const extra = join(tmp.path, 'extra');
    mkdirSync(extra, { recursive: true });
    writeFileSync(join(extra, 'extra.txt'), 'extra\n');
    await build([extra, '--base', `${registry.host}/base/debian:12`], mid);
    // app onto mid, in another layout: mid's own layer is copied, the Debian layer stays in the registry.
    const { result, bytes } = await build([app, '--base', `oci:${mid}:app`, '--sbom-format', 'cyclonedx']);
    assert.equal(result.sbom.base.packages, 2);
    const doc = JSON.parse(bytes.toString()) as Cdx;
    schemas.cyclonedx(doc);
    for (const purl of debPurls()) assert.ok(doc.components.some((c) => c.purl === purl), `${purl} in ${JSON.stringify(doc.components.filter((c) => c.type !== 'file'))}`);
  });

  it('a CycloneDX base SBOM found through the OCI 1.1 referrers API feeds an SPDX SBOM', async () => {
    let proxy: Oci11Proxy | undefined;
    try {
      proxy = await startOci11Proxy({ target: registry.url, referrersApi: true });
      const cdxLayout = join(tmp.path, 'cdx-layout');
      assert.equal(runCli(['build', baseRootfs, '--layout', cdxLayout, '--tag', 'base', '--sbom', '--sbom-format', 'cyclonedx', '--quiet'], { env }).status, 0);
      const push = await runCliAsync(['push', `${proxy.host}/base/cdx:1`, '--layout', cdxLayout, '--tag', 'base', '--json']);
      assert.equal(push.status, 0, push.stderr);
      const { result, bytes } = await build([app, '--base', `${proxy.host}/base/cdx:1`]);
      assert.ok(proxy.log().some((l) => l.startsWith(`GET /v2/base/cdx/referrers/${result.base.digest} 200`)), proxy.log().join('\n'));
      // The API answered: the tag schema's index was never written (so it cannot be where the SBOM came from).
      assert.ok(!proxy.log().some((l) => l.includes(`/manifests/sha256-${result.base.digest.slice('sha256:'.length)} 20`)));
      const doc = JSON.parse(bytes.toString()) as Spdx;
      schemas.spdx(doc);
      for (const [name, version] of versions) assert.equal(doc.packages.find((p) => p.name === name)?.versionInfo, version);
      assert.equal(doc.externalDocumentRefs, undefined, 'a CycloneDX base is no SPDX external document');
      const status = doc.files.find((f) => f.fileName === '/var/lib/dpkg/status')!;
      assert.deepEqual(status.checksums.map((c) => c.algorithm), ['SHA1', 'SHA256']);
    } finally {
      await proxy?.stop();
    }
  });

  it('cosign\'s .sbom tag (cosign attach sbom): the SBOM there is reused', async () => {
    const plain = join(tmp.path, 'plain-layout');
    const ref = `${registry.host}/base/cosigned:1`;
    assert.equal(runCli(['push', ref, '--layout', plain, '--tag', 'base', '--quiet']).status, 0);
    const sbom = runCli(['sbom', ref]);
    assert.equal(sbom.status, 0, sbom.stderr);
    // As cosign attach sbom --type spdx writes it: an image at sha256-<hex>.sbom whose layer is the document (media type spdx+json).
    const { Repository } = await import('../../src/registry/repository.js');
    const { connectRegistry } = await import('../../src/registry/connect.js');
    const { appendAttached } = await import('../../src/supply-chain/cosign-tags.js');
    const client = await connectRegistry(registry.host, { plainHttp: true });
    try {
      const repo = new Repository(client, 'base/cosigned');
      const digest = (await repo.resolve('1')).digest;
      await appendAttached(repo, digest, 'sbom', { mediaType: 'spdx+json', payload: Buffer.from(sbom.stdout), annotations: {} });
    } finally {
      await client.close();
    }
    const { result, bytes } = await build([app, '--base', ref]);
    assert.equal(result.sbom.base.packages, 2);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    schemas.spdx(doc);
    assert.ok(doc.packages.find((p) => p.SPDXID === 'SPDXRef-BaseImage')!.comment!.includes('cosign .sbom tag'));
  });

  it('of two SBOM referrers, the newest by the instant its created time names (12:00+02:00 is before 11:00Z), whatever offset it was written with', async () => {
    const plain = join(tmp.path, 'plain-layout');
    const ref = `${registry.host}/base/zoned:1`;
    assert.equal(runCli(['push', ref, '--layout', plain, '--tag', 'base', '--quiet']).status, 0);
    const sbom = runCli(['sbom', ref]);
    assert.equal(sbom.status, 0, sbom.stderr);
    // The older document says another version of each package: the one reused shows which was taken.
    const older = JSON.parse(sbom.stdout) as Spdx;
    for (const p of older.packages) if (versions.has(p.name)) p.versionInfo = '0.0-older';
    const files = [['current.spdx.json', sbom.stdout, '2030-01-01T11:00:00Z'], ['older.spdx.json', JSON.stringify(older), '2030-01-01T12:00:00+02:00']] as const;
    for (const [name, text, created] of files) {
      writeFileSync(join(tmp.path, name), text);
      const r = await runCliAsync(['attach', ref, '--artifact-type', 'application/spdx+json', join(tmp.path, name), '-a', `org.opencontainers.image.created=${created}`]);
      assert.equal(r.status, 0, r.stderr);
    }
    const { bytes } = await build([app, '--base', ref]);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    for (const [name, version] of versions) assert.equal(doc.packages.find((p) => p.name === name)?.versionInfo, version, name);
  });

  it('an SBOM attestation (DSSE, as ocipush attest and cosign attest --type spdxjson store it): the referrer, else the .att tag', async () => {
    let proxy: Oci11Proxy | undefined;
    try {
      proxy = await startOci11Proxy({ target: registry.url, referrersApi: true });
      const keyEnv = { ...process.env, COSIGN_PASSWORD: '' };
      assert.equal(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'att')], { env: keyEnv }).status, 0);
      const viaProxy = `${proxy.host}/base/attested:1`;
      assert.equal((await runCliAsync(['push', viaProxy, '--layout', join(tmp.path, 'plain-layout'), '--tag', 'base', '--quiet'])).status, 0);
      const predicate = join(tmp.path, 'attested.spdx.json');
      assert.equal((await runCliAsync(['sbom', viaProxy, '-o', predicate])).status, 0);
      const attested = await runCliAsync(['attest', viaProxy, '--key', join(tmp.path, 'att.key'), '--type', 'spdxjson', '--predicate', predicate], { env: keyEnv });
      assert.equal(attested.status, 0, attested.stderr);
      // Through the proxy the referrers API lists the attestation; docker-registry alone has only cosign's .att tag (the API kept the tag schema unwritten).
      for (const [ref, how] of [[viaProxy, 'attestation referrer'], [`${registry.host}/base/attested:1`, 'cosign .att attestation']] as const) {
        const { result, bytes, stderr } = await build([app, '--base', ref]);
        assert.equal(result.sbom.base.packages, 2, stderr);
        const doc = JSON.parse(bytes.toString()) as Spdx;
        schemas.spdx(doc);
        for (const [name, version] of versions) assert.equal(doc.packages.find((p) => p.name === name)?.versionInfo, version);
        assert.match(doc.packages.find((p) => p.SPDXID === 'SPDXRef-BaseImage')!.comment!, new RegExp(`\\(${how} `));
      }
    } finally {
      await proxy?.stop();
    }
  });

  it('a base named by an index: its platform manifest has no SBOM, so the index\'s is used', async () => {
    const plain = join(tmp.path, 'plain-layout');
    const ref = `${registry.host}/base/multi:1`;
    assert.equal(runCli(['index', 'create', 'base', '--layout', plain, '--tag', 'idx']).status, 0);
    assert.equal(runCli(['push', ref, '--layout', plain, '--tag', 'idx', '--quiet']).status, 0);
    const sbomFile = join(tmp.path, 'multi.cdx.json');
    assert.equal(runCli(['sbom', ref, '--platform', 'linux/amd64', '--sbom-format', 'cyclonedx', '-o', sbomFile]).status, 0);
    // As an SBOM of a whole index may: packages of another platform too, and one for every architecture.
    const whole = JSON.parse(readFileSync(sbomFile, 'utf8'));
    whole.components.push(
      { type: 'library', name: 'attr', version: '9.9-arm', purl: 'pkg:deb/debian/attr@9.9-arm?arch=arm64' },
      { type: 'library', name: 'tzdata', version: '2024a-0', purl: 'pkg:deb/debian/tzdata@2024a-0?arch=all' },
    );
    writeFileSync(sbomFile, JSON.stringify(whole));
    // As `oras attach --artifact-type … FILE` does: the file's layer has the generic layer media type.
    const attached = runCli(['attach', ref, '--artifact-type', 'application/vnd.cyclonedx+json', sbomFile]);
    assert.equal(attached.status, 0, attached.stderr);
    const { result, bytes } = await build([app, '--base', ref]);
    const indexDigest = `sha256:${createHash('sha256').update(run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`])).digest('hex')}`;
    assert.notEqual(result.base.digest, indexDigest, 'the base is the platform manifest');
    const doc = JSON.parse(bytes.toString()) as Spdx;
    schemas.spdx(doc);
    for (const [name, version] of versions) assert.deepEqual(doc.packages.filter((p) => p.name === name).map((p) => p.versionInfo), [version], 'another architecture\'s package left out');
    assert.equal(doc.packages.find((p) => p.name === 'tzdata')?.versionInfo, '2024a-0');
    assert.match(doc.packages.find((p) => p.SPDXID === 'SPDXRef-BaseImage')!.comment!, new RegExp(`CycloneDX SBOM .* of ${indexDigest}\\)$`));
  });

  it('BuildKit\'s SBOM attestation in the base\'s index (an in-toto statement whose predicate is SPDX) is used', async () => {
    const ref = `${registry.host}/base/buildkit:1`;
    assert.equal(runCli(['push', `${registry.host}/base/buildkit:plain`, '--layout', join(tmp.path, 'plain-layout'), '--tag', 'base', '--quiet']).status, 0);
    const spdx = runCli(['sbom', `${registry.host}/base/buildkit:plain`]);
    assert.equal(spdx.status, 0, spdx.stderr);
    const { Repository } = await import('../../src/registry/repository.js');
    const { connectRegistry } = await import('../../src/registry/connect.js');
    const { bufferSource } = await import('../../src/content/blob-source.js');
    const { EMPTY_DESCRIPTOR, EMPTY_JSON } = await import('../../src/oci/descriptor.js');
    const client = await connectRegistry(registry.host, { plainHttp: true });
    let attestation: string;
    try {
      const repo = new Repository(client, 'base/buildkit');
      const image = await repo.resolve('plain');
      const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;
      // As BuildKit writes it: the statement as a layer, an attestation manifest, both manifests in the index.
      const statement = Buffer.from(JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document',
        subject: [{ name: `pkg:docker/base/buildkit@1?platform=linux%2Famd64`, digest: { sha256: image.digest.slice(7) } }],
        predicate: JSON.parse(spdx.stdout),
      }));
      const layer = { mediaType: 'application/vnd.in-toto+json', digest: digest(statement), size: statement.length, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } };
      await repo.pushBlob(layer, bufferSource(statement));
      await repo.pushBlob({ ...EMPTY_DESCRIPTOR }, bufferSource(EMPTY_JSON));
      const att = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: EMPTY_DESCRIPTOR, layers: [layer] }));
      const attDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(att), size: att.length };
      await repo.pushManifest(attDesc, att);
      attestation = attDesc.digest;
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
        { mediaType: image.mediaType, digest: image.digest, size: image.size, platform: { architecture: 'amd64', os: 'linux' } },
        { ...attDesc, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' } },
      ] }));
      await repo.pushManifest({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: digest(index), size: index.length }, index, '1');
    } finally {
      await client.close();
    }
    const { result, bytes } = await build([app, '--base', ref, '--sbom-format', 'cyclonedx']);
    assert.equal(result.sbom.base.packages, 2);
    const doc = JSON.parse(bytes.toString()) as Cdx;
    schemas.cyclonedx(doc);
    for (const purl of debPurls()) assert.ok(doc.components.some((c) => c.purl === purl), purl);
    assert.equal(doc.components.find((c) => c.type === 'container')!.properties!.find((p) => p.name === 'ocipush:base-sbom-manifest')!.value, attestation);
  });

  it('a malformed base SBOM is one warning line and is not reused; the build succeeds', async () => {
    const plain = join(tmp.path, 'plain-layout');
    const ref = `${registry.host}/base/broken:1`;
    assert.equal(runCli(['push', ref, '--layout', plain, '--tag', 'base', '--quiet']).status, 0);
    const bad = join(tmp.path, 'bad.spdx.json');
    writeFileSync(bad, JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: [{ SPDXID: 'SPDXRef-x', name: 5 }] }));
    const attached = runCli(['attach', ref, '--artifact-type', 'application/spdx+json', `${bad}:application/spdx+json`]);
    assert.equal(attached.status, 0, attached.stderr);
    const { result, stderr, bytes } = await build([app, '--base', ref]);
    const warnings = stderr.split('\n').filter((l) => l.includes('SBOM'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0]!, /is not reused: .*a package has no name/);
    assert.equal(result.sbom.base, undefined);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    assert.ok(!doc.packages.some((p) => versions.has(p.name)));
    assert.ok(doc.packages.some((p) => p.SPDXID === 'SPDXRef-BaseImage'), 'the base is still named by digest');
  });

  it('no base SBOM: the SBOM names the base by digest only, as before', async () => {
    const ref = `${registry.host}/base/none:1`;
    assert.equal(runCli(['push', ref, '--layout', join(tmp.path, 'plain-layout'), '--tag', 'base', '--quiet']).status, 0);
    // An attestation that is no SBOM (a provenance) is passed over without a word.
    const keyEnv = { ...process.env, COSIGN_PASSWORD: '' };
    assert.equal(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'none')], { env: keyEnv }).status, 0);
    writeFileSync(join(tmp.path, 'prov.json'), '{"buildDefinition":{}}');
    const attested = runCli(['attest', ref, '--key', join(tmp.path, 'none.key'), '--type', 'slsaprovenance1', '--predicate', join(tmp.path, 'prov.json')], { env: keyEnv });
    assert.equal(attested.status, 0, attested.stderr);
    const { result, stderr, bytes } = await build([app, '--base', ref]);
    assert.equal(result.sbom.base, undefined);
    assert.ok(!stderr.includes('SBOM'), stderr);
    const doc = JSON.parse(bytes.toString()) as Spdx;
    assert.deepEqual(doc.packages.map((p) => p.SPDXID).sort(), ['SPDXRef-BaseImage', 'SPDXRef-Image']);
  });
});
