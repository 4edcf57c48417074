import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { envWith, skopeoRaw } from './copy-support.js';

/**
 * `--layout oci:DIR`, a layout named as skopeo and oras name one: the directory DIR for every verb
 * (not a directory called `oci:DIR`), and a NAME in it the verb's --tag.
 */
describe('--layout oci:DIR[:NAME]', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  const cli = (args: string[]) => runCli(args, { cwd: tmp.path, env: { ...process.env, ...envWith() } });
  /** The manifest digest skopeo reads for `oci:DIR:NAME`. */
  const ociDigest = (name: string) => run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${join(tmp.path, 'L')}:${name}`]).trim();

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    mkdirSync(join(tmp.path, 'root', 'etc'), { recursive: true });
    writeFileSync(join(tmp.path, 'root', 'etc', 'hello'), 'hello\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('build, push, index create and gc read and write the directory DIR, and NAME is the tag', async () => {
    assertOk(cli(['build', 'root', '--layout', 'oci:L', '-q']));
    assert.ok(!existsSync(join(tmp.path, 'oci:L')), 'no directory named oci:L');
    assert.match(ociDigest('latest'), /^sha256:/);
    writeFileSync(join(tmp.path, 'root', 'etc', 'two'), '2\n');
    assertOk(cli(['build', 'root', '--layout', 'oci:L:v2', '-q']));
    const v2 = ociDigest('v2');
    assert.notEqual(v2, ociDigest('latest'));

    assertOk(cli(['push', `${registry.host}/app:1`, '--layout', 'oci:L:v2', '-q']));
    assert.equal((await skopeoRaw(`${registry.host}/app:1`)).digest, v2);

    assertOk(cli(['index', 'create', '--layout', 'oci:L:idx', 'v2']));
    const index = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${join(tmp.path, 'L')}:idx`])) as { mediaType: string; manifests: { digest: string }[] };
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((m) => m.digest), [v2]);

    assertOk(cli(['gc', '--layout', 'oci:L', '-q']));
    assert.equal(ociDigest('v2'), v2);
  });

  it('a NAME where the verb takes none, or a --tag that says another: one line, nothing written', () => {
    assertOneLineError(cli(['gc', '--layout', 'oci:L:v2']), /^ocipush: --layout oci:L:v2: gc reads the whole layout, not one image: --layout oci:L$/, 2);
    assertOneLineError(cli(['build', 'root', '--layout', 'oci:L:v3', '--tag', 'v4']), /^ocipush: --layout oci:L:v3 and --tag v4: name the image once$/, 2);
    assert.throws(() => ociDigest('v3'));
    assert.throws(() => ociDigest('v4'));
  });

  it('an empty layout (--layout "$UNSET", oci:, a destination "") is one line: the current directory is not made a layout', () => {
    const cwd = join(tmp.path, 'empty-cwd');
    mkdirSync(cwd);
    const here = (args: string[]) => runCli(args, { cwd, env: { ...process.env, ...envWith() } });
    const root = join(tmp.path, 'root');
    assertOneLineError(here(['build', root, '--layout', '']), /^ocipush: --layout "": name a directory \(the current one is --layout \.\)$/, 2);
    assertOneLineError(here(['build', root, '--layout', 'oci:']), /^ocipush: oci:: no directory named after oci: \(the current one is oci:\.\)$/, 2);
    assertOneLineError(here(['build', root, '--layout', 'oci::app']), /^ocipush: oci::app: no directory named after oci:/, 2);
    assertOneLineError(here(['pull', `${registry.host}/app:1`, 'oci:']), /^ocipush: oci:: no directory named after oci:/, 2);
    assert.deepEqual(readdirSync(cwd), []);
    // Where the current directory is a layout, "" still names none of it.
    assertOk(here(['build', root, '--layout', '.', '-q']));
    assertOneLineError(here(['copy', `${registry.host}/app:1`, '']), /^ocipush: invalid image reference "": empty$/, 2);
    const index = JSON.parse(readFileSync(join(cwd, 'index.json'), 'utf8')) as { manifests: unknown[] };
    assert.equal(index.manifests.length, 1);
  });
});

/**
 * OCIPUSH_LAYOUT=oci:DIR, the default of --layout, is the directory DIR where a verb compares
 * with the default or takes it itself (export's "name the layout once", index create, the hint
 * of a missing layout), as where --layout takes it; a NAME in it is one line, nothing written.
 */
describe('OCIPUSH_LAYOUT=oci:DIR', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  const cli = (args: string[], layout: string) => runCli(args, { cwd: tmp.path, env: { ...process.env, ...envWith(), OCIPUSH_LAYOUT: layout } });
  const ociDigest = (dir: string, name: string) => run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${join(tmp.path, dir)}:${name}`]).trim();

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    mkdirSync(join(tmp.path, 'root', 'etc'), { recursive: true });
    writeFileSync(join(tmp.path, 'root', 'etc', 'hello'), 'hello\n');
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('export of oci:OTHER:NAME reads OTHER, index create writes into DIR, a missing DIR gets the hint', () => {
    assertOk(cli(['build', 'root', '--tag', 'app', '-q'], 'oci:L'));
    assertOk(cli(['build', 'root', '--layout', 'other', '--tag', 'img', '-q'], 'oci:L'));
    assertOk(cli(['export', 'oci:other:img', '-o', 'img.tar', '-q'], 'oci:L'));
    assert.ok(existsSync(join(tmp.path, 'img.tar')));

    assertOk(cli(['index', 'create', '--tag', 'idx', 'app'], 'oci:L'));
    const index = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${join(tmp.path, 'L')}:idx`])) as { manifests: { digest: string }[] };
    assert.deepEqual(index.manifests.map((m) => m.digest), [ociDigest('L', 'app')]);

    assertOneLineError(cli(['gc'], 'oci:none'), /^ocipush: \S+\/none: not an OCI image layout \(no such directory\); build an image first \(ocipush build DIR writes it: OCIPUSH_LAYOUT names it\)/);
    assert.ok(!readdirSync(tmp.path).some((name) => name.startsWith('oci:')), 'no directory named after the variable');
  });

  it('a NAME in it: one line naming the variable, nothing written; a typed --layout is not held to it', () => {
    const refused = /^ocipush: OCIPUSH_LAYOUT=oci:N:v1: the variable names a layout, not an image in it: OCIPUSH_LAYOUT=oci:N, and the image with --tag v1$/;
    assertOneLineError(cli(['build', 'root', '-q'], 'oci:N:v1'), refused, 2);
    assertOneLineError(cli(['gc'], 'oci:N:v1'), refused, 2);
    assertOneLineError(cli(['index', 'create', '--tag', 'idx', 'v1'], 'oci:N:v1'), refused, 2);
    assert.equal(existsSync(join(tmp.path, 'N')), false);
    assertOk(cli(['build', 'root', '--layout', 'oci:typed', '-q'], 'oci:N:v1'));
    assert.match(ociDigest('typed', 'latest'), /^sha256:/);
  });
});
