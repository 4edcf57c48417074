import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runCli, tempDir } from '../support/tools.js';
import { build, buildahBuild, layerListing, unpackedTree, writeTree, type BuildJson } from '../dockerfile-exec/support.js';

/**
 * `build -f` COPY rules read from BuildKit's file op (tonistiigi/fsutil `copy`), checked on the
 * image as `umoci unpack` lays it out, and against buildah where it copies the same way.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let registry: RunningRegistry | undefined;
before(async () => {
  tmp = await tempDir('ocipush-build-file-copy-');
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

let counter = 0;
function ours(context: string, args: string[] = []): Record<string, string> {
  const n = ++counter;
  const layout = join(tmp.path, `ours-${n}`);
  build(context, layout, ['--tag', 't', ...args]);
  return unpackedTree(layout, 't', join(tmp.path, `ours-bundle-${n}`));
}

function theirs(context: string, args: string[] = []): Record<string, string> {
  const n = ++counter;
  const layout = join(tmp.path, `theirs-${n}`);
  buildahBuild(tmp.path, context, layout, `t${n}`, args);
  return unpackedTree(layout, `t${n}`, join(tmp.path, `theirs-bundle-${n}`));
}

describe('COPY --parents and --exclude: the directories above what is copied', () => {
  it('one already in the stage takes its source\'s mode, as a directory copied whole does (fsutil createParentDirs)', () => {
    const context = join(tmp.path, 'delayed');
    writeTree(context, {
      'app/sub/x.txt': 'x\n',
      'app/sub/y.txt': 'y\n',
      // The stage's directories are made 0700 by an octal --chmod; the context's are 0750.
      Dockerfile: [
        'FROM scratch',
        'COPY --chmod=700 Dockerfile /srv/app/sub/Dockerfile',
        'COPY --parents app/sub/x.txt /srv/',
        'COPY --chmod=700 Dockerfile /out/sub/Dockerfile',
        'COPY --exclude=sub --exclude=!sub/x.txt app /out/',
        '',
      ].join('\n'),
    });
    chmodSync(join(context, 'app', 'sub'), 0o750);
    chmodSync(join(context, 'app'), 0o750);
    const tree = ours(context);
    // app and app/sub are not copied for themselves (the include pattern names app/sub/x.txt;
    // sub is excluded): they are made or updated only when x.txt comes, with the mode of
    // their source, as fsutil's copyDirectoryOnly does for an entry that overwrites.
    assert.equal(tree['/srv/app/'], 'dir 0750 0:0');
    assert.equal(tree['/srv/app/sub/'], 'dir 0750 0:0');
    assert.equal(tree['/srv/app/sub/x.txt'], 'file 0644 0:0 x\n');
    assert.equal(tree['/srv/app/sub/y.txt'], undefined);
    assert.equal(tree['/out/sub/'], 'dir 0750 0:0');
    assert.equal(tree['/out/sub/x.txt'], 'file 0644 0:0 x\n');
    assert.equal(tree['/out/sub/y.txt'], undefined);
    // The destination itself (the top of the copy) keeps its mode; so does /srv, above it.
    assert.equal(tree['/srv/'], 'dir 0700 0:0');
    assert.equal(tree['/out/'], 'dir 0700 0:0');
  });

  it('the same directory copied whole over the stage\'s gets that mode too, for buildah as for ocipush', () => {
    const context = join(tmp.path, 'whole');
    writeTree(context, {
      'app/sub/x.txt': 'x\n',
      // /out/sub is made 0755 first (buildah ignores --chmod on the directories it makes).
      Dockerfile: 'FROM scratch\nCOPY Dockerfile /out/sub/Dockerfile\nCOPY app /out/\n',
    });
    chmodSync(join(context, 'app', 'sub'), 0o750);
    const tree = ours(context);
    assert.deepEqual(tree, theirs(context));
    assert.equal(tree['/out/sub/'], 'dir 0750 0:0');
  });
});

describe('COPY --exclude takes its patterns as written', () => {
  it('a $VAR or a quote in --exclude is part of the pattern (BuildKit never expands ExcludePatterns); a leading # is no comment there', () => {
    const context = join(tmp.path, 'exclude-literal');
    writeTree(context, {
      'a.md': 'a\n',
      'b.txt': 'b\n',
      $PAT: 'named $PAT\n',
      "it's": 'quote\n',
      '#draft#': 'an editor\'s autosave\n',
      Dockerfile: 'FROM scratch\nARG PAT=*.md\nCOPY --exclude=$PAT --exclude="it\'s" --exclude=#*# . /ctx/\n',
    });
    const tree = ours(context);
    assert.deepEqual(Object.keys(tree), ['/ctx/', '/ctx/Dockerfile', '/ctx/a.md', '/ctx/b.txt']);
  });
});

/** `ocipush build DIR` of a rootfs, pushed to a real registry (docker-registry): a base for FROM. */
async function baseInRegistry(name: string, fill: (rootfs: string) => void): Promise<string> {
  registry ??= await startRegistry();
  const rootfs = join(tmp.path, `${name}-rootfs`);
  mkdirSync(rootfs);
  fill(rootfs);
  const layout = join(tmp.path, `${name}-layout`);
  assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'base']).status, 0);
  const ref = `${registry.host}/${name}:1`;
  assert.equal(runCli(['push', ref, '--layout', layout, '--tag', 'base']).status, 0);
  return ref;
}

/** The image build -f makes of `context` (lazily, by default), pushed and pulled, unpacked by umoci; and its JSON. */
function oursOnBase(context: string, name: string): { tree: Record<string, string>; layout: string; built: BuildJson } {
  // The image refers to the base's layers where they live: through the registry to unpack it.
  const layout = join(tmp.path, `${name}-built`);
  const built = build(context, layout, ['--tag', 't']);
  assert.equal(runCli(['push', `${registry!.host}/${name}-built:1`, '--layout', layout, '--tag', 't']).status, 0);
  const pulled = join(tmp.path, `${name}-pulled`);
  assert.equal(runCli(['pull', `${registry!.host}/${name}-built:1`, '--layout', pulled, '--tag', 't']).status, 0);
  return { tree: unpackedTree(pulled, 't', join(tmp.path, `${name}-bundle`)), layout, built };
}

describe('an octal --chmod onto a base image that is not read (lazy)', () => {
  it('leaves the base\'s /etc and other directories as they are: the base is read to know them', async () => {
    // A base with /etc, /etc/nginx/conf.d and /usr/share/nginx/html, all 0755.
    const base = await baseInRegistry('nginxish', (rootfs) => {
      mkdirSync(join(rootfs, 'etc', 'nginx', 'conf.d'), { recursive: true });
      mkdirSync(join(rootfs, 'usr', 'share', 'nginx', 'html'), { recursive: true });
      writeFileSync(join(rootfs, 'etc', 'nginx', 'conf.d', 'default.conf'), 'default\n');
      writeFileSync(join(rootfs, 'usr', 'share', 'nginx', 'html', 'index.html'), 'hi\n');
    });

    const context = join(tmp.path, 'chmod-on-base');
    writeTree(context, {
      'app.conf': 'conf\n',
      Dockerfile: [
        `FROM ${base}`,
        'COPY --chmod=644 app.conf /etc/app.conf',
        'COPY --chmod=600 app.conf /etc/nginx/conf.d/',
        'COPY --chmod=0640 app.conf /usr/share/nginx/html/app.conf',
        '',
      ].join('\n'),
    });
    const { tree } = oursOnBase(context, 'chmod');
    // Taken as new, /etc and the others got the --chmod mode (/etc drw-r--r--: no process but
    // root's could open a file under it). BuildKit makes only the directories that are missing.
    for (const dir of ['/etc/', '/etc/nginx/', '/etc/nginx/conf.d/', '/usr/', '/usr/share/nginx/html/']) assert.equal(tree[dir], 'dir 0755 0:0', dir);
    assert.equal(tree['/etc/app.conf'], 'file 0644 0:0 conf\n');
    assert.equal(tree['/etc/nginx/conf.d/app.conf'], 'file 0600 0:0 conf\n');
    assert.equal(tree['/etc/nginx/conf.d/default.conf'], 'file 0644 0:0 default\n');
    // buildah, which reads the base, gives the same container files.
    assert.deepEqual(tree, theirs(context, ['--tls-verify=false']));
  });
});

describe('COPY into /bin, /lib, … of a base image where they are symlinks (usrmerge)', () => {
  it('writes usr/bin/…, as BuildKit does, never a bin/ of its own that would hide the base\'s /usr/bin', async () => {
    const base = await baseInRegistry('usrmerge', (rootfs) => {
      mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true });
      mkdirSync(join(rootfs, 'usr', 'lib'), { recursive: true });
      writeFileSync(join(rootfs, 'usr', 'bin', 'sh'), 'sh\n');
      symlinkSync('usr/bin', join(rootfs, 'bin'));
      symlinkSync('usr/lib', join(rootfs, 'lib'));
    });
    const context = join(tmp.path, 'usrmerge');
    writeTree(context, {
      hello: 'hello\n',
      Dockerfile: [`FROM ${base}`, 'COPY hello /bin/', 'COPY hello /lib/x/hello2', 'WORKDIR /bin', 'COPY hello ./hello3', ''].join('\n'),
    });
    const { tree, layout, built } = oursOnBase(context, 'usrmerge');
    // Each layer holds the files under usr/: unpacked into a directory of its own (Docker's
    // overlay2), a layer with bin/hello makes /bin a directory holding only hello.
    const listings = built.layers.map((l) => layerListing(layout, l.digest).map((e) => e.split(' ').pop()));
    assert.deepEqual(listings, [
      ['usr/', 'usr/bin/', 'usr/bin/hello'],
      ['usr/', 'usr/lib/', 'usr/lib/x/', 'usr/lib/x/hello2'],
      [],
      ['usr/', 'usr/bin/', 'usr/bin/hello3'],
    ]);
    assert.equal(tree['/bin'], 'link 0:0 -> usr/bin');
    assert.equal(tree['/usr/bin/sh'], 'file 0644 0:0 sh\n');
    assert.equal(tree['/usr/bin/hello3'], 'file 0644 0:0 hello\n');
    assert.deepEqual(tree, theirs(context, ['--tls-verify=false']));

    // A tree holding bin/ copied to /: the copy fails as BuildKit's does (moby/moby#47367:
    // Debian 12, COPY rootfs /), instead of an image whose bin/ directory replaces the link.
    // With --lazy-base it is found only once planned, and the base is read then.
    writeTree(context, { 'rootfs/bin/foo.sh': 'foo\n', Dockerfile: `FROM ${base}\nCOPY rootfs /\n` });
    for (const lazy of [false, true]) {
      const r = runCli(['build', '-f', join(context, 'Dockerfile'), context, '--layout', join(tmp.path, `usrmerge-failed-layout-${lazy}`), '--tag', 't', ...(lazy ? ['--lazy-base'] : [])]);
      assert.equal(r.status, 1);
      const why = lazy ? '/bin is a symlink in most images: COPY rootfs / # buildkit writes /bin' : 'COPY to /: its directories, kept in the layout for later builds';
      assert.match(r.stderr, new RegExp(`^reading the layers of .*usrmerge:1 \\(${why.replace(/[/#]/g, '\\$&')}\\)\n`));
      assert.match(r.stderr, /\nocipush: .*Dockerfile:2:1: COPY rootfs \/: cannot copy to non-directory: \/bin\n$/);
    }
  });
});
