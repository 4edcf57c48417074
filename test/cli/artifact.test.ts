import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, tempDir } from '../support/tools.js';
import { blobWrites, multiPlatformImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';
import { validate } from './json-schema.js';
import { startFaultProxy } from '../support/fault-proxy.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let image: string;
const env = envWith();
const files = { 'notes.txt': 'release notes\n', 'checks.json': '{"passed":true}\n' };

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** An artifact pushed with plain distribution API requests (POST + PUT per blob, PUT the manifest): no ocipush code makes it. */
async function pushArtifact(repo: string, tag: string, artifactType: string, layers: { bytes: Buffer; mediaType: string; title?: string; annotations?: Record<string, string> }[]): Promise<string> {
  const base = `http://${registry.host}`;
  const put = async (bytes: Buffer) => {
    const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const url = new URL(started.headers.get('location')!, base);
    url.searchParams.set('digest', digestOf(bytes));
    const done = await fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(done.status, 201);
  };
  const config = Buffer.from('{}');
  await put(config);
  for (const layer of layers) await put(layer.bytes);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: digestOf(l.bytes), size: l.bytes.length, ...(l.title !== undefined ? { annotations: { 'org.opencontainers.image.title': l.title, ...l.annotations } } : {}) })),
  }));
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201);
  return digestOf(manifest);
}

/** An image in the registry, with two files attached to it by ocipush attach. */
before(async () => {
  tmp = await tempDir();
  registry = await startRegistry();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'app\n');
  const layout = join(tmp.path, 'layout');
  assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app'], { env }));
  image = `${registry.host}/art/app:1`;
  assertOk(await runCliAsync(['push', image, '--layout', layout, '--tag', 'app'], { env }));
  const paths = Object.entries(files).map(([name, text]) => {
    const path = join(tmp.path, name);
    writeFileSync(path, text);
    return path;
  });
  assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.release', ...paths], { env }));
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

describe('artifact get', () => {
  it('writes the files attach attached to an image, found by artifact type, byte for byte under their titles', async () => {
    const dir = join(tmp.path, 'got');
    const r = await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.release', '-o', dir, '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { artifactType: string; files: { name: string }[] };
    assert.deepEqual(validate('artifact.schema.json', report), [], r.stdout);
    assert.equal(report.artifactType, 'application/vnd.example.release');
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) assert.equal(readFileSync(join(dir, name), 'utf8'), text);
  });

  it('inspect of an attached artifact says its type and its subject, as skopeo reads the manifest', async () => {
    const found = await runCliAsync(['referrers', image, '--json'], { env });
    assertOk(found);
    const digest = (JSON.parse(found.stdout) as { manifests: { digest: string }[] }).manifests[0]!.digest;
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/app@${digest}`])) as { artifactType: string; subject: { digest: string } };
    const r = await runCliAsync(['inspect', `${registry.host}/art/app@${digest}`], { env });
    assertOk(r);
    assert.match(r.stdout, new RegExp(`^Artifact: +${raw.artifactType.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Subject: +${raw.subject.digest}$`, 'm'));
    assert.equal(raw.artifactType, 'application/vnd.example.release');
  });

  it('writes the one file of an artifact pushed by plain API requests to stdout, by tag or by digest', async () => {
    const report = Buffer.from('{"tests":42}\n');
    const digest = await pushArtifact('art/app', 'report', 'application/vnd.example.report', [{ bytes: report, mediaType: 'application/json', title: 'report.json' }]);
    for (const ref of [`${registry.host}/art/app:report`, `${registry.host}/art/app@${digest}`]) {
      const r = await runCliAsync(['artifact', 'get', ref], { env });
      assertOk(r);
      assert.equal(r.stdout, report.toString());
    }
  });

  it('refuses a title that leaves the directory, several files for stdout, and no artifact of the type, with one line and nothing written', async () => {
    await pushArtifact('art/app', 'evil', 'application/vnd.example.evil', [{ bytes: Buffer.from('x'), mediaType: 'text/plain', title: '../escaped' }]);
    const dir = join(tmp.path, 'evil');
    assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:evil`, '-o', dir], { env }), /its title "\.\.\/escaped" is no path inside the output directory; nothing written/, 1);
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(join(tmp.path, 'escaped')), false);
    await pushArtifact('art/app', 'twice', 'application/vnd.example.twice', [{ bytes: Buffer.from('a'), mediaType: 'text/plain', title: 'same' }, { bytes: Buffer.from('b'), mediaType: 'text/plain', title: 'same' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:twice`, '-o', dir], { env }), /two files of the artifact are titled "same"; nothing written/, 1);
    assert.equal(existsSync(dir), false);
    assertOneLineError(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.release'], { env }), /holds 2 files; name a directory with -o DIR/, 2);
    assertOneLineError(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.none', '-o', dir], { env }), /no artifact of type application\/vnd\.example\.none refers to/);
    // A second artifact of the type, and neither says when it was made: the user names one.
    writeFileSync(join(tmp.path, 'again.txt'), 'again\n');
    assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.release', join(tmp.path, 'again.txt')], { env }));
    assertOneLineError(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.release', '-o', dir], { env }),
      /2 artifacts of type application\/vnd\.example\.release refer to .*, none newer than the others: name one by digest \(sha256:[0-9a-f]{64}, sha256:[0-9a-f]{64}\)$/, 2);
    assert.equal(existsSync(dir), false);
  });

  it('unpacks a directory oras push packed (tar+gzip, io.deis.oras.content.unpack) under its title, as oras pull does: diff -r finds the tree the same', async () => {
    const src = join(tmp.path, 'oras-src');
    mkdirSync(join(src, 'site', 'css'), { recursive: true });
    writeFileSync(join(src, 'site', 'index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(src, 'site', 'css', 'main.css'), 'body{}\n');
    writeFileSync(join(src, 'site', 'empty'), '');
    writeFileSync(join(src, 'site', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    run('ln', ['-s', 'css/main.css', join(src, 'site', 'style.css')]);
    // As oras packs it: the entries under the directory's name, gzip over the tar, the tar's digest beside it.
    const tar = Buffer.from(run('sh', ['-c', `tar --format=pax --sort=name -cf - -C ${src} site | base64 -w0`]), 'base64');
    const gz = Buffer.from(run('sh', ['-c', 'gzip -n | base64 -w0'], { input: tar.toString('latin1') }), 'base64');
    assert.equal(run('sh', ['-c', 'base64 -d | gzip -dc | sha256sum'], { input: gz.toString('base64') }).split(' ')[0], digestOf(tar).slice(7), 'the gzip holds the tar');
    const dirLayer = (bytes: Buffer, tarDigest: string) => ({ bytes, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'site', annotations: { 'io.deis.oras.content.unpack': 'true', 'io.deis.oras.content.digest': tarDigest } });
    await pushArtifact('art/app', 'site', 'application/vnd.example.site', [dirLayer(gz, digestOf(tar)), { bytes: Buffer.from('v1\n'), mediaType: 'text/plain', title: 'VERSION' }]);
    const out = join(tmp.path, 'site-out');
    mkdirSync(join(out, 'site'), { recursive: true });
    writeFileSync(join(out, 'site', 'stale.txt'), 'from before\n');
    const r = await runCliAsync(['artifact', 'get', `${registry.host}/art/app:site`, '-o', out], { env });
    assertOk(r);
    run('diff', ['-r', '--no-dereference', join(src, 'site'), join(out, 'site')]);
    assert.equal(readFileSync(join(out, 'VERSION'), 'utf8'), 'v1\n');
    assert.deepEqual(readdirSync(out).sort(), ['VERSION', 'site'], 'no temp directory left');
    assert.equal(run('stat', ['-c', '%a', join(out, 'site', 'run.sh')]).trim(), '755');
    assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:site`], { env }), /"site" is a directory \(oras push packed it\); name a directory to unpack it in with -o DIR/, 2);

    // A tar that would write outside (through a symlink it made, or by ..), or whose digest is not the one stated: one line, nothing written.
    const evil = join(tmp.path, 'evil.py');
    writeFileSync(evil, [
      'import io, sys, tarfile',
      'buf = io.BytesIO()',
      'with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:',
      '    for arg in ["site/ok.txt"] + sys.argv[1:]:',
      '        name, _, target = arg.partition("->")',
      '        info = tarfile.TarInfo(name)',
      '        if target: info.type, info.linkname = tarfile.SYMTYPE, target',
      '        else: info.size = 2',
      '        t.addfile(info, None if target else io.BytesIO(b"x\\n"))',
      'sys.stdout.buffer.write(buf.getvalue())',
    ].join('\n'));
    // A .. that stays inside is cleaned away, as oras pull does: site/a/../b.txt is site/b.txt.
    const inward = Buffer.from(run('sh', ['-c', `python3 ${evil} site/a/../b.txt site/../site/c.txt | base64 -w0`]), 'base64');
    const inwardGz = Buffer.from(run('sh', ['-c', 'base64 -d | gzip -n | base64 -w0'], { input: inward.toString('base64') }), 'base64');
    await pushArtifact('art/app', 'inward-site', 'application/vnd.example.site', [dirLayer(inwardGz, digestOf(inward))]);
    const inwardOut = join(tmp.path, 'inward-out');
    assertOk(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:inward-site`, '-o', inwardOut], { env }));
    assert.deepEqual(readdirSync(inwardOut), ['site']);
    assert.deepEqual(readdirSync(join(inwardOut, 'site')).sort(), ['b.txt', 'c.txt', 'ok.txt']);
    const cases = [
      [['site/up->../..', 'site/up/escaped.txt'], /the symlink "site\/up" points outside it \(\.\.\/\.\.\)/],
      [['site/in->.', 'site/in/x.txt'], /the entry "site\/in\/x\.txt" goes through the symlink "site\/in"/],
      [['site/deep/x->..', 'site/a->deep/x/..'], /the symlink "site\/a" points outside it through other links/],
      [['site/../escaped.txt'], /the entry "site\/\.\.\/escaped\.txt" leaves it/],
      [['site/a/../../../escaped.txt'], /the entry "site\/a\/\.\.\/\.\.\/\.\.\/escaped\.txt" leaves it/],
      [['/site/escaped.txt'], /the entry "\/site\/escaped\.txt" leaves it/],
      [['other/escaped.txt'], /the entry "other\/escaped\.txt" is not under "site\/"/],
    ] as const;
    for (const [entries, why] of cases) {
      const bad = Buffer.from(run('sh', ['-c', `python3 ${evil} ${entries.map((e) => `'${e}'`).join(' ')} | base64 -w0`]), 'base64');
      const badGz = Buffer.from(run('sh', ['-c', 'base64 -d | gzip -n | base64 -w0'], { input: bad.toString('base64') }), 'base64');
      await pushArtifact('art/app', 'evil-site', 'application/vnd.example.site', [dirLayer(badGz, digestOf(bad))]);
      const dir = join(tmp.path, 'evil-out', 'inner');
      assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:evil-site`, '-o', dir], { env }), why);
      assert.deepEqual(readdirSync(dir), [], 'nothing written, no temp directory left');
      assert.equal(existsSync(join(tmp.path, 'escaped.txt')) || existsSync(join(tmp.path, 'evil-out', 'escaped.txt')), false);
    }
    await pushArtifact('art/app', 'lying-site', 'application/vnd.example.site', [dirLayer(gz, `sha256:${'1'.repeat(64)}`)]);
    const lying = join(tmp.path, 'lying-out');
    assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:lying-site`, '-o', lying], { env }), /the directory's tar is sha256:[0-9a-f]{64}, not the sha256:1{64} its io\.deis\.oras\.content\.digest says; nothing written/);
    assert.deepEqual(readdirSync(lying), []);
  });

  it('keeps the mtime each entry of a directory oras push packed has, as oras pull keeps a file\'s: the times GNU tar -x gives the same tar', async () => {
    const src = join(tmp.path, 'dated-src');
    mkdirSync(join(src, 'site', 'css'), { recursive: true });
    writeFileSync(join(src, 'site', 'index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(src, 'site', 'css', 'main.css'), 'body{}\n');
    writeFileSync(join(src, 'site', 'empty'), '');
    run('ln', ['-s', 'css/main.css', join(src, 'site', 'style.css')]);
    run('find', [join(src, 'site'), '-exec', 'touch', '-h', '-d', '2001-02-03T04:05:06Z', '{}', '+']);
    run('touch', ['-d', '2002-03-04T05:06:07Z', join(src, 'site', 'index.html')]);
    // USTAR, whole seconds, as Go's archive/tar writes oras's tar.
    const tarFile = join(tmp.path, 'dated.tar');
    run('tar', ['--format=ustar', '--sort=name', '-cf', tarFile, '-C', src, 'site']);
    const tar = readFileSync(tarFile);
    const gz = Buffer.from(run('sh', ['-c', `gzip -nc ${tarFile} | base64 -w0`]), 'base64');
    await pushArtifact('art/app', 'dated-site', 'application/vnd.example.site', [{ bytes: gz, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'site', annotations: { 'io.deis.oras.content.unpack': 'true', 'io.deis.oras.content.digest': digestOf(tar) } }]);
    const out = join(tmp.path, 'dated-out');
    assertOk(await runCliAsync(['artifact', 'get', `${registry.host}/art/app:dated-site`, '-o', out], { env }));
    const gnu = join(tmp.path, 'dated-gnu');
    mkdirSync(gnu);
    run('tar', ['-xf', tarFile, '-C', gnu]);
    const times = (dir: string) => run('find', [join(dir, 'site'), '-printf', '%P %y %TY-%Tm-%TdT%TH:%TM:%TS\n'], { env: { ...process.env, TZ: 'UTC' } }).trim().split('\n').sort();
    assert.deepEqual(times(out), times(gnu));
    assert.ok(times(out).includes('index.html f 2002-03-04T05:06:07.0000000000'), times(out).join('\n'));
  });

  it('takes the newest by its created time: attach --created (or SOURCE_DATE_EPOCH) writes it, as oras attach does', async () => {
    const dir = join(tmp.path, 'newest');
    for (const [name, when] of [['older.txt', '2030-01-01T00:00:00Z'], ['newer.txt', '1900000000']] as const) {
      writeFileSync(join(tmp.path, name), `${name}\n`);
      assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.nightly', join(tmp.path, name), '--created', when], { env }));
    }
    writeFileSync(join(tmp.path, 'epoch.txt'), 'epoch\n');
    assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.nightly', join(tmp.path, 'epoch.txt')], { env: { ...env, SOURCE_DATE_EPOCH: '1800000000' } }));
    assertOk(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.nightly', '-o', dir], { env }));
    assert.deepEqual(readdirSync(dir), ['newer.txt'], 'unix 1900000000 (2030-03-17) is after 2030-01-01 and after SOURCE_DATE_EPOCH 1800000000');
  });

  it('takes the newest by the instant its created time names, whatever offset or second fractions it was written with (date -Iseconds, Go\'s RFC3339Nano)', async () => {
    const dir = join(tmp.path, 'zoned');
    for (const [name, when] of [['noon-at-plus-two.txt', '2030-01-01T12:00:00+02:00'], ['eleven-utc.txt', '2030-01-01T11:00:00Z'], ['half-past.txt', '2030-01-01T11:00:00.5Z']] as const) {
      writeFileSync(join(tmp.path, name), `${name}\n`);
      assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.zoned', join(tmp.path, name), '-a', `org.opencontainers.image.created=${when}`], { env }));
    }
    assertOk(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.zoned', '-o', dir], { env }));
    assert.deepEqual(readdirSync(dir), ['half-past.txt'], '12:00+02:00 is 10:00Z, before 11:00Z, and 11:00:00.5Z is half a second after that');
    // One instant written two ways is no newer than itself: the user names one.
    writeFileSync(join(tmp.path, 'same-instant.txt'), 'same\n');
    assertOk(await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.zoned', join(tmp.path, 'same-instant.txt'), '-a', 'org.opencontainers.image.created=2030-01-01T13:00:00.500+02:00'], { env }));
    assertOneLineError(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.zoned', '-o', join(tmp.path, 'zoned-tie')], { env }), /none newer than the others/, 2);
  });

  it('an artifact of annotations alone (attach -a, oras attach -a) holds no file: its empty placeholder layer is not written as one, to stdout or a directory', async () => {
    const r = await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.approval', '-a', 'approved-by=qa', '--json'], { env });
    assertOk(r);
    const digest = (JSON.parse(r.stdout) as { digest: string }).digest;
    const layers = (JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/app@${digest}`])) as { layers: { mediaType: string }[] }).layers;
    assert.deepEqual(layers.map((l) => l.mediaType), ['application/vnd.oci.empty.v1+json'], 'the one layer is the empty blob, as image-spec asks');
    assertOneLineError(await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.approval'], { env }),
      new RegExp(`the artifact ${digest} holds no file, only its manifest's annotations`), 1);
    const dir = join(tmp.path, 'approval');
    const got = await runCliAsync(['artifact', 'get', image, '--artifact-type', 'application/vnd.example.approval', '-o', dir, '--json'], { env });
    assertOk(got);
    assert.deepEqual((JSON.parse(got.stdout) as { files: unknown[] }).files, []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('passes over the newest when it is gone but still in the referrers tag index (deleted by skopeo), and takes the next', async () => {
    const type = 'application/vnd.example.rotated';
    const made: string[] = [];
    for (const [name, when] of [['kept.txt', '2030-01-01T00:00:00Z'], ['gone.txt', '2031-01-01T00:00:00Z']] as const) {
      writeFileSync(join(tmp.path, name), `${name}\n`);
      const r = await runCliAsync(['attach', image, '--artifact-type', type, join(tmp.path, name), '--created', when, '--json'], { env });
      assertOk(r);
      made.push((JSON.parse(r.stdout) as { digest: string }).digest);
    }
    run('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/art/app@${made[1]}`]);
    const dir = join(tmp.path, 'rotated');
    assertOk(await runCliAsync(['artifact', 'get', image, '--artifact-type', type, '-o', dir], { env }));
    assert.deepEqual(readdirSync(dir), ['kept.txt']);
  });
});

/** A registry path's bytes, by a plain request. */
async function getBytes(path: string, accept = '*/*'): Promise<Buffer> {
  const res = await fetch(`http://${registry.host}${path}`, { headers: { accept } });
  assert.equal(res.status, 200, path);
  return Buffer.from(await res.arrayBuffer());
}

describe('artifact push', () => {
  const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

  it('stores files as an OCI 1.1 artifact, as oras push: the registry serves the manifest and each file byte for byte, and artifact get gives them back', async () => {
    const dir = join(tmp.path, 'to-push');
    mkdirSync(dir);
    writeFileSync(join(dir, 'app.yaml'), 'replicas: 3\n');
    writeFileSync(join(dir, 'schema.json'), '{"type":"object"}\n');
    const r = await runCliAsync(['artifact', 'push', `${registry.host}/art/config:1`, join(dir, 'app.yaml'), `${join(dir, 'schema.json')}:application/schema+json`,
      '--artifact-type', 'application/vnd.example.config', '-a', 'org.opencontainers.image.source=https://example.com/app', '--created', '2030-01-01T00:00:00Z', '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { digest: string; reference: string };
    assert.deepEqual(validate('artifact-push.schema.json', report), [], r.stdout);
    assert.equal(report.reference, `${registry.host}/art/config:1@${report.digest}`);

    // Read with plain API requests: the manifest under the tag is the one reported, of the artifact's shape.
    const bytes = await getBytes('/v2/art/config/manifests/1', ociManifest);
    assert.equal(digestOf(bytes), report.digest);
    const manifest = JSON.parse(bytes.toString()) as { artifactType: string; config: { mediaType: string; digest: string; size: number }; layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[]; annotations: Record<string, string>; subject?: unknown };
    assert.equal(manifest.artifactType, 'application/vnd.example.config');
    assert.deepEqual(manifest.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 });
    assert.deepEqual(await getBytes(`/v2/art/config/blobs/${manifest.config.digest}`), Buffer.from('{}'));
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.source': 'https://example.com/app', 'org.opencontainers.image.created': '2030-01-01T00:00:00Z' });
    assert.equal(manifest.subject, undefined);
    assert.deepEqual(manifest.layers.map((l) => [l.annotations['org.opencontainers.image.title'], l.mediaType]), [['app.yaml', 'application/vnd.oci.image.layer.v1.tar'], ['schema.json', 'application/schema+json']]);
    for (const layer of manifest.layers) {
      const file = readFileSync(join(dir, layer.annotations['org.opencontainers.image.title']!));
      assert.deepEqual(await getBytes(`/v2/art/config/blobs/${layer.digest}`), file);
      assert.equal(layer.size, file.length);
    }
    const back = join(tmp.path, 'pushed-back');
    assertOk(await runCliAsync(['artifact', 'get', `${registry.host}/art/config:1`, '-o', back], { env }));
    for (const name of ['app.yaml', 'schema.json']) assert.deepEqual(readFileSync(join(back, name)), readFileSync(join(dir, name)));

    // The same files and time make the same artifact; nothing is uploaded again. By digest, no tag is written.
    registry.clearAccessLog();
    const again = await runCliAsync(['artifact', 'push', `${registry.host}/art/config@${report.digest}`, join(dir, 'app.yaml'), `${join(dir, 'schema.json')}:application/schema+json`,
      '--artifact-type', 'application/vnd.example.config', '-a', 'org.opencontainers.image.source=https://example.com/app', '--created', '2030-01-01T00:00:00Z', '--json'], { env });
    assertOk(again);
    assert.equal((JSON.parse(again.stdout) as { digest: string }).digest, report.digest);
    assert.deepEqual(blobWrites(await registry.settledAccessLog()), []);
  });

  it('--concurrency 1 sends one file at a time (artifact push and attach), as oras push --concurrency 1: a proxy never sees two uploads open', async () => {
    const dir = join(tmp.path, 'one-at-a-time');
    mkdirSync(dir);
    const paths = ['a', 'b', 'c', 'd', 'e'].map((name) => {
      writeFileSync(join(dir, `${name}.txt`), `${name} one at a time\n`);
      return join(dir, `${name}.txt`);
    });
    // An upload is open from its POST reaching the proxy until the registry has answered the PUT that closes it.
    let open = 0;
    let most = 0;
    let uploads = 0;
    const proxy = await startFaultProxy({
      target: registry.url,
      faults: [
        { method: 'POST', path: /\/blobs\/uploads\/$/, times: Infinity, fault: { kind: 'around', before: () => { uploads++; most = Math.max(most, ++open); }, after: () => {} } },
        { method: 'PUT', path: /\/blobs\/uploads\/.*digest=/, times: Infinity, fault: { kind: 'around', before: () => {}, after: () => { open--; } } },
      ],
    });
    try {
      assertOk(await runCliAsync(['artifact', 'push', `${proxy.host}/art/serial:1`, ...paths, '--concurrency', '1'], { env }));
      assert.deepEqual([uploads, most], [6, 1], 'the five files and the empty config, one at a time');
      assertOk(await runCliAsync(['copy', image, `${proxy.host}/art/serial-image:1`], { env }));
      [uploads, most] = [0, 0];
      assertOk(await runCliAsync(['attach', `${proxy.host}/art/serial-image:1`, '--artifact-type', 'application/vnd.example.serial', ...paths, '--concurrency', '1'], { env }));
      assert.deepEqual([uploads, most], [5, 1]);
    } finally {
      await proxy.stop();
    }
  });

  it('--export-manifest FILE writes the manifest as pushed, as oras push and oras attach write it: the bytes skopeo reads from the registry; a FILE it cannot write is one line before anything is sent', async () => {
    const dir = join(tmp.path, 'exported');
    mkdirSync(dir);
    writeFileSync(join(dir, 'app.yaml'), 'replicas: 2\n');
    const pushed = join(dir, 'pushed.json');
    const r = await runCliAsync(['artifact', 'push', `${registry.host}/art/exported:1`, join(dir, 'app.yaml'), '--export-manifest', pushed, '--json'], { env });
    assertOk(r);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/exported:1`]);
    assert.equal(readFileSync(pushed, 'utf8'), raw);
    assert.equal(digestOf(readFileSync(pushed)), (JSON.parse(r.stdout) as { digest: string }).digest);

    const attached = join(dir, 'attached.json');
    const a = await runCliAsync(['attach', `${registry.host}/art/exported:1`, '--artifact-type', 'application/vnd.example.notes', join(dir, 'app.yaml'), '--export-manifest', attached, '--json'], { env });
    assertOk(a);
    const digest = (JSON.parse(a.stdout) as { digest: string }).digest;
    assert.equal(readFileSync(attached, 'utf8'), run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/exported@${digest}`]));

    const layout = join(dir, 'layout');
    assertOk(await runCliAsync(['artifact', 'push', `oci:${layout}:notes`, join(dir, 'app.yaml'), '--export-manifest', join(dir, 'in-layout.json')], { env }));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.deepEqual(readFileSync(join(dir, 'in-layout.json')), readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7))));

    assertOneLineError(await runCliAsync(['artifact', 'push', `${registry.host}/art/exported:2`, join(dir, 'app.yaml'), '--export-manifest', join(dir, 'missing', 'm.json')], { env }), /--export-manifest .*missing\/m\.json: directory .*missing does not exist/, 2);
    assert.equal((await fetch(`http://${registry.host}/v2/art/exported/manifests/2`, { method: 'HEAD', headers: { accept: ociManifest } })).status, 404, 'nothing pushed');
    assertOneLineError(await runCliAsync(['artifact', 'get', `${registry.host}/art/exported:1`, '--export-manifest', pushed], { env }), /--export-manifest is for artifact push/, 2);
  });

  it('--annotation-file as oras reads it: "$manifest", "$config" and each FILE as named on the command line (its title renames it), for artifact push and attach', async () => {
    const dir = join(tmp.path, 'annotated');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'notes\n');
    writeFileSync(join(dir, 'data.json'), '{}\n');
    const notes = join(dir, 'notes.txt');
    const data = join(dir, 'data.json');
    const file = join(dir, 'annotations.json');
    writeFileSync(file, JSON.stringify({
      $manifest: { 'com.example.team': 'infra' }, $config: { 'com.example.config': 'empty' },
      [notes]: { 'com.example.kind': 'notes', 'org.opencontainers.image.title': 'README.txt' }, [data]: { 'com.example.kind': 'data' },
    }));
    const pushed = await runCliAsync(['artifact', 'push', `${registry.host}/art/annotated:1`, notes, `${data}:application/json`, '--annotation-file', file, '--json'], { env });
    assertOk(pushed);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/annotated:1`]);
    assert.equal(digestOf(Buffer.from(raw)), (JSON.parse(pushed.stdout) as { digest: string }).digest);
    const manifest = JSON.parse(raw) as { config: { digest: string; annotations?: Record<string, string> }; layers: { annotations: Record<string, string> }[]; annotations: Record<string, string> };
    assert.deepEqual(manifest.annotations, { 'com.example.team': 'infra' });
    assert.deepEqual(manifest.config.annotations, { 'com.example.config': 'empty' });
    assert.equal(manifest.config.digest, digestOf(Buffer.from('{}')));
    assert.deepEqual(manifest.layers.map((l) => l.annotations), [
      { 'org.opencontainers.image.title': 'README.txt', 'com.example.kind': 'notes' },
      { 'org.opencontainers.image.title': 'data.json', 'com.example.kind': 'data' },
    ]);
    const back = join(tmp.path, 'annotated-back');
    assertOk(await runCliAsync(['artifact', 'get', `${registry.host}/art/annotated:1`, '-o', back], { env }));
    assert.deepEqual(readdirSync(back).sort(), ['README.txt', 'data.json']);

    // attach: "$manifest" alone is an artifact, as -a alone is.
    writeFileSync(join(dir, 'only-manifest.json'), JSON.stringify({ $manifest: { 'com.example.approved-by': 'qa' } }));
    const attached = await runCliAsync(['attach', image, '--artifact-type', 'application/vnd.example.approval', '--annotation-file', join(dir, 'only-manifest.json'), '--json'], { env });
    assertOk(attached);
    const referrer = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/app@${(JSON.parse(attached.stdout) as { digest: string }).digest}`])) as { annotations: Record<string, string>; subject: { digest: string } };
    assert.deepEqual(referrer.annotations, { 'com.example.approved-by': 'qa' });

    // A key that names no file, -a beside the file, a title that leaves the directory: one line each, nothing pushed.
    const never = `${registry.host}/art/never-annotated:1`;
    writeFileSync(join(dir, 'typo.json'), JSON.stringify({ [join(dir, 'note.txt')]: { a: 'b' } }));
    assertOneLineError(await runCliAsync(['artifact', 'push', never, notes, '--annotation-file', join(dir, 'typo.json')], { env }), /note\.txt" is none of the files named \(.*notes\.txt\), nor \$manifest or \$config$/, 2);
    assertOneLineError(await runCliAsync(['artifact', 'push', never, notes, '--annotation-file', file, '-a', 'k=v'], { env }), /--annotation and --annotation-file cannot both be given/, 2);
    writeFileSync(join(dir, 'path.json'), JSON.stringify({ [notes]: { 'org.opencontainers.image.title': '../notes.txt' } }));
    assertOneLineError(await runCliAsync(['artifact', 'push', never, notes, '--annotation-file', join(dir, 'path.json')], { env }), /the title "\.\.\/notes\.txt" of .*notes\.txt is no path inside a directory/, 2);
    assert.equal((await fetch(`http://${registry.host}/v2/art/never-annotated/tags/list`)).status, 404, 'the repository was never written to');
  });

  it('no file, as oras push takes it: an artifact of its type and annotations alone, its one layer the empty blob; with neither, one line', async () => {
    const r = await runCliAsync(['artifact', 'push', `${registry.host}/art/marker:1`, '--artifact-type', 'application/vnd.example.marker', '-a', 'released=yes', '--json'], { env });
    assertOk(r);
    assert.deepEqual((JSON.parse(r.stdout) as { files: unknown[] }).files, []);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/marker:1`]);
    assert.equal(digestOf(Buffer.from(raw)), (JSON.parse(r.stdout) as { digest: string }).digest);
    const manifest = JSON.parse(raw) as { artifactType: string; layers: unknown[]; annotations: Record<string, string> };
    const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 };
    assert.deepEqual([manifest.artifactType, manifest.layers, manifest.annotations], ['application/vnd.example.marker', [empty], { released: 'yes' }]);
    assertOneLineError(await runCliAsync(['artifact', 'push', `${registry.host}/art/never-marker:1`], { env }), /artifact push: name at least one file, or what an artifact without files says/, 2);
  });

  it('a missing file, two files of one name or a digest the files do not make: one line, and the registry is left as it was', async () => {
    const ref = `${registry.host}/art/never:1`;
    writeFileSync(join(tmp.path, 'one.txt'), 'one\n');
    mkdirSync(join(tmp.path, 'sub'));
    writeFileSync(join(tmp.path, 'sub', 'one.txt'), 'other\n');
    assertOneLineError(await runCliAsync(['artifact', 'push', ref, join(tmp.path, 'one.txt'), join(tmp.path, 'missing.txt')], { env }), /cannot read .*missing\.txt: no such file or directory/);
    assertOneLineError(await runCliAsync(['artifact', 'push', ref, join(tmp.path, 'one.txt'), join(tmp.path, 'sub', 'one.txt')], { env }), /two files are named "one\.txt"/, 2);
    assertOneLineError(await runCliAsync(['artifact', 'push', `${registry.host}/art/never@sha256:${'0'.repeat(64)}`, join(tmp.path, 'one.txt')], { env }), /these files make the artifact sha256:[0-9a-f]{64}, not sha256:0{64}/, 2);
    const res = await fetch(`http://${registry.host}/v2/art/never/tags/list`);
    assert.equal(res.status, 404, 'the repository was never written to');
  });
});

describe('artifacts and referrers in an OCI layout (as oras --oci-layout)', () => {
  const registryBlob = (repo: string, digest: string) => getBytes(`/v2/${repo}/blobs/${digest}`);

  it('attach puts files on a layout image as a referrer; referrers and artifact get read it there, and copy takes it to a registry', async () => {
    const rootfs = join(tmp.path, 'layout-rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello'), 'hi\n');
    const layout = join(tmp.path, 'with-referrer');
    assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app'], { env }));
    const notes = join(tmp.path, 'layout-notes.txt');
    writeFileSync(notes, 'notes kept with the image\n');
    const attached = await runCliAsync(['attach', `oci:${layout}:app`, '--artifact-type', 'application/vnd.example.notes', notes, '--json'], { env });
    assertOk(attached);
    const report = JSON.parse(attached.stdout) as { digest: string; subject: string; via: string };
    assert.deepEqual(validate('attach.schema.json', report), [], attached.stdout);
    assert.equal(report.via, 'layout');

    // skopeo reads the layout: the subject is the image named app.
    assert.equal(digestOf(Buffer.from(run('skopeo', ['inspect', '--raw', `oci:${layout}:app`]))), report.subject);
    const listed = await runCliAsync(['referrers', `oci:${layout}:app`, '--json'], { env });
    assertOk(listed);
    const doc = JSON.parse(listed.stdout) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(validate('referrers.schema.json', doc), [], listed.stdout);
    assert.deepEqual(doc.manifests.map((m) => [m.digest, m.artifactType]), [[report.digest, 'application/vnd.example.notes']]);
    const got = join(tmp.path, 'from-layout');
    assertOk(await runCliAsync(['artifact', 'get', `oci:${layout}:app`, '--artifact-type', 'application/vnd.example.notes', '-o', got], { env }));
    assert.deepEqual(readFileSync(join(got, 'layout-notes.txt')), readFileSync(notes));

    // Copied to a registry, the artifact is listed in the subject's referrers tag index and serves the file.
    assertOk(await runCliAsync(['copy', `oci:${layout}:app`, `${registry.host}/art/from-layout:1`], { env }));
    const index = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/from-layout:${report.subject.replace(':', '-')}`])) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[report.digest, 'application/vnd.example.notes']]);
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/from-layout@${report.digest}`])) as { layers: { digest: string }[] };
    assert.deepEqual(await registryBlob('art/from-layout', manifest.layers[0]!.digest), readFileSync(notes));
  });

  it('attach, referrers and artifact get take oci:DIR@DIGEST of one platform\'s image under the layout\'s index, as a registry serves it by digest; copy takes the referrer along', async () => {
    const layout = join(tmp.path, 'multi-layout');
    const multi = await multiPlatformImage(layout, 'multi');
    const arm = multi.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    const notes = join(tmp.path, 'arm-notes.txt');
    writeFileSync(notes, 'arm64 only\n');
    const attached = await runCliAsync(['attach', `oci:${layout}@${arm.digest}`, '--artifact-type', 'application/vnd.example.notes', notes, '--json'], { env });
    assertOk(attached);
    const report = JSON.parse(attached.stdout) as { digest: string; subject: string };
    assert.equal(report.subject, arm.digest);
    const listed = await runCliAsync(['referrers', `oci:${layout}@${arm.digest}`, '--json'], { env });
    assertOk(listed);
    assert.deepEqual((JSON.parse(listed.stdout) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [report.digest]);
    const got = await runCliAsync(['artifact', 'get', `oci:${layout}@${arm.digest}`, '--artifact-type', 'application/vnd.example.notes'], { env });
    assertOk(got);
    assert.equal(got.stdout, 'arm64 only\n');
    // A digest the layout does not hold at all is still one line.
    assertOneLineError(await runCliAsync(['referrers', `oci:${layout}@sha256:${'0'.repeat(64)}`], { env }), /no manifest sha256:0{64} in the layout, listed or under an index it lists/);

    // Copied to a registry, skopeo reads the artifact there, its subject the arm64 image.
    assertOk(await runCliAsync(['copy', `oci:${layout}:multi`, `${registry.host}/art/multi:1`], { env }));
    const artifact = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/multi@${report.digest}`])) as { subject: { digest: string } };
    assert.equal(artifact.subject.digest, arm.digest);
  });

  it('artifact push stores files as a named artifact in a new layout, which skopeo copies to a registry byte for byte', async () => {
    const layout = join(tmp.path, 'artifact-layout');
    const file = join(tmp.path, 'settings.yaml');
    writeFileSync(file, 'level: 3\n');
    const r = await runCliAsync(['artifact', 'push', `oci:${layout}:cfg`, file, '--artifact-type', 'application/vnd.example.config', '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { digest: string; reference: string };
    assert.deepEqual(validate('artifact-push.schema.json', report), [], r.stdout);
    assert.equal(report.reference, `oci:${layout}:cfg`);
    const entry = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; artifactType?: string }[] }).manifests;
    assert.deepEqual(entry.map((e) => [e.digest, e.artifactType]), [[report.digest, 'application/vnd.example.config']]);
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:cfg`, `docker://${registry.host}/art/settings:1`]);
    const manifest = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/art/settings:1`])) as { artifactType: string; layers: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(manifest.artifactType, 'application/vnd.example.config');
    assert.equal(manifest.layers[0]!.annotations['org.opencontainers.image.title'], 'settings.yaml');
    assert.deepEqual(await registryBlob('art/settings', manifest.layers[0]!.digest), readFileSync(file));
  });

  it('artifact get reads an artifact a layout names as oras writes it (its index.json entry carries the artifactType)', async () => {
    const layout = join(tmp.path, 'oras-shaped');
    const blob = (bytes: Buffer) => {
      mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(join(layout, 'blobs', 'sha256', digestOf(bytes).slice(7)), bytes);
      return { digest: digestOf(bytes), size: bytes.length };
    };
    const file = Buffer.from('made by hand\n');
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.example.hand',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...blob(Buffer.from('{}')) },
      layers: [{ mediaType: 'text/plain', ...blob(file), annotations: { 'org.opencontainers.image.title': 'hand.txt' } }],
    }));
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...blob(manifest), artifactType: 'application/vnd.example.hand', annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
    const r = await runCliAsync(['artifact', 'get', `oci:${layout}:v1`], { env });
    assertOk(r);
    assert.equal(r.stdout, file.toString());
  });

  it('an archive is refused with one line, and attach to a missing layout writes nothing', async () => {
    const file = join(tmp.path, 'one.txt');
    writeFileSync(file, 'one\n');
    assertOneLineError(await runCliAsync(['attach', `oci-archive:${join(tmp.path, 'x.tar')}`, '--artifact-type', 'a/b', file], { env }), /attach works on a registry or an OCI layout \(oci:DIR\[:NAME\]\), not an archive/, 2);
    assertOneLineError(await runCliAsync(['attach', `oci:${join(tmp.path, 'no-layout')}`, '--artifact-type', 'a/b', file], { env }), /no-layout: not an OCI image layout \(no such directory\)/);
    assert.equal(existsSync(join(tmp.path, 'no-layout')), false);
  });
});
