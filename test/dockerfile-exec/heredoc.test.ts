import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, tempDir } from '../support/tools.js';
import { blobPath, build, buildCli, readImage, unpackedTree, writeTree } from './support.js';

/**
 * COPY and ADD heredocs built into layers, seen through `umoci unpack` and `tar`. buildah 1.28
 * does not read heredocs (it looks for a context file named `<<EOF`), so the expectations are
 * BuildKit's: dockerfile_heredoc_test.go for contents, modes and owners, and convert_copy.go
 * (`llb.Mkfile(name, 0644, body)` on scratch, then copied like a file) for the rest.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-heredoc-');
});
after(async () => {
  await tmp?.cleanup();
});

let counter = 0;
function context(files: Record<string, string>): string {
  const dir = join(tmp.path, `ctx-${++counter}`);
  writeTree(dir, files);
  return dir;
}

function ours(ctx: string, args: string[] = []): { layout: string; tree: Record<string, string>; digest: string } {
  const n = ++counter;
  const layout = join(tmp.path, `ours-${n}`);
  const r = build(ctx, layout, ['--tag', 't', ...args]);
  return { layout, digest: r.digest, tree: unpackedTree(layout, 't', join(tmp.path, `bundle-${n}`)) };
}

/** `tar -tv --full-time` of each layer: `mode owner date time name`. */
function layerTimes(layout: string): string[][] {
  return readImage(layout, 't').manifest.layers.map((l) =>
    run('tar', ['--numeric-owner', '--full-time', '-tvzf', blobPath(layout, l.digest)]).trim().split('\n').map((line) => {
      const f = line.split(/\s+/);
      return [f[0], f[1], f[3], f[4], f[5]].join(' ');
    }));
}

/** The CLI fails with one line on stderr and status 1. */
function fails(files: Record<string, string>, pattern: RegExp): void {
  const ctx = context(files);
  const r = buildCli(ctx, join(tmp.path, `failed-${counter}`), ['--tag', 't']);
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

const DOCKERFILE = [
  'FROM scratch',
  'ARG name=world',
  // The stage's /etc/passwd and /etc/group, which name the --chown user below.
  'COPY <<passwd <<group /etc/',
  'user:x:1000:1000::/home/user:/bin/sh',
  'passwd',
  'user:x:1000:',
  'group',
  'WORKDIR /dest',
  // testCopyHeredoc
  'COPY <<EOF single',
  'single file',
  'EOF',
  'COPY <<EOF <<EOF2 double/',
  'first file',
  'EOF',
  'second file',
  'EOF2',
  'COPY --chmod=777 <<EOF /permfiles/all',
  'dummy content',
  'EOF',
  'COPY --chmod=0644 <<EOF /permfiles/rw',
  'dummy content',
  'EOF',
  'COPY --chown=user:user <<EOF /permfiles/owned',
  'dummy content',
  'EOF',
  // testHeredocVarSubstitution, testHeredocIndent, mixed with a context file, ADD (never unpacked)
  'COPY <<EOF <<"RAW" ctx.txt /vars/',
  'Hello ${name}!',
  'EOF',
  'Hello ${name}!',
  'RAW',
  'COPY <<-EOF /indent/bar',
  '\tbar',
  '\tEOF',
  'ADD --chown=7:8 <<EOF /added/',
  '# FROM x: a body line',
  'EOF',
  'CMD ["/dest/single"]',
  '',
].join('\n');

describe('COPY and ADD heredocs in the built image', () => {
  let ctx: string;
  before(() => {
    ctx = context({ Dockerfile: DOCKERFILE, 'ctx.txt': 'from the context\n' });
  });

  it('files, contents, modes, owners and directories as BuildKit makes them', () => {
    const { tree, layout } = ours(ctx);
    assert.deepEqual(tree, {
      '/dest/': 'dir 0755 0:0',
      '/dest/double/': 'dir 0755 0:0',
      '/dest/double/EOF': 'file 0644 0:0 first file\n',
      '/dest/double/EOF2': 'file 0644 0:0 second file\n',
      '/dest/single': 'file 0644 0:0 single file\n',
      '/etc/': 'dir 0755 0:0',
      '/etc/group': 'file 0644 0:0 user:x:1000:\n',
      '/etc/passwd': 'file 0644 0:0 user:x:1000:1000::/home/user:/bin/sh\n',
      // Made by the --chmod=777 copy (BuildKit's test made it beforehand with RUN mkdir): the
      // directories a copy creates for its destination take an octal --chmod.
      '/permfiles/': 'dir 0777 0:0',
      '/permfiles/all': 'file 0777 0:0 dummy content\n',
      '/permfiles/owned': 'file 0644 1000:1000 dummy content\n',
      '/permfiles/rw': 'file 0644 0:0 dummy content\n',
      '/vars/': 'dir 0755 0:0',
      '/vars/EOF': 'file 0644 0:0 Hello world!\n',
      '/vars/RAW': 'file 0644 0:0 Hello ${name}!\n',
      '/vars/ctx.txt': 'file 0644 0:0 from the context\n',
      '/indent/': 'dir 0755 0:0',
      '/indent/bar': 'file 0644 0:0 bar\n',
      '/added/': 'dir 0755 7:8',
      '/added/EOF': 'file 0644 7:8 # FROM x: a body line\n',
    });
    const image = readImage(layout, 't');
    const createdBy = image.config.history.map((h) => h.created_by);
    assert.ok(createdBy.includes('COPY <<EOF <<EOF2 double/ # buildkit'), createdBy.join('\n'));
    assert.ok(createdBy.includes('COPY ctx.txt <<EOF <<RAW /vars/ # buildkit'), 'context paths first, then heredocs, as BuildKit writes it');
    assert.ok(createdBy.includes('ADD --chown=7:8 <<EOF /added/ # buildkit'));
    assert.deepEqual(image.config.config.Cmd, ['/dest/single']);
  });

  it('the same Dockerfile gives the same digest; heredoc files are stamped with the clamp time', () => {
    const a = ours(ctx, ['--no-cache']);
    const b = ours(ctx, ['--no-cache']);
    assert.equal(a.digest, b.digest);
    const single = layerTimes(a.layout).flat().find((l) => l.endsWith(' dest/single'));
    assert.equal(single, '-rw-r--r-- 0/0 1970-01-01 00:00:00 dest/single');
    const epoch = ours(ctx, ['--build-arg', 'SOURCE_DATE_EPOCH=1700000000']);
    const stamped = layerTimes(epoch.layout).flat().find((l) => l.endsWith(' dest/single'));
    assert.equal(stamped, '-rw-r--r-- 0/0 2023-11-14 22:13:20 dest/single');
  });

  it('the layer cache keys on the body: a changed body is built again, an unchanged one is a hit', () => {
    const dir = context({ Dockerfile: 'FROM scratch\nCOPY <<EOF /x\none\nEOF\n' });
    const layout = join(tmp.path, 'cached');
    const first = build(dir, layout, ['--tag', 't']);
    assert.deepEqual(build(dir, layout, ['--tag', 't']).layers.map((l) => l.source), ['local-cache']);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY <<EOF /x\ntwo\nEOF\n');
    const changed = build(dir, layout, ['--tag', 't']);
    assert.deepEqual(changed.layers.map((l) => l.source), ['built']);
    assert.notEqual(changed.digest, first.digest);
    assert.equal(unpackedTree(layout, 't', join(tmp.path, 'cached-bundle'))['/x'], 'file 0644 0:0 two\n');
  });

  it('--link (not in created_by, as BuildKit writes it), a base stage\'s ONBUILD COPY <<EOF, a RUN heredoc in a stage not needed', () => {
    const dir = context({
      Dockerfile: 'FROM scratch AS tools\nRUN <<EOF\nmake\nEOF\nFROM scratch AS base\nONBUILD COPY <<EOF /onbuild\ntriggered\nEOF\nFROM base\nCOPY --link <<EOF /linked\nlinked\nEOF\n',
    });
    const { tree, layout } = ours(dir);
    assert.deepEqual(tree, { '/linked': 'file 0644 0:0 linked\n', '/onbuild': 'file 0644 0:0 triggered\n' });
    assert.deepEqual(readImage(layout, 't').config.history.map((h) => h.created_by), ['COPY <<EOF /onbuild # buildkit', 'COPY <<EOF /linked # buildkit']);
  });
});

describe('heredocs that cannot be built: one line, status 1', () => {
  it('an unterminated heredoc names its line', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY <<EOF /x\nbody\n' }, /^ocipush: Dockerfile:2:6: unterminated heredoc <<EOF: no line "EOF" ends it before the end of the file$/);
  });

  it('a RUN heredoc the target needs is refused as every RUN is', () => {
    fails({ Dockerfile: 'FROM scratch\nRUN <<EOF\necho hi\nEOF\nCOPY <<EOF /x\nx\nEOF\n' }, /^ocipush: Dockerfile:2:1: RUN cannot be built without a container runtime/);
  });

  it('a heredoc destination, a name BuildKit cannot write at the root of an empty filesystem', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY x <<EOF\nbody\nEOF\n' }, /^ocipush: Dockerfile:2:1: COPY cannot accept a heredoc as a destination$/);
    fails({ Dockerfile: 'FROM scratch\nCOPY <<a/b /x\nbody\na/b\n' }, /^ocipush: Dockerfile:2:1: .*heredoc <<a\/b: BuildKit cannot write it as a file at \/a\/b of an empty filesystem/);
  });
});
