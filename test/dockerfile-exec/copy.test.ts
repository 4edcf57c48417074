import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, tempDir } from '../support/tools.js';
import { blobPath, build, buildahBuild, buildCli, layerListing, readImage, unpackedTree, writeTree } from './support.js';

/**
 * COPY and ADD: the files the built image holds, seen through `umoci unpack`. Where buildah
 * (which needs no RUN either) places the same files as BuildKit, the two are compared whole;
 * BuildKit's own rules that buildah does not share are checked against expectations read from
 * BuildKit and fsutil.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-copy-');
});
after(async () => {
  await tmp?.cleanup();
});

let counter = 0;
function ours(context: string, args: string[] = []): { layout: string; tree: Record<string, string> } {
  const n = ++counter;
  const layout = join(tmp.path, `ours-${n}`);
  build(context, layout, ['--tag', 't', ...args]);
  return { layout, tree: unpackedTree(layout, 't', join(tmp.path, `ours-bundle-${n}`)) };
}

function theirs(context: string, args: string[] = []): Record<string, string> {
  const n = ++counter;
  const layout = join(tmp.path, `theirs-${n}`);
  buildahBuild(tmp.path, context, layout, `t${n}`, args);
  return unpackedTree(layout, `t${n}`, join(tmp.path, `theirs-bundle-${n}`));
}

describe('COPY, compared with buildah', () => {
  let context: string;
  before(() => {
    context = join(tmp.path, 'rich');
    writeTree(context, {
      'app/main.py': 'main\n',
      'app/lib/': { dir: true, mode: 0o750 },
      'app/lib/util.py': 'lib\n',
      'app/empty/': '',
      'app/link.py': { link: 'main.py' },
      'run.sh': { text: 'run\n', mode: 0o755 },
      toplink: { link: 'run.sh' },
      'a.txt': 'a\n',
      'b.txt': 'b\n',
      'conf/nginx/nginx.conf': 'nginx\n',
      Dockerfile: [
        'FROM scratch AS build',
        'COPY app /opt/app',
        'COPY app/ /opt/app2/',
        'COPY *.txt /texts/',
        'COPY run.sh /usr/local/bin/',
        'COPY toplink /bin/tl',
        'COPY conf /etc/',
        'WORKDIR /srv',
        'COPY a.txt b.txt ./',
        'COPY a.txt renamed.txt',
        // (into an existing directory: buildah makes a new parent 0755, BuildKit gives it the mode)
        'COPY --chmod=700 run.sh /usr/local/bin/run',
        'COPY --chown=10:20 app /owned',
        'COPY ["a.txt", "/with space/"]',
        'FROM scratch',
        'COPY --from=build /opt /copied/',
        'COPY --from=build /etc/nginx/nginx.conf /nginx.conf',
        'COPY --from=0 /srv /srv',
        '',
      ].join('\n'),
    });
    linkSync(join(context, 'app', 'main.py'), join(context, 'app', 'hard.py'));
  });

  it('files, directories, symlinks, hard links, wildcards, trailing slashes, --chown, --chmod, WORKDIR-relative destinations', () => {
    const built = ours(context, ['--target', 'build']);
    assert.deepEqual(built.tree, theirs(context, ['--target', 'build']));
    // A few of the rules, spelled out.
    assert.equal(built.tree['/opt/app/lib/'], 'dir 0750 0:0');
    assert.equal(built.tree['/opt/app/link.py'], 'link 0:0 -> main.py');
    assert.equal(built.tree['/bin/tl'], 'file 0755 0:0 run\n', 'a symlink named as the source is followed');
    assert.equal(built.tree['/usr/local/bin/run.sh'], 'file 0755 0:0 run\n');
    assert.equal(built.tree['/usr/local/bin/run'], 'file 0700 0:0 run\n');
    assert.equal(built.tree['/owned/lib/util.py'], 'file 0644 10:20 lib\n');
    assert.equal(built.tree['/srv/renamed.txt'], 'file 0644 0:0 a\n');
    assert.equal(built.tree['/etc/nginx/nginx.conf'], 'file 0644 0:0 nginx\n', 'a directory copies its contents');
    // Hard links within one source stay hard links, in the layer too.
    const layers = readImage(built.layout, 't').manifest.layers;
    assert.ok(layerListing(built.layout, layers[0]!.digest).includes('hrw-r--r-- 0/0 opt/app/main.py link to opt/app/hard.py'));
  });

  it('COPY --from a stage: files as the stage holds them', () => {
    assert.deepEqual(ours(context).tree, theirs(context));
  });

  it('wildcards in names with a hyphen (app-*.jar, v[0-9]-?.txt, [\\-a]*), from the context and from a stage', () => {
    const ctx = join(tmp.path, 'hyphen');
    writeTree(ctx, {
      'app-1.jar': '1', 'app-2.jar': '2', 'app.jar': 'no', 'lib-a/x.so': 'x', 'v1-a.txt': 'v', 'v1-ab.txt': 'no', '-dash': 'd', 'zz': 'no',
      Dockerfile: [
        'FROM scratch AS build',
        'COPY app-*.jar /app/',
        'COPY lib-* /lib/',
        // (the Dockerfile's \\ leaves \ for the pattern: an escaped - in a class)
        'COPY v[0-9]-?.txt [\\\\-a]* /v/',
        'FROM scratch',
        'COPY --from=build /app/app-* /v/*-* /out/',
        '',
      ].join('\n'),
    });
    const built = ours(ctx, ['--target', 'build']);
    assert.deepEqual(built.tree, theirs(ctx, ['--target', 'build']));
    assert.deepEqual(Object.keys(built.tree).filter((k) => !k.endsWith('/')), ['/app/app-1.jar', '/app/app-2.jar', '/lib/x.so', '/v/-dash', '/v/app-1.jar', '/v/app-2.jar', '/v/app.jar', '/v/v1-a.txt']);
    assert.deepEqual(ours(ctx).tree, theirs(ctx));
  });

  it('names that are not UTF-8 (Latin-1) are copied under their own bytes, also by a wildcard and from a stage', () => {
    const ctx = join(tmp.path, 'latin1');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY d /d/\n', '.dockerignore': 'd/*.log\n', 'd/': '' });
    const d = (name: string): Buffer => Buffer.concat([Buffer.from(`${ctx}/d/`), Buffer.from(name, 'latin1')]);
    writeFileSync(d('caf\xe9.txt'), 'latin');
    writeFileSync(d('ign\xe9.log'), 'ignored');
    mkdirSync(d('dir\xe9'));
    writeFileSync(Buffer.concat([d('dir\xe9'), Buffer.from('/in')]), 'in');
    symlinkSync(Buffer.from('caf\xe9.txt', 'latin1'), d('link\xe9'));
    const built = ours(ctx);
    assert.deepEqual(built.tree, theirs(ctx));
    assert.equal(built.tree['/d/caf\\xe9.txt'], 'file 0644 0:0 latin');
    assert.equal(built.tree['/d/link\\xe9'], 'link 0:0 -> caf\\xe9.txt');
    assert.equal(built.tree['/d/dir\\xe9/in'], 'file 0644 0:0 in');
    // (buildah's own glob does not match such names; BuildKit's filepath.Match does)
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch AS s\nCOPY d/caf* d/dir* /w/\nFROM scratch\nCOPY --from=s /w /from/\n');
    assert.deepEqual(ours(ctx).tree, { '/from/': 'dir 0755 0:0', '/from/caf\\xe9.txt': 'file 0644 0:0 latin', '/from/in': 'file 0644 0:0 in' });
  });

  it('.dockerignore patterns with a Latin-1 byte match the names with that byte, exactly and by wildcard', () => {
    // patternmatcher compares an exact pattern's bytes; in a regexp one the byte is U+FFFD,
    // which Go's regexp matches against any byte that is not UTF-8.
    const ctx = join(tmp.path, 'latin1-ignore');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY . /ctx/\n', keep: 'k' });
    const at = (name: string): Buffer => Buffer.concat([Buffer.from(`${ctx}/`), Buffer.from(name, 'latin1')]);
    writeFileSync(at('.dockerignore'), Buffer.from('caf\xe9\nna\xefve*\nDockerfile\n.dockerignore\n', 'latin1'));
    for (const name of ['caf\xe9', 'na\xefve1', 'na\xefve2', 'caf\xe8', 'zz\xe8']) writeFileSync(at(name), 'x');
    const built = ours(ctx);
    assert.deepEqual(Object.keys(built.tree), ['/ctx/', '/ctx/caf\\xe8', '/ctx/keep', '/ctx/zz\\xe8']);
    // buildah 1.28's fileutils makes every pattern a regexp, where `caf\xe9` matches caf\xe8 too;
    // BuildKit's patternmatcher compares a pattern without wildcards byte for byte.
    const { '/ctx/caf\\xe8': _kept, ...rest } = built.tree;
    assert.deepEqual(rest, theirs(ctx));
  });

  it('.dockerignore: exceptions, directories, and the Dockerfile itself', () => {
    const ctx = join(tmp.path, 'ignore');
    writeTree(ctx, {
      Dockerfile: 'FROM scratch\nCOPY . /ctx/\n',
      '.dockerignore': '# comment\n**/*.log\n!keep.log\nnode_modules\ndocs/*\n!docs/README.md\n/secret\n',
      'a.log': '', 'keep.log': 'kept', 'src/x.log': '', 'src/main.c': 'c',
      'node_modules/m/index.js': '', 'docs/README.md': 'r', 'docs/other.md': '', secret: 's', 'sub/secret': 'not the root one',
    });
    const built = ours(ctx);
    assert.deepEqual(built.tree, theirs(ctx));
    assert.deepEqual(Object.keys(built.tree), [
      '/ctx/', '/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/docs/', '/ctx/docs/README.md', '/ctx/keep.log', '/ctx/src/', '/ctx/src/main.c', '/ctx/sub/', '/ctx/sub/secret',
    ]);
  });
});

describe('COPY rules of BuildKit', () => {
  it('<Dockerfile>.dockerignore beside the Dockerfile wins over the context\'s .dockerignore', () => {
    const ctx = join(tmp.path, 'ignore2');
    writeTree(ctx, {
      'build/app.Dockerfile': 'FROM scratch\nCOPY . /ctx/\n',
      'build/app.Dockerfile.dockerignore': 'b\nbuild\n',
      '.dockerignore': 'a\n',
      a: 'a', b: 'b',
    });
    const layout = join(tmp.path, 'ignore2-layout');
    build(ctx, layout, ['--tag', 't'], join(ctx, 'build', 'app.Dockerfile'));
    assert.deepEqual(Object.keys(unpackedTree(layout, 't', join(tmp.path, 'ignore2-bundle'))), ['/ctx/', '/ctx/.dockerignore', '/ctx/a']);
  });

  it('several sources to a destination without /: each is copied over the last, with a warning', () => {
    const ctx = join(tmp.path, 'multi');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY one two /dest\nCOPY *.md /doc\n', one: '1', two: '2', 'a.md': 'a', 'b.md': 'b' });
    const layout = join(tmp.path, 'multi-layout');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Dockerfile:2: COPY of several sources to \/dest, which does not end with \/: .* each is copied over the last/);
    const tree = unpackedTree(layout, 't', join(tmp.path, 'multi-bundle'));
    assert.equal(tree['/dest'], 'file 0644 0:0 2');
    assert.equal(tree['/doc'], 'file 0644 0:0 b');
  });

  it('COPY --parents of several sources to a destination without /: the parents are recreated under it, no warning', () => {
    // BuildKit's dispatchCopy copies each --parents source's pivot directory, its contents only,
    // into the destination: nothing is copied over another, whatever the destination's end.
    const ctx = join(tmp.path, 'parents-dest');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY --parents a/b/x.txt a/c/x.txt a/./d/y.txt /dest\n', 'a/b/x.txt': 'x', 'a/c/x.txt': 'x2', 'a/d/y.txt': 'y' });
    const layout = join(tmp.path, 'parents-dest-layout');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /copied over the last/);
    assert.deepEqual(Object.keys(unpackedTree(layout, 't', join(tmp.path, 'parents-dest-bundle'))), [
      '/dest/', '/dest/a/', '/dest/a/b/', '/dest/a/b/x.txt', '/dest/a/c/', '/dest/a/c/x.txt', '/dest/d/', '/dest/d/y.txt',
    ]);
  });

  it('a wildcard that matches nothing copies nothing (an empty layer); --exclude and --parents', () => {
    const ctx = join(tmp.path, 'patterns');
    writeTree(ctx, {
      Dockerfile: [
        'FROM scratch',
        'COPY *.nothing /none/',
        'COPY --exclude=*.tmp --exclude=cache src /src/',
        'COPY --parents a/*/x.txt /p/',
        'COPY --parents a/./b/y.txt /q/',
        '',
      ].join('\n'),
      'src/keep.c': 'k', 'src/drop.tmp': 'd', 'src/cache/c': 'c', 'src/sub/z.tmp': 'z', 'src/sub/w.c': 'w',
      'a/b/x.txt': 'x', 'a/b/y.txt': 'y', 'a/c/x.txt': 'x2',
    });
    const layout = join(tmp.path, 'patterns-layout');
    build(ctx, layout, ['--tag', 't']);
    const { manifest } = readImage(layout, 't');
    assert.deepEqual(layerListing(layout, manifest.layers[0]!.digest), []);
    // --exclude patterns match paths relative to the source: *.tmp stops at the first level.
    assert.deepEqual(Object.keys(unpackedTree(layout, 't', join(tmp.path, 'patterns-bundle'))), [
      '/p/', '/p/a/', '/p/a/b/', '/p/a/b/x.txt', '/p/a/c/', '/p/a/c/x.txt',
      '/q/', '/q/b/', '/q/b/y.txt',
      '/src/', '/src/keep.c', '/src/sub/', '/src/sub/w.c', '/src/sub/z.tmp',
    ]);
  });

  it('under # escape=`, a flag value keeps its backslashes and the backtick escapes, as BuildKit reads flags since dockerfile 1.15', () => {
    const ctx = join(tmp.path, 'escape-flags');
    writeTree(ctx, {
      // a\\b is the pattern that matches the file a\b (not ab); old` notes.txt one word.
      Dockerfile: '# escape=`\nFROM scratch\nCOPY --exclude=a\\\\b --exclude=old` notes.txt . /src/\n',
      'a\\b': 'backslash', ab: 'plain', 'old notes.txt': 'old', 'new notes.txt': 'new',
    });
    const layout = join(tmp.path, 'escape-flags-layout');
    build(ctx, layout, ['--tag', 't']);
    assert.deepEqual(Object.keys(unpackedTree(layout, 't', join(tmp.path, 'escape-flags-bundle'))), ['/src/', '/src/Dockerfile', '/src/ab', '/src/new notes.txt']);
  });

  it('--chmod: symbolic modes apply to each entry\'s own mode; the directories an octal one creates get its permission bits', () => {
    const ctx = join(tmp.path, 'chmod');
    writeTree(ctx, {
      Dockerfile: [
        'FROM scratch',
        'COPY --chmod=go-w f /sym/f',
        'COPY --chmod=a+X d /symdir/',
        'COPY --chmod=u=rw,g=r,o=r x /sym/x',
        'COPY --chmod=0777 f /open/deep/',
        'COPY --chmod=4750 x /suid/x',
        'COPY --chmod=go-w f /plain/f',
        '',
      ].join('\n'),
      f: { text: 'f', mode: 0o666 },
      x: { text: 'x', mode: 0o755 },
      'd/': { dir: true, mode: 0o700 },
      'd/e': { text: 'e', mode: 0o640 },
      'd/s/': { dir: true, mode: 0o600 },
    });
    const layout = join(tmp.path, 'chmod-layout');
    build(ctx, layout, ['--tag', 't']);
    const tree = unpackedTree(layout, 't', join(tmp.path, 'chmod-bundle'));
    assert.deepEqual(tree, {
      '/open/': 'dir 0777 0:0',
      '/open/deep/': 'dir 0777 0:0',
      '/open/deep/f': 'file 0777 0:0 f',
      '/plain/': 'dir 0755 0:0',
      '/plain/f': 'file 0644 0:0 f',
      '/suid/': 'dir 0750 0:0',
      '/suid/x': 'file 4750 0:0 x',
      '/sym/': 'dir 0755 0:0',
      '/sym/f': 'file 0644 0:0 f',
      '/sym/x': 'file 0644 0:0 x',
      '/symdir/': 'dir 0755 0:0',
      '/symdir/e': 'file 0640 0:0 e',
      '/symdir/s/': 'dir 0711 0:0',
    });
  });

  it('--chown with names from the stage\'s /etc/passwd and /etc/group; a name not there is 0 (a group keeps the user\'s), with a warning', () => {
    const ctx = join(tmp.path, 'names');
    writeTree(ctx, {
      Dockerfile: 'FROM scratch\nCOPY passwd group /etc/\nCOPY --chown=app f /a\nCOPY --chown=app:staff f /b\nCOPY --chown=1000 f /c\nCOPY --chown=nobody f /d\nCOPY --chown=app:nogroup f /e\nUSER app\nWORKDIR /home/app/work\nARG GID\nCOPY --chown=1000:$GID f /g\nCOPY --chown=app: f /h\nCOPY --chown=+1000:+50 f /i\nCOPY --chown=3000000000 f /j\nCOPY --chown=app:-1 f /k\n',
      passwd: 'root:x:0:0::/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\n',
      group: 'root:x:0:\nstaff:x:50:\n',
      f: 'f',
    });
    const layout = join(tmp.path, 'names-layout');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Dockerfile:6: COPY --chown=nobody f \/d: user nobody not found .*: using 0:0, as docker build does/);
    // BuildKit's readUser leaves the user's own group when the group name is not found.
    assert.match(r.stderr, /Dockerfile:7: COPY --chown=app:nogroup f \/e: group nogroup not found .*: using 1234:2345, as docker build does/);
    const tree = unpackedTree(layout, 't', join(tmp.path, 'names-bundle'));
    assert.equal(tree['/a'], 'file 0644 1234:2345 f');
    assert.equal(tree['/b'], 'file 0644 1234:50 f');
    assert.equal(tree['/c'], 'file 0644 1000:1000 f', 'a uid alone is also the gid');
    assert.equal(tree['/d'], 'file 0644 0:0 f');
    assert.equal(tree['/e'], 'file 0644 1234:2345 f');
    // An empty part is id 0, as llb marshals an empty name: a ${GID} left unset gives 1000:0.
    assert.equal(tree['/g'], 'file 0644 1000:0 f');
    assert.equal(tree['/h'], 'file 0644 1234:0 f');
    // A part is an id when Go's strconv.ParseInt(s, 10, 32) takes it (llb's parseUID), sent as a
    // uint32: a sign is allowed; 3000000000 is out of range, so a name, not found; -1 is lchown's
    // "unchanged", so the root that created the file.
    assert.equal(tree['/i'], 'file 0644 1000:50 f');
    assert.match(r.stderr, /Dockerfile:14: COPY --chown=3000000000 f \/j: user 3000000000 not found .*: using 0:0, as docker build does/);
    assert.equal(tree['/j'], 'file 0644 0:0 f');
    assert.equal(tree['/k'], 'file 0644 1234:0 f');
    // WORKDIR makes every missing directory for the USER.
    assert.equal(tree['/home/'], 'dir 0755 1234:2345');
    assert.equal(tree['/home/app/work/'], 'dir 0755 1234:2345');
  });

  it('a file onto a directory, and a directory onto a file, fail as in BuildKit', () => {
    const ctx = join(tmp.path, 'clash');
    // e/d is a file; /x/d is a directory by then: fsutil refuses to replace it.
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY d /x/\nCOPY f /x/d\nCOPY e /x/\n', 'd/d/inner': 'i', 'e/d': 'file named d', f: 'f' });
    const r = buildCli(ctx, join(tmp.path, 'clash-layout'));
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'ocipush: Dockerfile:4:1: COPY e /x/: cannot replace to directory /x/d with file\n');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY f /x/f\nCOPY d /x/f/\n');
    const r2 = buildCli(ctx, join(tmp.path, 'clash-layout'));
    assert.equal(r2.status, 1);
    assert.equal(r2.stderr, 'ocipush: Dockerfile:3:1: COPY d /x/f/: mkdir /x/f: not a directory\n');
  });

  it('COPY --link copies onto an empty filesystem: a destination without / is a new path even over a directory', () => {
    const ctx = join(tmp.path, 'link');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY d /usr/local/bin/\nCOPY --link f /usr/local/bin\nCOPY --link d /usr/share/\n', f: 'f', 'd/x': 'x' });
    const built = ours(ctx);
    assert.equal(built.tree['/usr/local/bin'], 'file 0644 0:0 f');
    assert.equal(built.tree['/usr/share/x'], 'file 0644 0:0 x');
    const layers = readImage(built.layout, 't').manifest.layers;
    // The linked layer holds its own parents, as made on the empty filesystem.
    assert.deepEqual(layerListing(built.layout, layers[1]!.digest), ['drwxr-xr-x 0/0 usr/', 'drwxr-xr-x 0/0 usr/local/', '-rw-r--r-- 0/0 usr/local/bin']);
  });

  it('a file onto an existing directory goes inside it, under its own name', () => {
    const ctx = join(tmp.path, 'inside');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY d /x/\nCOPY f /x/d\n', 'd/d/inner': 'i', f: 'f' });
    const tree = ours(ctx).tree;
    assert.equal(tree['/x/d/f'], 'file 0644 0:0 f');
  });
});

describe('ADD of local archives', () => {
  it('unpacks plain, gzip, xz and bzip2 tars into the destination; other files and --unpack=false are copied', () => {
    requireTool('xz');
    requireTool('bzip2');
    const ctx = join(tmp.path, 'add');
    writeTree(ctx, { 'src/dir/one': { text: 'one\n', mode: 0o4755 }, 'src/lnk': { link: 'dir/one' }, 'notar.gz': 'not a tar\n' });
    const tar = (args: string[]) => execFileSync('tar', args, { cwd: ctx });
    tar(['--owner=5', '--group=6', '-C', 'src', '-cf', 'plain.tar', '.']);
    tar(['-C', 'src', '-czf', 'app.tgz', 'dir']);
    tar(['-C', 'src', '-cJf', 'app.txz', 'dir']);
    tar(['-C', 'src', '-cjf', 'app.tbz', 'dir']);
    writeFileSync(join(ctx, 'Dockerfile'), [
      'FROM scratch',
      'ADD plain.tar /p',
      'ADD app.tgz /g/',
      'ADD app.txz app.tbz /x/',
      'ADD notar.gz /n/',
      'ADD --chown=7:8 plain.tar /c',
      'ADD --unpack=false app.tgz /raw/',
      '',
    ].join('\n'));
    const built = ours(ctx);
    assert.deepEqual(built.tree, {
      '/c/': 'dir 0755 7:8', '/c/dir/': 'dir 0755 7:8', '/c/dir/one': 'file 4755 7:8 one\n', '/c/lnk': 'link 7:8 -> dir/one',
      '/g/': 'dir 0755 0:0', '/g/dir/': 'dir 0755 0:0', '/g/dir/one': 'file 4755 0:0 one\n',
      '/n/': 'dir 0755 0:0', '/n/notar.gz': 'file 0644 0:0 not a tar\n',
      '/p/': 'dir 0755 0:0', '/p/dir/': 'dir 0755 5:6', '/p/dir/one': 'file 4755 5:6 one\n', '/p/lnk': 'link 5:6 -> dir/one',
      '/raw/': 'dir 0755 0:0', '/raw/app.tgz': built.tree['/raw/app.tgz']!,
      '/x/': 'dir 0755 0:0', '/x/dir/': 'dir 0755 0:0', '/x/dir/one': 'file 4755 0:0 one\n',
    });
    assert.match(built.tree['/raw/app.tgz']!, /^file 0644 0:0 /);
    assert.deepEqual(readImage(built.layout, 't').config.history.map((h) => h.created_by), [
      'ADD plain.tar /p # buildkit', 'ADD app.tgz /g/ # buildkit', 'ADD app.txz app.tbz /x/ # buildkit',
      'ADD notar.gz /n/ # buildkit', 'ADD --chown=7:8 plain.tar /c # buildkit', 'ADD app.tgz /raw/ # buildkit',
    ]);
  });

  it('names in an archive that are not UTF-8 (Latin-1: ustar, GNU long and pax records) keep their bytes, as buildah unpacks them', () => {
    const ctx = join(tmp.path, 'add-latin1');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD gnu.tar /g/\nADD pax.tar /p/\n', 'src/': '' });
    const src = (name: string): Buffer => Buffer.concat([Buffer.from(`${ctx}/src/`), Buffer.from(name, 'latin1')]);
    writeFileSync(src('caf\xe9.txt'), 'latin');
    writeFileSync(src('\xe9'.repeat(120)), 'long');
    symlinkSync(Buffer.from('caf\xe9.txt', 'latin1'), src('l\xe9'));
    run('tar', ['-C', join(ctx, 'src'), '--format=gnu', '-cf', join(ctx, 'gnu.tar'), '.']);
    // (pax, as Go's archive/tar writes docker's layers: the names in `path` records, as bytes)
    run('tar', ['-C', join(ctx, 'src'), '--format=pax', '-cf', join(ctx, 'pax.tar'), '.']);
    const built = ours(ctx);
    assert.deepEqual(built.tree, theirs(ctx));
    assert.equal(built.tree['/g/caf\\xe9.txt'], 'file 0644 0:0 latin');
    assert.equal(built.tree['/g/l\\xe9'], 'link 0:0 -> caf\\xe9.txt');
    assert.equal(built.tree['/p/caf\\xe9.txt'], 'file 0644 0:0 latin');
    assert.equal(built.tree['/p/l\\xe9'], 'link 0:0 -> caf\\xe9.txt');
  });

  it('an archive\'s owners above the ustar field (pax uid and gid records) are kept, as buildah and BuildKit unpack them', () => {
    const ctx = join(tmp.path, 'add-pax-owner');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD big.tar /p/\n', 'src/d/f': 'f', 'src/small': 's' });
    // GNU tar writes ids above 2097151 (07777777) only as pax records, and the names beside them.
    run('tar', ['-C', join(ctx, 'src'), '--format=pax', '--owner=alice:3000000', '--group=staff:4000000', '-cf', join(ctx, 'big.tar'), 'd']);
    run('tar', ['-C', join(ctx, 'src'), '--format=pax', '--owner=1001', '--group=1002', '-rf', join(ctx, 'big.tar'), 'small']);
    const built = ours(ctx);
    assert.equal(built.tree['/p/d/'], 'dir 0755 3000000:4000000');
    assert.equal(built.tree['/p/d/f'], 'file 0644 3000000:4000000 f');
    assert.equal(built.tree['/p/small'], 'file 0644 1001:1002 s');
    assert.deepEqual(built.tree, theirs(ctx));
  });

  it('fifos and devices in an archive are unpacked, as buildah and BuildKit (go-archive\'s mknod, as root) make them', () => {
    const ctx = join(tmp.path, 'add-special');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD rootfs.tar.gz /\n', 'src/dev/': '', 'src/etc/x': 'x' });
    run('mkfifo', [join(ctx, 'src', 'fifo')]);
    run('mknod', ['-m', '620', join(ctx, 'src', 'dev', 'null'), 'c', '1', '3']);
    run('mknod', ['-m', '640', join(ctx, 'src', 'dev', 'loop0'), 'b', '7', '0']);
    run('tar', ['-C', join(ctx, 'src'), '--owner=5', '--group=6', '-czf', join(ctx, 'rootfs.tar.gz'), '.']);
    // The special files of each image's layers, as tar lists them (reading them from an unpacked tree would block).
    const specials = (layout: string, tag: string): string[] => readImage(layout, tag).manifest.layers.flatMap((l) =>
      run('tar', ['--numeric-owner', '-tvzf', blobPath(layout, l.digest)]).split('\n').filter((line) => /^[pcb]/.test(line)).map((line) => {
        const f = line.split(/\s+/);
        return `${f[0]} ${f[1]} ${f[2]} ${f[5]!.replace(/^\.\//, '')}`;
      }));
    const layout = join(tmp.path, 'add-special-ours');
    build(ctx, layout, ['--tag', 't']);
    assert.deepEqual(specials(layout, 't'), ['brw-r----- 5/6 7,0 dev/loop0', 'crw--w---- 5/6 1,3 dev/null', 'prw-r--r-- 5/6 0 fifo']);
    const theirs = join(tmp.path, 'add-special-buildah');
    buildahBuild(tmp.path, ctx, theirs, 'special');
    assert.deepEqual(specials(theirs, 'special'), specials(layout, 't'));
  });

  it('an archive path that climbs out of the destination is refused', () => {
    const ctx = join(tmp.path, 'evil');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD evil.tar /x/\n', 'in/f': 'f' });
    run('tar', ['-C', join(ctx, 'in'), '-cf', join(ctx, 'evil.tar'), '--transform', 's|^f|../../etc/f|', 'f']);
    const r = buildCli(ctx, join(tmp.path, 'evil-layout'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ocipush: Dockerfile:2:1: ADD evil.tar \/x\/: ADD evil.tar: archive path "..\/..\/etc\/f" is outside extraction root\n$/);
  });

  it('symlinks on an archive path resolve inside the destination; a relative one climbing above it is refused (BuildKit unpack_root.go)', () => {
    const ctx = join(tmp.path, 'climb');
    writeTree(ctx, {
      'app/lib': { link: '../shared' }, 'src/f': 'f', 'src/g': 'g', 'src/sub/': '',
      'src/inner': { link: 'sub' }, 'src/abs': { link: '/etc' }, 'src/up': { link: '../..' },
    });
    const tar = (name: string, ...args: string[]): string => run('tar', ['-C', join(ctx, 'src'), '-cf', join(ctx, name), ...args]);
    tar('inside.tar', 'sub', 'inner', 'abs', 'f', 'g', '--transform', 's|^f$|inner/y|;s|^g$|abs/z|');
    tar('own-link.tar', 'up', 'f', '--transform', 's|^f$|up/evil|');
    tar('stage-link.tar', 'f', '--transform', 's|^f$|lib/x|');
    // Inside: the archive's own links, a relative and an absolute one (the root of the copy, as under a chroot).
    writeTree(ctx, { Dockerfile: 'FROM scratch\nADD inside.tar /x/\n' });
    const layout = join(tmp.path, 'climb-inside');
    const [layer] = readImage(layout, build(ctx, layout, ['--tag', 't']).tag).manifest.layers;
    assert.deepEqual(layerListing(layout, layer!.digest).filter((l) => !l.startsWith('d')).map((l) => l.split(' ').slice(2).join(' ')).sort(),
      ['x/abs -> /etc', 'x/etc/z', 'x/inner -> sub', 'x/sub/y']);
    // Above it: the archive's own `up -> ../..`, or the stage's /opt/app/lib -> ../shared under ADD … /opt/app/.
    for (const [dockerfile, link, target] of [
      ['FROM scratch\nADD own-link.tar /x/\n', 'up', '../..'],
      ['FROM scratch\nCOPY app /opt/app/\nADD stage-link.tar /opt/app/\n', 'lib', '../shared'],
    ] as const) {
      writeTree(ctx, { Dockerfile: dockerfile });
      const out = join(tmp.path, `climb-${link}`);
      const r = buildCli(ctx, out);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: Dockerfile:\\d:1: ADD [^:]+: ADD [a-z-]+\\.tar: archive symlink "${link}" points outside extraction root \\(it leads to "${target.replace(/\./g, '\\.')}"\\), which docker build refuses too\\n$`));
      assert.equal(existsSync(out), false, 'nothing written');
    }
  });
});
