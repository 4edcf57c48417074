import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { runCli, tempDir } from '../support/tools.js';
import { build, buildahBuild, unpackedTree, writeTree } from '../dockerfile-exec/support.js';

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
  it('a $VAR or a quote in --exclude is part of the pattern (BuildKit never expands ExcludePatterns)', () => {
    const context = join(tmp.path, 'exclude-literal');
    writeTree(context, {
      'a.md': 'a\n',
      'b.txt': 'b\n',
      $PAT: 'named $PAT\n',
      "it's": 'quote\n',
      Dockerfile: 'FROM scratch\nARG PAT=*.md\nCOPY --exclude=$PAT --exclude="it\'s" . /ctx/\n',
    });
    const tree = ours(context);
    assert.deepEqual(Object.keys(tree), ['/ctx/', '/ctx/Dockerfile', '/ctx/a.md', '/ctx/b.txt']);
  });
});

describe('an octal --chmod onto a base image that is not read (lazy)', () => {
  it('leaves the base\'s /etc and other directories as they are: the base is read to know them', async () => {
    registry = await startRegistry();
    // A base with /etc, /etc/nginx/conf.d and /usr/share/nginx/html, all 0755.
    const rootfs = join(tmp.path, 'base-rootfs');
    mkdirSync(join(rootfs, 'etc', 'nginx', 'conf.d'), { recursive: true });
    mkdirSync(join(rootfs, 'usr', 'share', 'nginx', 'html'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'nginx', 'conf.d', 'default.conf'), 'default\n');
    writeFileSync(join(rootfs, 'usr', 'share', 'nginx', 'html', 'index.html'), 'hi\n');
    const layout = join(tmp.path, 'base-layout');
    assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'base']).status, 0);
    const base = `${registry.host}/base:1`;
    assert.equal(runCli(['push', base, '--layout', layout, '--tag', 'base']).status, 0);

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
    // The built image refers to the base's layer where it lives: through the registry to unpack it.
    const built = join(tmp.path, 'chmod-on-base-layout');
    build(context, built, ['--tag', 't']);
    assert.equal(runCli(['push', `${registry.host}/built:1`, '--layout', built, '--tag', 't']).status, 0);
    const pulled = join(tmp.path, 'chmod-on-base-pulled');
    assert.equal(runCli(['pull', `${registry.host}/built:1`, '--layout', pulled, '--tag', 't']).status, 0);
    const tree = unpackedTree(pulled, 't', join(tmp.path, 'chmod-on-base-bundle'));
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
