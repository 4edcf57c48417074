import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/tools.js';
import { build, buildahBuild, unpackedTree, writeTree } from '../dockerfile-exec/support.js';

/**
 * `build -f` COPY rules read from BuildKit's file op (tonistiigi/fsutil `copy`), checked on the
 * image as `umoci unpack` lays it out, and against buildah where it copies the same way.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-build-file-copy-');
});
after(async () => {
  await tmp?.cleanup();
});

let counter = 0;
function ours(context: string, args: string[] = []): Record<string, string> {
  const n = ++counter;
  const layout = join(tmp.path, `ours-${n}`);
  build(context, layout, ['--tag', 't', ...args]);
  return unpackedTree(layout, 't', join(tmp.path, `ours-bundle-${n}`));
}

function theirs(context: string): Record<string, string> {
  const n = ++counter;
  const layout = join(tmp.path, `theirs-${n}`);
  buildahBuild(tmp.path, context, layout, `t${n}`);
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
