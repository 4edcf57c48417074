import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/tools.js';
import { runImage } from '../support/runc.js';
import { buildStaticHello, staticBusybox } from './fixtures.js';
import { extract, layoutConfigFor, podman, readManifestJson } from './support.js';

// The chain a user runs: ocipush build (twice, into one layout, sharing the hello layer), then
// ocipush export, then podman load; and the built image runs with runc.
describe('ocipush build → export → podman load', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  let helloRoot: string;

  before(async () => {
    tmp = await tempDir('ocipush-export-chain-');
    const hello = buildStaticHello(join(tmp.path, 'src'));
    helloRoot = join(tmp.path, 'rootfs-hello');
    const shRoot = join(tmp.path, 'rootfs-sh');
    mkdirSync(helloRoot);
    mkdirSync(join(shRoot, 'bin'), { recursive: true });
    copyFileSync(hello, join(helloRoot, 'hello'));
    copyFileSync(staticBusybox(), join(shRoot, 'bin', 'sh'));
    layout = join(tmp.path, 'layout');
    for (const args of [
      [helloRoot, '--entrypoint', '/hello', '--tag', 'scratch'],
      [shRoot, helloRoot, '--entrypoint', '/hello', '--tag', 'alpine'],
      [helloRoot, '--entrypoint', '/hello', '--tag', 'plain', '--compression', 'none'],
    ]) {
      const r = runCli(['build', ...args, '--layout', layout]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(() => tmp.cleanup());

  it('exports the built images into one archive that podman loads', (t) => {
    const out = join(tmp.path, 'hello.tar');
    const r = runCli(['export', '--layout', layout, '--repository', 'hello', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const dir = join(tmp.path, 'extracted');
    const names = extract(out, dir);
    const entries = readManifestJson(dir);
    assert.deepEqual(entries.map((e) => e.RepoTags), [['hello:scratch'], ['hello:alpine'], ['hello:plain']]);
    // scratch's only layer is alpine's top layer: the archive holds it once.
    assert.equal(entries[1]!.Layers[1], entries[0]!.Layers[0]);
    assert.equal(names.filter((n) => n === entries[0]!.Layers[0]).length, 1);

    const p = podman(join(tmp.path, 'podman'));
    t.after(p.cleanup);
    p.run(['load', '-q', '-i', out]);
    const images = p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n').sort();
    assert.deepEqual(images, ['localhost/hello:alpine', 'localhost/hello:plain', 'localhost/hello:scratch']);
    for (const tag of ['scratch', 'alpine', 'plain']) {
      const layers = JSON.parse(p.run(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', `localhost/hello:${tag}`]));
      assert.deepEqual(layers, layoutConfigFor(layout, tag).config.rootfs.diff_ids);
    }
  });

  it('the built image runs with runc and prints hello world', () => {
    const r = runImage(layout, 'scratch');
    assert.equal(r.stdout, 'hello world\n', r.stderr);
    assert.equal(r.status, 0);
  });

  it('build and export chain with no --layout (both default to ./oci-layout)', () => {
    const cwd = join(tmp.path, 'project');
    mkdirSync(cwd);
    const env = { OCIPUSH_LAYOUT: '' };
    assert.equal(runCli(['build', helloRoot, '--entrypoint', '/hello'], { cwd, env }).status, 0);
    const r = runCli(['export', '--repository', 'hello', '-o', 'hello.tar'], { cwd, env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^hello:latest sha256:[0-9a-f]{64} \(1 layer\)$/m);
  });
});
