import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/oci/digest.js';
import { OciLayout } from '../../src/content/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { registryFixture } from '../support/registry.js';
import { run } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { skopeoLayoutCopy } from './skopeo-support.js';
import { validate } from './json-schema.js';

const fixture = registryFixture();

/** A layout holding one manifest whose config says image config but holds `{}`, as oras and older artifact tools write it. */
function emptyConfigArtifact(dir: string): { manifest: string; config: Buffer; layer: string } {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer) => { const d = sha256(bytes); writeFileSync(join(blobs, d.slice(7)), bytes); return { digest: d, size: bytes.length }; };
  const config = Buffer.from('{}');
  const layer = put(Buffer.from('a file, not a tar\n'));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
    layers: [{ mediaType: 'application/vnd.example.data.v1', ...layer, annotations: { 'org.opencontainers.image.title': 'data.txt' } }],
  }));
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'art' } }] }));
  return { manifest: m.digest, config, layer: layer.digest };
}

describe('inspect of an artifact whose "image config" is {}', () => {
  it('shows its manifest and layers, and --config prints the bytes as stored, as skopeo inspect --config --raw does', async () => {
    const art = emptyConfigArtifact(join(fixture.tmp.path, 'art'));
    const ref = `${fixture.registry.host}/team/art:1`;
    await skopeoLayoutCopy(`oci:${join(fixture.tmp.path, 'art')}:art`, `docker://${ref}`);

    const shown = await runCliAsync(['inspect', ref]);
    assertOk(shown);
    assert.match(shown.stdout, new RegExp(`^Digest: +${art.manifest}$`, 'm'));
    assert.match(shown.stdout, new RegExp(`^  ${art.layer} .*application/vnd\\.example\\.data\\.v1$`, 'm'));
    const json = await runCliAsync(['inspect', ref, '--json']);
    assertOk(json);
    const report = JSON.parse(json.stdout) as { digest: string; config?: unknown };
    assert.equal(report.digest, art.manifest);
    assert.equal(report.config, undefined);

    const config = await runCliAsync(['inspect', ref, '--config']);
    assertOk(config);
    const skopeo = run('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${ref}`]);
    assert.equal(config.stdout, skopeo);
    assert.equal(config.stdout, art.config.toString());
  });
});

// inspect --json printed the model's reading of the documents, not the documents: a manifest
// without a mediaType (the OCI spec makes it optional) got the descriptor's, and a Go tool's
// `"diff_ids": null` (crane's empty image) became `[]`, so a script comparing with skopeo or
// crane saw fields the image does not have.
describe('inspect --json of a manifest without mediaType and a config whose diff_ids is null', () => {
  it('carries both as stored, as skopeo inspect --raw and --config --raw print them', async () => {
    const dir = join(fixture.tmp.path, 'bare');
    const blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer) => { const d = sha256(bytes); writeFileSync(join(blobs, d.slice(7)), bytes); return { digest: d, size: bytes.length }; };
    const config = put(Buffer.from('{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":null}}'));
    const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaType.OciConfig, ...config }, layers: [] })));
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bare' } }] }));
    const ref = `${fixture.registry.host}/team/bare:1`;
    await skopeoLayoutCopy(`oci:${dir}:bare`, `docker://${ref}`);

    for (const target of [ref, `oci:${dir}:bare`]) {
      const r = await runCliAsync(['inspect', target, '--json']);
      assertOk(r);
      const report = JSON.parse(r.stdout) as { digest: string; manifest: Record<string, unknown>; config: { rootfs: Record<string, unknown> } };
      assert.deepEqual(validate('inspect.schema.json', report), []);
      assert.equal(report.digest, manifest.digest);
      const named = target === ref ? `docker://${ref}` : target;
      assert.deepEqual(report.manifest, JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', named])), target);
      assert.deepEqual(report.config, JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', named])), target);
      assert.equal('mediaType' in report.manifest, false);
      assert.equal(report.config.rootfs.diff_ids, null);
    }
  });
});

describe('inspect of an index', () => {
  it('tells Windows images of two os.versions apart and shows the index annotations, as skopeo inspect --raw has them', async () => {
    const layout = join(fixture.tmp.path, 'windows');
    const store = await OciLayout.open(layout, { create: true });
    const images: string[] = [];
    for (const version of ['10.0.17763.1', '10.0.20348.1']) {
      const layer = await store.putBytes(MediaType.OciLayer, Buffer.alloc(1024));
      const config = await store.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'windows', 'os.version': version, rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } });
      const manifest = await store.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] });
      await store.tag(manifest, `windows-${version}`);
      images.push(`windows-${version}`);
    }
    await store.close();
    assertOk(await runCliAsync(['index', 'create', ...images, '--tag', 'windows', '--layout', layout, '--annotation', 'org.opencontainers.image.version=1.0']));
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:windows`])) as { manifests: { digest: string; platform: Record<string, string> }[]; annotations: Record<string, string> };
    const shown = await runCliAsync(['inspect', `oci:${layout}:windows`]);
    assertOk(shown);
    for (const m of raw.manifests) assert.match(shown.stdout, new RegExp(`^  ${m.digest}  windows/amd64 \\(os\\.version ${m.platform['os.version']!.replaceAll('.', '\\.')}\\) `, 'm'));
    assert.match(shown.stdout, new RegExp(`^Annotation: org\\.opencontainers\\.image\\.version=${raw.annotations['org.opencontainers.image.version']}$`, 'm'));
    const one = await runCliAsync(['inspect', `oci:${layout}:${images[1]}`]);
    assertOk(one);
    assert.match(one.stdout, /^Platform: +windows\/amd64 \(os\.version 10\.0\.20348\.1\)$/m);
  });

  it('whose image for the platform asked is gone (deleted by hand): inspect, config, manifest and sbom --platform name the platform the index lists it for', async () => {
    const layout = join(fixture.tmp.path, 'lost-child');
    const rootfs = join(fixture.tmp.path, 'lost-child-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'a'), 'x\n');
    for (const arch of ['amd64', 'arm64']) assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', arch, '--platform', `linux/${arch}`]));
    assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--tag', 'both', '--layout', layout]));
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:both`])) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const arm = raw.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    rmSync(join(layout, 'blobs', 'sha256', arm.slice(7)));
    for (const verb of ['inspect', 'config', 'manifest', 'sbom']) {
      const r = await runCliAsync([verb, `oci:${layout}:both`, '--platform', 'linux/arm64']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: .*blob ${arm} is missing.*: oci:.*lost-child:both names it for linux/arm64\n$`), verb);
    }
  });
});

// inspect printed one field a line, but a label or env value holding a newline (a multi-line
// org.opencontainers.image.description) went out as it was: its second line had no field name,
// so `grep ^Label:` cut the value and the next line read as something else.
describe('inspect of an image whose label, env value and annotation hold a newline', () => {
  it('prints each on its one line, the newline shown as \\n, as skopeo inspect\'s JSON has it; --json carries the value itself', async () => {
    const rootfs = join(fixture.tmp.path, 'described-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'hello'), 'hello\n');
    const layout = join(fixture.tmp.path, 'described');
    const description = 'first line\nsecond line';
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '-q',
      '--label', `org.opencontainers.image.description=${description}`, '--env', 'MOTD=hello\nworld', '--annotation', `note=${description}`]));
    const skopeo = JSON.parse(run('skopeo', ['inspect', `oci:${layout}:app`])) as { Labels: Record<string, string>; Env: string[] };
    assert.equal(skopeo.Labels['org.opencontainers.image.description'], description);
    assert.ok(skopeo.Env.includes('MOTD=hello\nworld'));

    const shown = await runCliAsync(['inspect', `oci:${layout}:app`]);
    assertOk(shown);
    const lines = shown.stdout.trimEnd().split('\n');
    for (const line of lines) assert.match(line, /^(?:[A-Z][A-Za-z ]+: |  sha256:)/, `every line names its field: ${JSON.stringify(line)}`);
    assert.ok(lines.includes('Label:      org.opencontainers.image.description=first line\\nsecond line'), shown.stdout);
    assert.ok(lines.includes('Env:        MOTD=hello\\nworld'), shown.stdout);
    assert.ok(lines.includes('Annotation: note=first line\\nsecond line'), shown.stdout);
    const json = JSON.parse((await runCliAsync(['inspect', `oci:${layout}:app`, '--json'])).stdout) as { config: { config: { Labels: Record<string, string> } } };
    assert.equal(json.config.config.Labels['org.opencontainers.image.description'], description);
  });
});

// The patterns that take credential-shaped text out of messages also rewrote what an image
// says: an Env `postgres://app:s3cret@db/app` showed as `app:<redacted>@db` under inspect (and
// inspect --json), while config printed it, as skopeo inspect does. An image's data is no
// credential ocipush holds.
describe('inspect of an image whose Env and labels hold credential-shaped text', () => {
  it('shows them as the image has them, as config and skopeo inspect do', async () => {
    const rootfs = join(fixture.tmp.path, 'dsn-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'a'), 'x\n');
    const layout = join(fixture.tmp.path, 'dsn');
    const env = 'DATABASE_URL=postgres://app:s3cret@db:5432/app';
    const label = 'Authorization: Bearer abcdef0123456789';
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '-q', '--env', env, '--label', `probe=${label}`]));
    const ref = `${fixture.registry.host}/team/dsn:1`;
    await skopeoLayoutCopy(`oci:${layout}:app`, `docker://${ref}`);
    const skopeo = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])) as { Labels: Record<string, string>; Env: string[] };
    assert.ok(skopeo.Env.includes(env));
    assert.equal(skopeo.Labels.probe, label);

    const shown = await runCliAsync(['inspect', ref]);
    assertOk(shown);
    assert.ok(shown.stdout.split('\n').includes(`Env:        ${env}`), shown.stdout);
    assert.ok(shown.stdout.split('\n').includes(`Label:      probe=${label}`), shown.stdout);
    const json = await runCliAsync(['inspect', ref, '--json']);
    assertOk(json);
    const config = JSON.parse((await runCliAsync(['config', ref])).stdout) as unknown;
    assert.deepEqual((JSON.parse(json.stdout) as { config: unknown }).config, config);
    assert.deepEqual((config as { config: { Env: string[]; Labels: Record<string, string> } }).config, { Env: [env], Labels: { probe: label } });
  });
});

// A config the registry no longer has (its blob deleted) was said in the registry's own words,
// 'localhost:5000: fetch blob sha256:…: 404 BLOB_UNKNOWN', naming neither the repository nor the
// config; validate named both.
describe('inspect and config of an image whose config blob the registry lost', () => {
  it('one line naming the image and its config, then the registry\'s answer', async () => {
    const rootfs = join(fixture.tmp.path, 'lost-config-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'a'), 'x\n');
    const layout = join(fixture.tmp.path, 'lost-config');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--label', 'lost=config']));
    const ref = `${fixture.registry.host}/lost/config:1`;
    await skopeoLayoutCopy(`oci:${layout}:app`, `docker://${ref}`);
    const config = (JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])) as { config: { digest: string } }).config.digest;
    const deleted = await fetch(`${fixture.registry.url}/v2/lost/config/blobs/${config}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    assert.throws(() => run('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${ref}`]), /configuration data: Error fetching blob: invalid status code from registry 404/);
    for (const args of [['inspect', ref], ['inspect', '--config', ref], ['config', ref]]) {
      const r = await runCliAsync(args);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^ocipush: ${ref.replace(/\./g, '\\.')}: config ${config}: .*404 BLOB_UNKNOWN.*\n$`), args.join(' '));
    }
  });
});
