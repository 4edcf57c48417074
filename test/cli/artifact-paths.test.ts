import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registryFixture } from '../support/registry.js';
import { CLI, run } from '../support/tools.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith } from './copy-support.js';

/** Files with paths and directories in artifacts, as oras push writes them and oras pull reads them. */
const fixture = registryFixture();
const env = envWith();
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const emptyConfig = { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 };

interface Layer { bytes: Buffer; mediaType: string; title?: string; annotations?: Record<string, string> }

/** An artifact pushed with plain distribution API requests: no ocipush code makes it. */
async function pushArtifact(repo: string, tag: string, layers: Layer[]): Promise<string> {
  const base = `http://${fixture.registry.host}`;
  const put = async (bytes: Buffer) => {
    const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const url = new URL(started.headers.get('location')!, base);
    url.searchParams.set('digest', digestOf(bytes));
    assert.equal((await fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } })).status, 201);
  };
  await put(Buffer.from('{}'));
  for (const layer of layers) await put(layer.bytes);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: ociManifest, artifactType: 'application/vnd.example.files', config: emptyConfig,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: digestOf(l.bytes), size: l.bytes.length, ...(l.title !== undefined ? { annotations: { 'org.opencontainers.image.title': l.title, ...l.annotations } } : {}) })),
  }));
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': ociManifest } });
  assert.equal(res.status, 201);
  return digestOf(manifest);
}

async function getBytes(path: string, accept = '*/*'): Promise<Buffer> {
  const res = await fetch(`http://${fixture.registry.host}${path}`, { headers: { accept } });
  assert.equal(res.status, 200, path);
  return Buffer.from(await res.arrayBuffer());
}

const text = (s: string): Layer => ({ bytes: Buffer.from(s), mediaType: 'text/plain' });

describe('artifact push and attach: titles as oras push writes them', () => {
  it('titles a file by its path as given, cleaned (./docs//guide.md is docs/guide.md): the manifest is the one oras push makes of the same command, but for the empty config\'s data field', async () => {
    const cwd = join(fixture.tmp.path, 'project');
    mkdirSync(join(cwd, 'docs'), { recursive: true });
    writeFileSync(join(cwd, 'docs', 'guide.md'), '# guide\n');
    writeFileSync(join(cwd, 'VERSION'), '1.0\n');
    const r = await runCliAsync(['artifact', 'push', `${fixture.registry.host}/paths/push:1`, './docs//guide.md:text/markdown', 'VERSION', '--created', '2030-01-01T00:00:00Z', '--json'], { env, cwd });
    assertOk(r);
    // oras's rules: title filepath.Clean(path), default media type application/vnd.oci.image.layer.v1.tar, Go's field order.
    // oras (image-spec's DescriptorEmptyJSON) also writes the empty config's bytes in it ("data":"e30="); ocipush leaves
    // them out, as it always has: adding them now would change the digest of every artifact and referrer it made before.
    const layer = (path: string, title: string, mediaType: string) => {
      const bytes = readFileSync(join(cwd, path));
      return { mediaType, digest: digestOf(bytes), size: bytes.length, annotations: { 'org.opencontainers.image.title': title } };
    };
    const expected = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: ociManifest, artifactType: 'application/vnd.unknown.artifact.v1', config: emptyConfig,
      layers: [layer('docs/guide.md', 'docs/guide.md', 'text/markdown'), layer('VERSION', 'VERSION', 'application/vnd.oci.image.layer.v1.tar')],
      annotations: { 'org.opencontainers.image.created': '2030-01-01T00:00:00Z' },
    }));
    assert.deepEqual(await getBytes('/v2/paths/push/manifests/1', ociManifest), expected);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, digestOf(expected));

    // artifact get writes it back where it was, as oras pull does.
    const back = join(fixture.tmp.path, 'push-back');
    assertOk(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/push:1`, '-o', back], { env }));
    run('diff', ['-r', join(cwd, 'docs'), join(back, 'docs')]);
    assert.deepEqual(readdirSync(back).sort(), ['VERSION', 'docs']);

    // A path outside the directory (absolute, which oras refuses; ../x, which oras pull refuses to write) keeps its file name as title.
    writeFileSync(join(fixture.tmp.path, 'outside.txt'), 'out\n');
    assertOk(await runCliAsync(['artifact', 'push', `${fixture.registry.host}/paths/push:2`, '../outside.txt', join(cwd, 'VERSION')], { env, cwd }));
    const titles = (JSON.parse((await getBytes('/v2/paths/push/manifests/2', ociManifest)).toString()) as { layers: { annotations: Record<string, string> }[] }).layers.map((l) => l.annotations['org.opencontainers.image.title']);
    assert.deepEqual(titles, ['outside.txt', 'VERSION']);

    // Titles artifact get could not write side by side: one line, nothing pushed.
    assertOneLineError(await runCliAsync(['artifact', 'push', `${fixture.registry.host}/paths/never:1`, 'VERSION', './VERSION'], { env, cwd }), /two files are named "VERSION"/, 2);
    writeFileSync(join(cwd, 'docs.txt'), 'x\n');
    const annotations = join(cwd, 'annotations.json');
    writeFileSync(annotations, JSON.stringify({ 'docs.txt': { 'org.opencontainers.image.title': 'docs' } }));
    assertOneLineError(await runCliAsync(['attach', `${fixture.registry.host}/paths/push:1`, '--artifact-type', 'application/vnd.example.x', 'docs/guide.md', 'docs.txt', '--annotation-file', annotations], { env, cwd }),
      /attach: "docs" is a file and a directory of "docs\/guide\.md"/, 2);
    assert.equal((await fetch(`http://${fixture.registry.host}/v2/paths/never/tags/list`)).status, 404);
  });
});

describe('artifact get: titles that are paths, as oras pull writes them', () => {
  it('writes a title dir/file in a subdirectory of -o (a/../b as b), and unpacks a directory titled by a path there', async () => {
    const src = join(fixture.tmp.path, 'tree');
    mkdirSync(join(src, 'web', 'site', 'css'), { recursive: true });
    writeFileSync(join(src, 'web', 'site', 'index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(src, 'web', 'site', 'css', 'main.css'), 'body{}\n');
    const tar = Buffer.from(run('sh', ['-c', `tar --sort=name -cf - -C ${src} web/site | base64 -w0`]), 'base64');
    const gz = Buffer.from(run('sh', ['-c', 'base64 -d | gzip -n | base64 -w0'], { input: tar.toString('base64') }), 'base64');
    await pushArtifact('paths/get', 'ok', [
      { ...text('intro\n'), title: 'docs/guide/intro.md' },
      { ...text('top\n'), title: 'a/../top.txt' },
      { bytes: gz, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'web/site', annotations: { 'io.deis.oras.content.unpack': 'true', 'io.deis.oras.content.digest': digestOf(tar) } },
    ]);
    const out = join(fixture.tmp.path, 'get-out');
    assertOk(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:ok`, '-o', out], { env }));
    assert.equal(readFileSync(join(out, 'docs', 'guide', 'intro.md'), 'utf8'), 'intro\n');
    assert.equal(readFileSync(join(out, 'top.txt'), 'utf8'), 'top\n');
    run('diff', ['-r', join(src, 'web'), join(out, 'web')]);
    assert.deepEqual(readdirSync(out).sort(), ['docs', 'top.txt', 'web']);
    assert.deepEqual(readdirSync(join(out, 'web')), ['site'], 'no temp directory left');
  });

  it('refuses a title that leaves -o, two titles that clash, a write through a symlink, and a file onto a directory: one line, nothing written', async () => {
    const out = join(fixture.tmp.path, 'refused', 'out');
    for (const [title, i] of [['/etc/escaped', 0], ['../escaped', 1], ['a/../../escaped', 2], ['.', 3]] as const) {
      await pushArtifact('paths/get', `bad${i}`, [{ ...text('x\n'), title: 'fine.txt' }, { ...text('y\n'), title }]);
      assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:bad${i}`, '-o', out], { env }),
        new RegExp(`its title ${JSON.stringify(title).replace(/[.*/]/g, '\\$&')} is no path inside the output directory; nothing written`));
      assert.equal(existsSync(out), false);
    }
    assert.equal(existsSync(join(fixture.tmp.path, 'refused', 'escaped')), false);
    await pushArtifact('paths/get', 'clash', [{ ...text('x\n'), title: 'a' }, { ...text('y\n'), title: 'a/b' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:clash`, '-o', out], { env }), /"a" is a file and a directory of "a\/b"; nothing written/);
    assert.equal(existsSync(out), false);

    // A symlink in -o (left by anyone) on the way to a title, or at it: refused, nothing written where it points.
    const elsewhere = join(fixture.tmp.path, 'refused', 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(join(elsewhere, 'keep.txt'), 'keep\n');
    mkdirSync(out);
    symlinkSync(elsewhere, join(out, 'docs'));
    symlinkSync(join(elsewhere, 'keep.txt'), join(out, 'keep.txt'));
    await pushArtifact('paths/get', 'through', [{ ...text('first\n'), title: 'first.txt' }, { ...text('x\n'), title: 'docs/x.txt' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:through`, '-o', out], { env }), /refusing to write "docs\/x\.txt" through the symlink ".*out\/docs"; nothing written/);
    await pushArtifact('paths/get', 'onto', [{ ...text('first\n'), title: 'first.txt' }, { ...text('overwritten\n'), title: 'keep.txt' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:onto`, '-o', out], { env }), /refusing to write "keep\.txt" through the symlink ".*out\/keep\.txt"; nothing written/);
    assert.deepEqual(readdirSync(elsewhere), ['keep.txt']);
    assert.equal(readFileSync(join(elsewhere, 'keep.txt'), 'utf8'), 'keep\n');
    assert.deepEqual(readdirSync(out).sort(), ['docs', 'keep.txt']);

    // A directory where a file goes: refused before the first file is written, and named as what is in -o, not as -o.
    mkdirSync(join(out, 'report.json'));
    await pushArtifact('paths/get', 'onto-dir', [{ ...text('first\n'), title: 'first.txt' }, { ...text('{}\n'), title: 'report.json' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/get:onto-dir`, '-o', out], { env }), /cannot write the file "report\.json": ".*out\/report\.json" is a directory; nothing written/);
    assert.deepEqual(readdirSync(out).sort(), ['docs', 'keep.txt', 'report.json']);
    assert.deepEqual(readdirSync(join(out, 'report.json')), []);
  });
});

describe('artifact get --keep-old-files, as oras pull --keep-old-files', () => {
  it('refuses a title already in -o before anything is written, where the default replaces it', async () => {
    const out = join(fixture.tmp.path, 'keep-old');
    mkdirSync(join(out, 'docs'), { recursive: true });
    writeFileSync(join(out, 'docs', 'guide.md'), 'mine\n');
    await pushArtifact('paths/keep', '1', [{ ...text('new\n'), title: 'NEW.txt' }, { ...text('theirs\n'), title: 'docs/guide.md' }]);
    assertOneLineError(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/keep:1`, '-o', out, '--keep-old-files'], { env }),
      /".*keep-old\/docs\/guide\.md" is there already and --keep-old-files keeps it; nothing written/);
    assert.deepEqual(readdirSync(out), ['docs']);
    assert.equal(readFileSync(join(out, 'docs', 'guide.md'), 'utf8'), 'mine\n');
    assertOk(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/keep:1`, '-o', out], { env }));
    assert.equal(readFileSync(join(out, 'docs', 'guide.md'), 'utf8'), 'theirs\n');
    assert.equal(readFileSync(join(out, 'NEW.txt'), 'utf8'), 'new\n');
  });
});

describe('artifact push of a directory, as oras push packs it', () => {
  it('packs it as tar+gzip with io.deis.oras.content.unpack and the tar\'s digest: GNU tar unpacks it, artifact get unpacks it, diff -r finds both the same; --created makes it reproducible', async () => {
    const cwd = join(fixture.tmp.path, 'dir-project');
    const site = join(cwd, 'site');
    mkdirSync(join(site, 'css', 'empty'), { recursive: true });
    writeFileSync(join(site, 'index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(site, 'css', 'main.css'), 'body{}\n');
    writeFileSync(join(site, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(site, 'B-upper.txt'), '');
    symlinkSync('css/main.css', join(site, 'style.css'));
    linkSync(join(site, 'index.html'), join(site, 'home.html'));
    const ref = `${fixture.registry.host}/paths/dir:1`;
    const r = await runCliAsync(['artifact', 'push', ref, 'site', '--created', '2030-01-01T00:00:00Z', '--json'], { env, cwd });
    assertOk(r);
    const manifest = JSON.parse((await getBytes('/v2/paths/dir/manifests/1', ociManifest)).toString()) as { layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[] };
    assert.equal(manifest.layers.length, 1);
    const [layer] = manifest.layers;
    assert.equal(layer!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.deepEqual(Object.keys(layer!.annotations), ['io.deis.oras.content.digest', 'io.deis.oras.content.unpack', 'org.opencontainers.image.title'], 'sorted, as Go writes a map');
    assert.equal(layer!.annotations['io.deis.oras.content.unpack'], 'true');
    assert.equal(layer!.annotations['org.opencontainers.image.title'], 'site');
    const gz = await getBytes(`/v2/paths/dir/blobs/${layer!.digest}`);
    assert.equal(gz.length, layer!.size);
    const gzFile = join(fixture.tmp.path, 'site.tar.gz');
    writeFileSync(gzFile, gz);
    assert.equal(`sha256:${run('sh', ['-c', `gzip -dc ${gzFile} | sha256sum`]).split(' ')[0]}`, layer!.annotations['io.deis.oras.content.digest']);
    // Every entry under site/, the directory itself first, names sorted by their bytes, owned by 0:0 without names.
    const listing = run('tar', ['--numeric-owner', '-tvzf', gzFile]).trim().split('\n');
    assert.deepEqual(listing.map((l) => l.split(/\s+/)[5]!.replace(/\/$/, '')),
      ['site', 'site/B-upper.txt', 'site/css', 'site/css/empty', 'site/css/main.css', 'site/home.html', 'site/index.html', 'site/run.sh', 'site/style.css']);
    for (const line of listing) assert.equal(line.split(/\s+/)[1], '0/0', line);
    const untarred = join(fixture.tmp.path, 'gnu-untarred');
    mkdirSync(untarred);
    run('tar', ['-xzf', gzFile, '-C', untarred]);
    run('diff', ['-r', '--no-dereference', site, join(untarred, 'site')]);
    const out = join(fixture.tmp.path, 'dir-back');
    assertOk(await runCliAsync(['artifact', 'get', ref, '-o', out], { env }));
    run('diff', ['-r', '--no-dereference', site, join(out, 'site')]);
    assert.equal(run('stat', ['-c', '%a', join(out, 'site', 'run.sh')]).trim(), '755');
    // A symlink named on the command line is the directory it leads to, under the link's name.
    symlinkSync('site', join(cwd, 'site-link'));
    assertOk(await runCliAsync(['artifact', 'push', `${fixture.registry.host}/paths/dir:link`, 'site-link'], { env, cwd }));
    assertOk(await runCliAsync(['artifact', 'get', `${fixture.registry.host}/paths/dir:link`, '-o', out], { env }));
    run('diff', ['-r', '--no-dereference', site, join(out, 'site-link')]);
    assert.equal(run('stat', ['-c', '%F %a', join(out, 'site-link')]).trim(), `directory ${run('stat', ['-c', '%a', site]).trim()}`);

    // With a created time, mtimes after it are clamped to it: touching the files changes nothing.
    const push = async () => (JSON.parse((await runCliAsync(['artifact', 'push', `${fixture.registry.host}/paths/dir:2`, 'site', '--created', '2001-01-01T00:00:00Z', '--json'], { env, cwd })).stdout) as { digest: string }).digest;
    const first = await push();
    utimesSync(join(site, 'index.html'), new Date(), new Date('2025-05-05T00:00:00Z'));
    assert.equal(await push(), first);
  });

  it('packs a file of two names whole under each, as oras push does: no hard link entry, which oras pull resolves against the link\'s own directory and fails on', async () => {
    const cwd = join(fixture.tmp.path, 'hardlink-project');
    mkdirSync(join(cwd, 'tools', 'bin'), { recursive: true });
    writeFileSync(join(cwd, 'tools', 'bin', 'busybox'), 'multi-call binary\n', { mode: 0o755 });
    linkSync(join(cwd, 'tools', 'bin', 'busybox'), join(cwd, 'tools', 'sh'));
    const ref = `${fixture.registry.host}/paths/hardlink:1`;
    assertOk(await runCliAsync(['artifact', 'push', ref, 'tools'], { env, cwd }));
    const manifest = JSON.parse((await getBytes('/v2/paths/hardlink/manifests/1', ociManifest)).toString()) as { layers: { digest: string }[] };
    const gzFile = join(fixture.tmp.path, 'tools.tar.gz');
    writeFileSync(gzFile, await getBytes(`/v2/paths/hardlink/blobs/${manifest.layers[0]!.digest}`));
    // GNU tar's listing: the type letter, then the size; a hard link would be 'h… 0 … link to …'.
    const listing = run('tar', ['--numeric-owner', '-tvzf', gzFile]).trim().split('\n').map((l) => l.split(/\s+/));
    assert.deepEqual(listing.map((f) => [f[0]!.slice(0, 1), f[2], f[5]]),
      [['d', '0', 'tools/'], ['d', '0', 'tools/bin/'], ['-', '18', 'tools/bin/busybox'], ['-', '18', 'tools/sh']]);
    const out = join(fixture.tmp.path, 'hardlink-back');
    assertOk(await runCliAsync(['artifact', 'get', ref, '-o', out], { env }));
    run('diff', ['-r', join(cwd, 'tools'), join(out, 'tools')]);
  });

  it('killed (SIGKILL) while it uploads the packed directory, leaves nothing in TMPDIR: the spool is unlinked as soon as it is open', async () => {
    const cwd = join(fixture.tmp.path, 'killed-project');
    mkdirSync(join(cwd, 'site'), { recursive: true });
    writeFileSync(join(cwd, 'site', 'index.html'), '<h1>hi</h1>\n');
    const spool = join(fixture.tmp.path, 'killed-tmp');
    mkdirSync(spool);
    let child: ChildProcess | undefined;
    let markExited: () => void = () => {};
    const exited = new Promise<void>((resolve) => { markExited = resolve; });
    // The gzip's upload reaches the registry only once the directory is packed: the moment to kill it.
    const proxy = await startFaultProxy({ target: fixture.registry.url, faults: [{ path: /\/blobs\/uploads\/[0-9a-f-]{8,}/, fault: { kind: 'around', before: async () => { child!.kill('SIGKILL'); await exited; }, after: () => {} } }] });
    try {
      child = spawn(process.execPath, [CLI, 'artifact', 'push', `${proxy.host}/paths/killed:1`, 'site'], { cwd, env: { ...process.env, ...env, TMPDIR: spool }, stdio: 'ignore' });
      child.on('exit', () => markExited());
      await exited;
      assert.equal(child.signalCode, 'SIGKILL', 'killed during the upload, not finished');
      assert.deepEqual(readdirSync(spool), []);
    } finally {
      child?.kill('SIGKILL');
      await proxy.stop();
    }
  });
});
