import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { killOnExit } from '../support/exit-cleanup.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, escapeRegExp, missingPath, run, runCli, tempDir } from '../support/tools.js';
import { MiB, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';

describe('what push, pull and export say', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'v1', [2 * MiB]);
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });
  beforeEach(async () => {
    await registry.forgetAccessLog();
  });

  it('pushing an image under a new tag says the manifest was tagged, not that it was already there', async () => {
    assertOk(runCli(['push', `${registry.host}/msg/app:1`, '--layout', image.layout, '--tag', 'v1']));
    const r = runCli(['push', `${registry.host}/msg/app:2`, '--layout', image.layout, '--tag', 'v1']);
    assertOk(r);
    assert.match(r.stderr, new RegExp(`^manifest ${image.manifest.digest.slice(0, 19)} \\(.*\\) tagged 2 \\(the manifest was already there\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /^manifest .* already there$/m);
  });

  it('push, export, index create and gc where nothing was built say to build first or name the layout', async () => {
    const empty = join(tmp.path, 'nothing-built');
    run('mkdir', ['-p', empty]);
    const hint = (layout: string, writes: string) => new RegExp(`^ocipush: ${layout.replace(/[/.]/g, '\\$&')}: not an OCI image layout \\(no such directory\\); build an image first \\(ocipush build DIR ${writes}\\) or name the layout with --layout DIR$`);
    const env = { OCIPUSH_LAYOUT: '' };
    for (const args of [['push', `${registry.host}/msg/none:1`], ['export', 'app:1', '-o', 'x.tar'], ['index', 'create', '--tag', 'i', 'a', 'b'], ['gc']]) {
      assertOneLineError(runCli(args, { cwd: empty, env }), hint(join(empty, 'oci-layout'), 'writes \\./oci-layout'), 1);
    }
    assertOneLineError(runCli(['push', `${registry.host}/msg/none:1`], { cwd: empty, env: { OCIPUSH_LAYOUT: join(empty, 'l') } }), hint(join(empty, 'l'), 'writes it: OCIPUSH_LAYOUT names it'), 1);
    // A layout named on the command line is the user's own: the line stays as it was.
    assertOneLineError(runCli(['push', `${registry.host}/msg/none:1`, '--layout', 'gone'], { cwd: empty, env }), /^ocipush: \S+\/gone: not an OCI image layout \(no such directory\)$/, 1);
    assert.deepEqual(run('ls', ['-A', empty]), '', 'nothing written');
    assert.equal(registry.accessLog().length, 0, 'no request made');
  });

  it('a name without a registry host that cannot reach Docker Hub says it was read as Docker Hub\'s, and how a registry is named', () => {
    // Docker Hub made unreachable the same way everywhere: through a proxy on a closed port.
    const env = { HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: '', NO_PROXY: '', no_proxy: '' };
    const hub = (text: string, full: string, local: string) => new RegExp(`^ocipush: cannot reach proxy 127\\.0\\.0\\.1:9 \\(from HTTPS_PROXY\\): connection refused \\("${text}" is Docker Hub's ${full.replace(/\./g, '\\.')}; a registry of your own is named first: ${local.replace(/\./g, '\\.')}\\)$`);
    assertOneLineError(runCli(['push', 'app', '--layout', image.layout, '--tag', 'v1'], { env }), hub('app', 'docker.io/library/app', 'localhost:5000/app'), 1);
    assertOneLineError(runCli(['pull', 'team/app:1', '--layout', join(tmp.path, 'hub-pull')], { env }), hub('team/app:1', 'docker.io/team/app', 'localhost:5000/team/app:1'), 1);
    assertOneLineError(runCli(['copy', `oci:${image.layout}:v1`, 'app:2'], { env }), hub('app:2', 'docker.io/library/app', 'localhost:5000/app:2'), 1);
    // An image named by an option, or among index create's images, is the same slip.
    const hubBuild = join(tmp.path, 'hub-build');
    assertOneLineError(runCli(['build', '--base', 'team/app:1', '--env', 'A=1', '--layout', hubBuild], { env }), hub('team/app:1', 'docker.io/team/app', 'localhost:5000/team/app:1'), 1);
    assertOneLineError(runCli(['rebase', `oci:${image.layout}:v1`, '--old-base', `oci:${image.layout}:v1`, '--new-base', 'base:2', '--dry-run'], { env }), hub('base:2', 'docker.io/library/base', 'localhost:5000/base:2'), 1);
    assertOneLineError(runCli(['index', 'create', '--tag', `oci:${hubBuild}:i`, `oci:${image.layout}:v1`, 'app:arm64'], { env }), hub('app:arm64', 'docker.io/library/app', 'localhost:5000/app:arm64'), 1);
    assert.equal(run('ls', ['-A', tmp.path]).split('\n').includes('hub-build'), false, 'no layout made');
    // A failure at another registry the command names is that registry's alone.
    assertOneLineError(runCli(['rebase', '127.0.0.1:9/app:1', '--new-base', 'base:2', '--dry-run'], { env }), /^ocipush: cannot reach 127\.0\.0\.1:9: connection refused \(no registry listens there: start one, or check the port\)$/, 1);
    // A registry named without a repository (docker reads localhost:5000 as library/localhost, tag 5000): the line says how to name one in it.
    const host = (text: string) => `ocipush: cannot reach proxy 127.0.0.1:9 (from HTTPS_PROXY): connection refused ("${text}" is read as Docker Hub's docker.io/library/${text}; an image in the registry ${text} is named with its repository: ${text}/REPOSITORY[:TAG])`;
    for (const text of ['localhost:5000', 'registry.example.com:5000', '10.0.0.5', 'localhost']) {
      const r = runCli(['push', text, '--layout', image.layout, '--tag', 'v1'], { env });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `${host(text)}\n`);
    }
    // Docker Hub named in full was meant: the line stays as it was.
    assertOneLineError(runCli(['push', 'docker.io/team/app:1', '--layout', image.layout, '--tag', 'v1'], { env }), /^ocipush: cannot reach proxy 127\.0\.0\.1:9 \(from HTTPS_PROXY\): connection refused$/, 1);
  });

  // `layout:v1` is how umoci names the image v1 of ./layout (umoci stat --image layout:v1); read as
  // Docker Hub's, as docker reads it, the line sent the user to a registry of their own.
  it('DIR:TAG whose DIR holds a layout, as umoci names an image, says which form reads the layout', () => {
    const env = { HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: '', NO_PROXY: '', no_proxy: '' };
    const cwd = join(image.layout, '..');
    assert.match(run('umoci', ['stat', '--image', `layout:${image.tag}`], { cwd }), /LAYER/);
    for (const verb of ['inspect', 'digest', 'config']) {
      assertOneLineError(runCli([verb, `layout:${image.tag}`], { cwd, env }), new RegExp(`^ocipush: cannot reach proxy 127\\.0\\.0\\.1:9 \\(from HTTPS_PROXY\\): connection refused \\("layout:v1" is Docker Hub's docker\\.io/library/layout; the directory \\./layout is an OCI layout: oci:layout:v1 names its image\\)$`), 1);
    }
    const named = runCli(['digest', `oci:layout:${image.tag}`], { cwd, env });
    assertOk(named);
    assert.equal(named.stdout, `${image.manifest.digest}\n`);
  });

  // `inspect hello:0.1` right after `build --tag hello:0.1` (README's quick start): read as Docker
  // Hub's, as docker reads it, the line named only a registry of one's own.
  it('a name the default layout holds, given to a reading verb, names the oci: form of the image built', () => {
    const env = { HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: '', NO_PROXY: '', no_proxy: '', OCIPUSH_LAYOUT: image.layout };
    for (const verb of ['inspect', 'digest', 'config']) {
      assertOneLineError(runCli([verb, image.tag], { env }), new RegExp(`^ocipush: cannot reach proxy 127\\.0\\.0\\.1:9 \\(from HTTPS_PROXY\\): connection refused \\("v1" is Docker Hub's docker\\.io/library/v1; the image built here under that name is ${escapeRegExp(`oci:${image.layout}:v1`)}\\)$`), 1);
    }
    assert.equal(runCli(['digest', `oci:${image.layout}:${image.tag}`], { env }).stdout, `${image.manifest.digest}\n`);
    // A push's reference is where the image goes: the line names a registry of one's own, as before.
    assertOneLineError(runCli(['push', image.tag, '--tag', image.tag], { env }), /\("v1" is Docker Hub's docker\.io\/library\/v1; a registry of your own is named first: localhost:5000\/v1\)$/, 1);
  });

  it('pulling into a layout that holds the image already says it was tagged', async () => {
    const layout = join(tmp.path, 'pulled');
    assertOk(runCli(['pull', `${registry.host}/msg/app:1`, '--layout', layout]));
    const r = runCli(['pull', `${registry.host}/msg/app:2`, '--layout', layout]);
    assertOk(r);
    assert.match(r.stderr, /^manifest sha256:[0-9a-f]{12} \(.*\) tagged 2 \(the manifest was already there\)$/m);
  });

  it('--digest-file in a missing directory fails before anything is sent', async () => {
    const dir = missingPath('digest-dir');
    const r = runCli(['push', `${registry.host}/msg/never:1`, '--layout', image.layout, '--tag', 'v1', '--digest-file', join(dir, 'f')]);
    assertOneLineError(r, new RegExp(`^ocipush: --digest-file ${escapeRegExp(join(dir, 'f'))}: directory ${escapeRegExp(dir)} does not exist$`), 2);
    assert.equal(existsSync(dir), false, 'the directory is not made');
    const log = (await registry.settledAccessLog()).filter((e) => !e.uri.includes('harness-settle'));
    assert.deepEqual(log, [], 'no request reached the registry');
    assertOneLineError(runCli(['push', `${registry.host}/msg/never:1`, '--layout', image.layout, '--digest-file', tmp.path]), /is a directory$/, 2);
  });

  it('pull names the image in the layout as the image-layout spec and skopeo allow: app/web yes, a..b no', async () => {
    const target = join(tmp.path, 'pull-names');
    assertOneLineError(runCli(['pull', `${registry.host}/msg/app:1`, '--layout', target, '--tag', 'a..b']), /^ocipush: --tag "a\.\.b": not a valid name/, 2);
    assertOneLineError(runCli(['pull', `${registry.host}/msg/app:1`, `oci:${target}:x-`]), /^ocipush: --tag "x-": not a valid name/, 2);
    assertOk(runCli(['pull', `${registry.host}/msg/app:1`, '--layout', target, '--tag', 'app/web', '-q']));
    assert.deepEqual(run('umoci', ['ls', '--layout', target]).trim().split('\n'), ['app/web']);
  });

  it('copy and mutate check --digest-file before they copy anything, as push does', async () => {
    const dir = missingPath('digest-dir');
    for (const args of [['copy'], ['mutate', '--label', 'a=b'], ['flatten']]) {
      const r = runCli([args[0]!, `oci:${image.layout}:v1`, `${registry.host}/msg/never-${args[0]}:1`, ...args.slice(1), '--digest-file', join(dir, 'f')]);
      assertOneLineError(r, new RegExp(`^ocipush: --digest-file ${escapeRegExp(join(dir, 'f'))}: directory ${escapeRegExp(dir)} does not exist$`), 2);
    }
    assert.equal(existsSync(dir), false, 'the directory is not made');
    const log = (await registry.settledAccessLog()).filter((e) => !e.uri.includes('harness-settle'));
    assert.deepEqual(log, [], 'no request reached the registry');
  });

  it('--platform names the valid values; --unlisted-platform takes any', async () => {
    assertOneLineError(runCli(['pull', `${registry.host}/msg/app:1`, '--platform', 'linux/amd65', '--layout', join(tmp.path, 'x')]),
      /^ocipush: --platform "linux\/amd65": unknown architecture "amd65"; the OCI image spec's values are 386, amd64, arm, arm64, .* \(--unlisted-platform takes it as it is\)$/, 2);
    assertOneLineError(runCli(['build', tmp.path, '--platform', 'linux/arm/v9']), /unknown variant "v9"; the variants of arm are v5, v6, v7, v8/, 2);
    assertOneLineError(runCli(['inspect', `${registry.host}/msg/app:1`, '--platform', 'linus/amd64']), /unknown os "linus"/, 2);
    const rootfs = join(tmp.path, 'unlisted');
    (await import('node:fs')).mkdirSync(rootfs);
    const r = runCli(['build', rootfs, '--platform', 'linux/amd65', '--unlisted-platform', '--layout', join(tmp.path, 'unlisted-layout'), '--json']);
    assertOk(r);
    // Docker's WebAssembly images: wasi/wasm is taken without --unlisted-platform; skopeo reads the platform back.
    const wasm = join(tmp.path, 'wasm-layout');
    assertOk(runCli(['build', rootfs, '--platform', 'wasi/wasm', '--layout', wasm, '--tag', 'w']));
    const config = JSON.parse(run('skopeo', ['inspect', '--config', '--raw', `oci:${wasm}:w`])) as { os: string; architecture: string };
    assert.deepEqual([config.os, config.architecture], ['wasi', 'wasm']);
  });

  it('a list of platforms where one is taken says so, where a list goes and how a multi-platform image is made; nothing is read or written', async () => {
    const list = /^ocipush: (--)?platform "linux\/amd64,linux\/arm64": one os\/arch\[\/variant\] here; copy and pull take several, comma-separated \(a multi-platform image is built once per platform and combined with ocipush index create\)$/;
    const layout = join(tmp.path, 'list-layout');
    for (const args of [
      ['build', tmp.path, '--layout', layout],
      ['inspect', `${registry.host}/msg/app:1`],
      ['rootfs', `${registry.host}/msg/app:1`, '-o', join(tmp.path, 'fs.tar')],
      ['push', `${registry.host}/msg/list:1`, '--layout', layout],
      ['export', '--layout', layout, '-o', join(tmp.path, 'list.tar')],
      ['sbom', `${registry.host}/msg/app:1`],
      ['validate', `${registry.host}/msg/app:1`],
      ['build', tmp.path, '--layout', layout, '--unlisted-platform'],
    ]) {
      assertOneLineError(runCli([...args, '--platform', 'linux/amd64,linux/arm64']), list, 2);
    }
    assert.equal(registry.accessLog().length, 0, 'nothing was asked of the registry');
    assert.equal(lstatSync(layout, { throwIfNoEntry: false }), undefined, 'no layout was made');
  });

  it('a skopeo transport ocipush does not read is named as such, not taken for a Docker Hub image; nothing is sent', async () => {
    assertOk(runCli(['push', `${registry.host}/msg/app:1`, '--layout', image.layout, '--tag', 'v1', '--quiet']));
    await registry.forgetAccessLog();
    const unsupported = /^ocipush: (\S+): the ([a-z-]+): transport is not supported \(use REGISTRY\/REPO\[:TAG\], docker:\/\/…, oci:DIR, oci-archive:FILE or docker-archive:FILE\)$/;
    // containers-storage:app:1 is also a valid Docker Hub reference (library/containers-storage:app…): skopeo reads the transport.
    for (const [from, to] of [['containers-storage:localhost/app:1', `${registry.host}/msg/copy:1`], [`${registry.host}/msg/app:1`, 'docker-daemon:app:1'], ['dir:/tmp/image', `${registry.host}/msg/copy:1`]] as const) {
      const r = runCli(['copy', from, to]);
      assertOneLineError(r, unsupported, 2);
      assert.equal(unsupported.exec(r.stderr.trimEnd())![2], (from.includes('/msg/') ? to : from).split(':')[0]);
    }
    assertOneLineError(runCli(['inspect', 'containers-storage:app']), unsupported, 2);
    assert.deepEqual(await registry.settledAccessLog(), []);
  });

  it('a reference carrying USER:PASSWORD@ (as a git remote does) is one line saying where they go, the password never shown; nothing is sent', async () => {
    await registry.forgetAccessLog();
    const host = registry.host;
    for (const typed of [`alice:s3cret@${host}/msg/app:1`, `https://alice:s3cret@${host}/msg/app:1`, `docker://alice:s3cret@${host}/msg/app:1`]) {
      const r = runCli(['push', typed, '--layout', image.layout, '--tag', 'v1']);
      assertOneLineError(r, new RegExp(`: a reference holds no user name or password: write ${host.replace(/\./g, '\\.')}/msg/app:1, with -u USER --password-stdin \\(or ocipush login ${host.replace(/\./g, '\\.')} first\\)$`), 2);
      assert.doesNotMatch(r.stderr, /s3cret/);
    }
    assertOneLineError(runCli(['pull', `alice@${host}/msg/app:1`, `oci:${join(tmp.path, 'creds')}`]), /: a reference holds no user name or password: write /, 2);
    assert.deepEqual(await registry.settledAccessLog(), []);
  });

  it('push and pull take a layout as skopeo names it, oci:DIR[:NAME], beside the reference', async () => {
    const pushed = runCli(['push', `oci:${image.layout}:v1`, `docker://${registry.host}/msg/oci:1`, '--json']);
    assertOk(pushed);
    assert.equal((JSON.parse(pushed.stdout) as { digest: string }).digest, image.manifest.digest);
    const target = join(tmp.path, 'oci-pulled');
    assertOk(runCli(['pull', `docker://${registry.host}/msg/oci:1`, `oci:${target}:named`, '-q']));
    const index = JSON.parse((await import('node:fs')).readFileSync(join(target, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.annotations?.['org.opencontainers.image.ref.name']]), [[image.manifest.digest, 'named']]);
    assertOneLineError(runCli(['push', `${registry.host}/msg/a:1`, `${registry.host}/msg/b:1`]), /^ocipush: source ".*": expected a layout as oci:DIR\[:NAME\] \(or a directory holding one\); an image in a registry is copied with: ocipush copy \S+\/msg\/a:1 \S+\/msg\/b:1$/, 2);
    // A directory that holds a layout is one, as crane push DIR REF and copy DIR REF take it.
    const bare = runCli(['push', image.layout, `${registry.host}/msg/bare:1`, '--json']);
    assertOk(bare);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/msg/bare:1`]);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, image.manifest.digest);
    assertOneLineError(runCli(['pull', `${registry.host}/msg/a:1`, `oci:${target}:x`, '--tag', 'y']), /--tag y and oci:.*: name the image once$/, 2);
  });

  it('--digest-file naming a fifo (or /dev/stdout) writes into it, and leaves it a fifo', async () => {
    const fifo = join(tmp.path, 'digest.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    const forget = killOnExit(reader);
    let read = '';
    reader.stdout.on('data', (c: Buffer) => { read += c.toString(); });
    const r = runCli(['push', `${registry.host}/msg/fifo:1`, '--layout', image.layout, '--tag', 'v1', '--digest-file', fifo, '-q']);
    const isFifo = lstatSync(fifo).isFIFO();
    // Renamed over, the fifo never gets a writer: let the reader go.
    if (!isFifo) reader.kill();
    await new Promise((resolve) => reader.on('close', resolve));
    forget();
    assertOk(r);
    assert.ok(isFifo, 'the fifo was replaced by a regular file');
    assert.equal(read, image.manifest.digest);
  });

  it('--digest-file naming a symbolic link writes the file behind it and leaves the link (as /dev/stdout is one)', () => {
    const real = join(tmp.path, 'digest-real.txt');
    writeFileSync(real, 'old');
    const link = join(tmp.path, 'digest-link');
    symlinkSync(real, link);
    assertOk(runCli(['push', `${registry.host}/msg/link:1`, '--layout', image.layout, '--tag', 'v1', '--digest-file', link, '-q']));
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a regular file');
    assert.equal(readFileSync(real, 'utf8'), image.manifest.digest);
    // /dev/stdout is a link to /proc/self/fd/1: with stdout sent to a file, that file gets the digest.
    const stdoutLink = join(tmp.path, 'stdout-link');
    symlinkSync('/proc/self/fd/1', stdoutLink);
    const out = join(tmp.path, 'stdout.txt');
    const fd = openSync(out, 'w');
    const r = spawnSync(process.execPath, [CLI, 'push', `${registry.host}/msg/link:2`, '--layout', image.layout, '--tag', 'v1', '--digest-file', stdoutLink, '-q'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(stdoutLink).isSymbolicLink(), 'the link to /proc/self/fd/1 was replaced by a regular file');
    assert.equal(readFileSync(out, 'utf8'), image.manifest.digest);
  });

  it('export -o - | head: a closed pipe ends quietly (no EPIPE, no stack)', async () => {
    const child = spawn(process.execPath, [CLI, 'export', '--layout', image.layout, '--repository', 'msg', '-o', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const forget = killOnExit(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    // Read the first chunk, then close the pipe as `head -c` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => { forget(); resolve(code); }));
    assert.equal(status, 141, stderr);
    assert.doesNotMatch(stderr, /EPIPE|internal error|at /);
  });
});
