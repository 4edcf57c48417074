import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import tarStream from 'tar-stream';
import { startRegistry, type AccessEntry, type RunningRegistry } from '../support/registry.js';
import { runImage } from '../support/runc.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { blobPath, build, buildCli, layerListing, overlayModes, readImage, unpackedTree, writeTree } from './support.js';

/**
 * Dockerfiles on a base image in a real registry (docker-registry): FROM and COPY --from
 * images, what is read of the base and what is not (the registry's access log says), the base's
 * config feeding the build, the base's tree kept in the layout, and the lazy plan
 * (--lazy-base) against the exact one: what umoci and an overlay runtime make of each.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry;
let baseRef: string;
let baseLayer: string;

function layerGets(log: AccessEntry[]): string[] {
  return log.filter((e) => e.method === 'GET' && e.path.endsWith(`/blobs/${baseLayer}`)).map((e) => e.path);
}

before(async () => {
  tmp = await tempDir('ocipush-df-base-');
  registry = await startRegistry();
  // A base with a shell, users, and directories whose owners and modes matter.
  const rootfs = join(tmp.path, 'base-rootfs');
  for (const dir of ['bin', 'etc', 'tmp', 'home/app', 'usr/local/bin', 'opt/app']) mkdirSync(join(rootfs, dir), { recursive: true });
  copyFileSync(requireTool('busybox'), join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'stat', 'id']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\napp:x:1000:\n');
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  chownSync(join(rootfs, 'home', 'app'), 1000, 1000);
  chmodSync(join(rootfs, 'home', 'app'), 0o750);
  const layout = join(tmp.path, 'base-layout');
  const r = runCli(['build', rootfs, '--layout', layout, '--tag', 'base', '--env', 'PATH=/bin', '--env', 'APP_DIR=/opt/app', '--workdir', '/home/app', '--cmd', '["sh"]', '--json']);
  assert.equal(r.status, 0, r.stderr);
  baseLayer = (JSON.parse(r.stdout) as { layers: { digest: string }[] }).layers[0]!.digest;
  baseRef = `${registry.host}/base:1`;
  assert.equal(runCli(['push', baseRef, '--layout', layout, '--tag', 'base']).status, 0);
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});
beforeEach(async () => {
  await registry.forgetAccessLog();
});

describe('FROM and COPY --from images in a registry', () => {
  it('the base\'s Env and WorkingDir feed the build: $APP_DIR expands, relative destinations start at its WORKDIR', async () => {
    const ctx = join(tmp.path, 'env');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef}\nCOPY f $APP_DIR/\nCOPY f rel.txt\nENV MORE=$APP_DIR/more\n`, f: 'f\n' });
    const layout = join(tmp.path, 'env-layout');
    const built = build(ctx, layout, ['--tag', 't', '--lazy-base']);
    assert.deepEqual(layerGets(await registry.settledAccessLog()), [], 'no base layer read');
    const { config } = readImage(layout, 't');
    assert.deepEqual(config.config, { Env: ['PATH=/bin', 'APP_DIR=/opt/app', 'MORE=/opt/app/more'], Cmd: ['sh'], WorkingDir: '/home/app' });
    assert.deepEqual(built.layers.map((l) => layerListing(layout, l.digest)), [['-rw-r--r-- 0/0 opt/app/f'], ['-rw-r--r-- 0/0 home/app/rel.txt']]);
  });

  it('COPY --from=<image>: its layers are read (verified) to copy files out; the image holds only the copy', async () => {
    const ctx = join(tmp.path, 'from-image');
    writeTree(ctx, { Dockerfile: `FROM scratch\nCOPY --from=${baseRef} /bin/busybox /bin/\nCOPY --from=${baseRef} /etc/passwd /etc/\nENTRYPOINT ["/bin/busybox"]\n` });
    const layout = join(tmp.path, 'from-image-layout');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`reading the layers of ${baseRef.replace(/[.]/g, '\\.')} \\(COPY --from=`));
    assert.equal(layerGets(await registry.settledAccessLog()).length, 1, 'the base layer is read once');
    assert.equal(existsSync(blobPath(layout, baseLayer)), false, 'and not stored');
    const { manifest } = readImage(layout, 't');
    assert.equal(manifest.layers.length, 2);
    const run = runImage(layout, 't', { args: ['/bin/busybox', 'cat', '/etc/passwd'] });
    assert.equal(run.stdout, 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    assert.equal(run.status, 0);
  });

  it('a rebuild takes the layers of COPY --from=<image> (named by the base layer\'s digest) and onto a base from the layer cache', async () => {
    const ctx = join(tmp.path, 'from-image-cached');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef}\nCOPY --from=${baseRef} /etc/passwd /copied/\n` });
    const layout = join(tmp.path, 'from-image-cached-layout');
    const builds = [0, 1].map(() => build(ctx, layout, ['--tag', 't', '--created', '2000000000']));
    assert.deepEqual(builds.map((b) => b.layers.map((l) => l.source)), [['built'], ['local-cache']]);
    assert.equal(builds[1]!.digest, builds[0]!.digest);
  });

  it('COPY --from=<image> takes the image for the build\'s --platform, not the stage\'s FROM --platform, as BuildKit does', async () => {
    const layout = join(tmp.path, 'multi-layout');
    for (const arch of ['amd64', 'arm64']) {
      writeTree(join(tmp.path, `multi-${arch}`), { arch: `${arch}\n` });
      assert.equal(runCli(['build', join(tmp.path, `multi-${arch}`), '--platform', `linux/${arch}`, '--layout', layout, '--tag', arch]).status, 0);
    }
    assert.equal(runCli(['index', 'create', 'amd64', 'arm64', '--tag', 'multi', '--layout', layout]).status, 0);
    const multi = `${registry.host}/multi:1`;
    assert.equal(runCli(['push', multi, '--layout', layout, '--tag', 'multi']).status, 0);
    const ctx = join(tmp.path, 'from-image-platform');
    writeTree(ctx, {
      Dockerfile: `FROM --platform=linux/amd64 ${multi} AS build\nCOPY --from=${multi} /arch /copied-arch\nFROM scratch\nCOPY --from=build /arch /copied-arch /\n`,
    });
    const out = join(tmp.path, 'from-image-platform-layout');
    build(ctx, out, ['--tag', 't', '--platform', 'linux/arm64']);
    const tree = unpackedTree(out, 't', join(tmp.path, 'from-image-platform-bundle'));
    assert.deepEqual([tree['/arch'], tree['/copied-arch']], ['file 0644 0:0 amd64\n', 'file 0644 0:0 arm64\n']);
  });

  it('COPY --from a stage built on an image: the stage\'s files are the base\'s plus its own', async () => {
    const ctx = join(tmp.path, 'from-stage');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef} AS tools\nCOPY f /etc/extra\nFROM scratch\nCOPY --from=tools /etc /etc\n`, f: 'extra\n' });
    const layout = join(tmp.path, 'from-stage-layout');
    build(ctx, layout, ['--tag', 't']);
    assert.equal(layerGets(await registry.settledAccessLog()).length, 1);
    const tree = unpackedTree(layout, 't', join(tmp.path, 'from-stage-bundle'));
    assert.deepEqual(Object.keys(tree), ['/etc/', '/etc/extra', '/etc/group', '/etc/passwd']);
  });

  it('by default the base\'s directories are read once and kept in the layout; with --lazy-base never, and an overlay runtime then loses their modes', async () => {
    const ctx = join(tmp.path, 'lazy');
    writeTree(ctx, {
      Dockerfile: [
        `FROM ${baseRef}`,
        'COPY hello /usr/local/bin',
        'WORKDIR /tmp',
        'COPY notes.txt /home/app/notes.txt',
        'COPY conf /etc/app/',
        'COPY tmpfile /tmp/',
        'WORKDIR /srv/www',
        '',
      ].join('\n'),
      hello: { text: 'hello\n', mode: 0o755 },
      'notes.txt': 'notes\n',
      'conf/app.conf': 'x=1\n',
      tmpfile: 't\n',
    });
    const kept = join(tmp.path, 'kept-layout');
    const first = buildCli(ctx, kept, ['--tag', 't', '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /^reading the layers of .*base:1 \(COPY to \/usr\/local\/bin: its directories, kept in the layout for later builds\)$/m);
    assert.equal(layerGets(await registry.settledAccessLog()).length, 1, 'the base layer is read once');
    assert.equal(existsSync(blobPath(kept, baseLayer)), false, 'and not stored');
    const keptBuilt = JSON.parse(first.stdout) as { digest: string; layers: { digest: string }[] };
    // The next build on that base plans on the kept tree: the same image, nothing read.
    await registry.forgetAccessLog();
    const again = buildCli(ctx, kept, ['--tag', 'u', '--json', '--no-cache']);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /reading the layers/);
    assert.deepEqual(layerGets(await registry.settledAccessLog()), []);
    assert.equal((JSON.parse(again.stdout) as { digest: string }).digest, keptBuilt.digest);
    // A kept tree that cannot be read is no tree: the layers are read again, the image the same.
    const keptDir = join(kept, '.ocipush-cache', 'base-trees');
    const [keptFile] = readdirSync(keptDir);
    writeFileSync(join(keptDir, keptFile!), '{"format":1,"root":');
    const mended = buildCli(ctx, kept, ['--tag', 'v', '--json', '--no-cache']);
    assert.equal(mended.status, 0, mended.stderr);
    assert.match(mended.stderr, /^reading the layers of /m);
    assert.equal((JSON.parse(mended.stdout) as { digest: string }).digest, keptBuilt.digest);
    // Nor is one that still parses but was changed on disk (/home/app 0750 made 0755): not
    // planned on (the image would silently lose app's mode), but read again as a damaged one.
    const entry = join(keptDir, keptFile!);
    const good = readFileSync(entry, 'utf8');
    const damaged = good.replace(/\["app",1,488,1000,1000,/, '["app",1,493,1000,1000,');
    assert.notEqual(damaged, good);
    writeFileSync(entry, damaged);
    await registry.forgetAccessLog();
    const checked = buildCli(ctx, kept, ['--tag', 'w', '--json', '--no-cache']);
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stderr, /^reading the layers of /m);
    assert.equal(layerGets(await registry.settledAccessLog()).length, 1);
    assert.equal((JSON.parse(checked.stdout) as { digest: string }).digest, keptBuilt.digest);
    assert.equal(readFileSync(entry, 'utf8'), good, 'and the entry is written again');

    await registry.forgetAccessLog();
    const lazy = join(tmp.path, 'lazy-layout');
    const lazyBuilt = build(ctx, lazy, ['--tag', 't', '--lazy-base']);
    assert.deepEqual(layerGets(await registry.settledAccessLog()), []);
    await registry.forgetAccessLog();
    const exact = join(tmp.path, 'exact-layout');
    const exactBuilt = build(ctx, exact, ['--tag', 't', '--read-base']);
    assert.equal(layerGets(await registry.settledAccessLog()).length, 1);
    assert.equal(exactBuilt.digest, keptBuilt.digest, 'the kept tree plans as the layers read do');

    // The lazy plan writes no directory it cannot know about.
    assert.deepEqual(lazyBuilt.layers.map((l) => layerListing(lazy, l.digest)), [
      ['-rwxr-xr-x 0/0 usr/local/bin/hello'],
      [],
      ['-rw-r--r-- 0/0 home/app/notes.txt'],
      ['-rw-r--r-- 0/0 etc/app/app.conf'],
      ['-rw-r--r-- 0/0 tmp/tmpfile'],
      [],
    ]);
    // The exact plan writes what BuildKit's layers hold: parents as the base has them, new directories.
    assert.deepEqual(exactBuilt.layers.map((l) => layerListing(exact, l.digest)), [
      ['drwxr-xr-x 0/0 usr/', 'drwxr-xr-x 0/0 usr/local/', 'drwxr-xr-x 0/0 usr/local/bin/', '-rwxr-xr-x 0/0 usr/local/bin/hello'],
      [],
      ['drwxr-xr-x 0/0 home/', 'drwxr-x--- 1000/1000 home/app/', '-rw-r--r-- 0/0 home/app/notes.txt'],
      ['drwxr-xr-x 0/0 etc/', 'drwxr-xr-x 0/0 etc/app/', '-rw-r--r-- 0/0 etc/app/app.conf'],
      ['drwxrwxrwt 0/0 tmp/', '-rw-r--r-- 0/0 tmp/tmpfile'],
      ['drwxr-xr-x 0/0 srv/', 'drwxr-xr-x 0/0 srv/www/'],
    ]);

    // The layouts only reference the base layer: pushed (it is mounted) and pulled whole.
    const pulled = { lazy: join(tmp.path, 'lazy-pulled'), exact: join(tmp.path, 'exact-pulled') };
    for (const [name, layout] of [['lazy', lazy], ['exact', exact]] as const) {
      assert.equal(runCli(['push', `${registry.host}/lazy:${name}`, '--layout', layout, '--tag', 't']).status, 0);
      assert.equal(runCli(['pull', `${registry.host}/lazy:${name}`, '--layout', pulled[name], '--tag', 't']).status, 0);
    }
    // umoci unpacks every layer onto the one tree: the lazy image looks the same there …
    const lazyTree = unpackedTree(pulled.lazy, 't', join(tmp.path, 'lazy-bundle'));
    const exactTree = unpackedTree(pulled.exact, 't', join(tmp.path, 'exact-bundle'));
    const { '/srv/': srv, '/srv/www/': www, ...rest } = exactTree;
    assert.deepEqual([srv, www], ['dir 0755 0:0', 'dir 0755 0:0']);
    assert.deepEqual(lazyTree, rest);
    // … but not where each layer is unpacked apart and stacked (podman's overlay store, as
    // Docker's overlay2): there the lazy layers take /tmp's sticky bit and app's home from it.
    const paths = ['/tmp', '/home/app', '/etc', '/usr/local/bin'];
    assert.deepEqual(overlayModes(join(tmp.path, 'overlay-exact'), pulled.exact, 't', paths), { '/tmp': '1777 0:0', '/home/app': '0750 1000:1000', '/etc': '0755 0:0', '/usr/local/bin': '0755 0:0' });
    assert.deepEqual(overlayModes(join(tmp.path, 'overlay-lazy'), pulled.lazy, 't', paths), { '/tmp': '0755 0:0', '/home/app': '0755 0:0', '/etc': '0755 0:0', '/usr/local/bin': '0755 0:0' });
    // A WORKDIR the lazy plan could not see is made by the runtime when the container starts.
    const run = runImage(pulled.lazy, 't', { args: ['sh', '-c', 'pwd; stat -c "%a %u" /tmp /home/app'] });
    assert.equal(run.stdout, '/srv/www\n1777 0\n750 1000\n');
  });

  it('an ADD archive\'s hard link to a base file: neither the kept tree nor a lazy plan has its bytes, so the layers are read and the plan made again', async () => {
    const ctx = join(tmp.path, 'hardlink');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef}\nADD links.tar /\n` });
    const pack = tarStream.pack();
    pack.entry({ name: 'etc/passwd-link', type: 'link', linkname: 'etc/passwd', mtime: new Date(0) });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    writeFileSync(join(ctx, 'links.tar'), Buffer.concat(chunks));
    const layout = join(tmp.path, 'hardlink-layout');
    const digests = [];
    // --lazy-base too: BuildKit's untar links to the base's file, which the lazy plan cannot see.
    for (const args of [[], ['--no-cache'], ['--no-cache', '--read-base'], ['--no-cache', '--lazy-base']]) {
      const r = buildCli(ctx, layout, ['--tag', 't', '--json', ...args]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^reading the layers of /m);
      digests.push((JSON.parse(r.stdout) as { digest: string }).digest);
    }
    assert.deepEqual(new Set(digests).size, 1);
    const { manifest } = readImage(layout, 't');
    assert.deepEqual(layerListing(layout, manifest.layers[1]!.digest), ['drwxr-xr-x 0/0 etc/', '-rw-r--r-- 0/0 etc/passwd-link']);
  });

  it('--lazy-base: a step that needs the base\'s layout (a --chown name, a COPY writing /bin) plans on a kept tree, and reads nothing', async () => {
    const chown = join(tmp.path, 'lazy-chown');
    writeTree(chown, { Dockerfile: `FROM ${baseRef}\nCOPY --chown=app notes /home/app/\n`, notes: 'n\n' });
    const rootfs = join(tmp.path, 'lazy-rootfs');
    writeTree(rootfs, { Dockerfile: `FROM ${baseRef}\nCOPY rootfs /\n`, 'rootfs/bin/tool': { text: 't\n', mode: 0o755 } });
    const layout = join(tmp.path, 'lazy-kept-layout');
    const digests: string[] = [];
    for (const [ctx, reads] of [[chown, 1], [chown, 0], [rootfs, 0]] as const) {
      await registry.forgetAccessLog();
      const r = buildCli(ctx, layout, ['--tag', 't', '--json', '--no-cache', '--lazy-base']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(layerGets(await registry.settledAccessLog()).length, reads, r.stderr);
      assert.equal(/^reading the layers of /m.test(r.stderr), reads === 1);
      digests.push((JSON.parse(r.stdout) as { digest: string }).digest);
    }
    assert.equal(digests[1], digests[0]);
    // The same image as from the layers, read in a new layout.
    const fresh = build(rootfs, join(tmp.path, 'lazy-rootfs-layout'), ['--tag', 't', '--lazy-base']);
    assert.equal(digests[2], fresh.digest);
    assert.deepEqual(layerListing(layout, readImage(layout, 't').manifest.layers[1]!.digest), ['drwxr-xr-x 0/0 bin/', '-rwxr-xr-x 0/0 bin/tool']);
  });

  it('USER and --chown with names read the base\'s /etc/passwd; WORKDIR and COPY make what is missing for that user', async () => {
    const ctx = join(tmp.path, 'user');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef}\nUSER app\nWORKDIR /home/app/work\nCOPY --chown=app:app . .\n`, 'main.js': 'js\n', 'lib/x.js': 'x\n' });
    const layout = join(tmp.path, 'user-layout');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /reading the layers of .*\(WORKDIR \/home\/app\/work is made for USER app\)/);
    const { manifest } = readImage(layout, 't');
    assert.deepEqual(layerListing(layout, manifest.layers[1]!.digest), ['drwxr-xr-x 0/0 home/', 'drwxr-x--- 1000/1000 home/app/', 'drwxr-xr-x 1000/1000 home/app/work/']);
    assert.deepEqual(layerListing(layout, manifest.layers[2]!.digest), [
      'drwxr-xr-x 0/0 home/', 'drwxr-x--- 1000/1000 home/app/', 'drwxr-xr-x 1000/1000 home/app/work/',
      '-rw-r--r-- 1000/1000 home/app/work/Dockerfile', 'drwxr-xr-x 1000/1000 home/app/work/lib/',
      '-rw-r--r-- 1000/1000 home/app/work/lib/x.js', '-rw-r--r-- 1000/1000 home/app/work/main.js',
    ]);
  });

  it('--format docker: Docker media types, the base layer named as Docker names it', () => {
    const ctx = join(tmp.path, 'docker');
    writeTree(ctx, { Dockerfile: `FROM ${baseRef}\nCOPY f /f\n`, f: 'f' });
    const layout = join(tmp.path, 'docker-layout');
    build(ctx, layout, ['--tag', 't', '--format', 'docker']);
    const { manifest } = readImage(layout, 't');
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), Array(2).fill('application/vnd.docker.image.rootfs.diff.tar.gzip'));
  });

  it('a build on a base stores its layers, not the base\'s manifest and config, which nothing in the layout would reach', () => {
    const baseLayout = join(tmp.path, 'base-layout');
    const ctx = join(tmp.path, 'stray');
    const layout = join(tmp.path, 'stray-layout');
    for (const [i, from] of [`oci:${baseLayout}:base`, baseRef].entries()) {
      writeTree(ctx, { Dockerfile: `FROM ${from}\nCOPY f /f\n`, f: `${i}\n`, 'rootfs/g': `${i}\n` });
      // Two builds -f on each base (the second with a layer of its own), and a build of a directory.
      build(ctx, layout, ['--tag', `df${i}`]);
      writeFileSync(join(ctx, 'f'), `${i} again\n`);
      build(ctx, layout, ['--tag', `df${i}-again`]);
      const r = runCli(['build', join(ctx, 'rootfs'), '--base', from, '--layout', layout, '--tag', `dir${i}`]);
      assert.equal(r.status, 0, r.stderr);
    }
    const gc = runCli(['gc', '--layout', layout, '--prune=now', '--json']);
    assert.equal(gc.status, 0, gc.stderr);
    const report = JSON.parse(gc.stdout) as { removed: { digest: string }[]; kept: number };
    assert.deepEqual(report.removed, [], 'no blob the builds stored is unreached');
    assert.equal(report.kept, readdirSync(join(layout, 'blobs', 'sha256')).length);
    requireTool('umoci');
    const tags = ['df0', 'df0-again', 'df1', 'df1-again', 'dir0', 'dir1'];
    assert.deepEqual(run('umoci', ['ls', '--layout', layout]).trim().split('\n').sort(), tags);
    // Every image's manifest and config read (a registry base's layers live in the registry); a layout base's unpacked.
    for (const tag of tags) run('umoci', ['stat', '--image', `${layout}:${tag}`]);
    for (const tag of ['df0-again', 'dir0']) run('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, join(tmp.path, `stray-${tag}`)]);
  });
});
