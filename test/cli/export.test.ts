import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, runCli, tempDir } from '../support/tools.js';
import { podman } from '../archive/support.js';

/** What `export` says about the names podman load will give the images it wrote. */
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
let digest: string;

before(async () => {
  tmp = await tempDir('ocipush-cli-export-');
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  layout = join(tmp.path, 'layout');
  assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']).status, 0);
  digest = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;
});
after(() => tmp?.cleanup());

describe('export: an image chosen by digest', () => {
  it('the warning says why it has no name and how to give it one, which podman load then uses', () => {
    const p = podman(join(tmp.path, 'podman'));
    try {
      const unnamed = join(tmp.path, 'unnamed.tar');
      const r = runCli(['export', '--layout', layout, digest, '-o', unnamed]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocipush: warning: image ${digest} has no name in the archive \\(chosen by its digest; ${digest}=REPO:TAG names it\\): docker load will give it none$`, 'm'));
      assert.doesNotMatch(r.stderr, /untagged in the layout/, 'the image is tagged in the layout');
      assert.match(p.run(['load', '-i', unnamed]), /Loaded image: sha256:[a-f0-9]{64}\n/);

      const named = join(tmp.path, 'named.tar');
      assert.equal(runCli(['export', '--layout', layout, `${digest}=localhost:5000/named/app:1`, '-o', named, '-q']).status, 0);
      assert.match(p.run(['load', '-i', named]), /Loaded image: localhost:5000\/named\/app:1\n/);
    } finally {
      p.cleanup();
    }
  });
});

describe('export: a layout name with capitals in its repository', () => {
  it('is refused in one line that gives the lowercase name to write, which podman load then takes', () => {
    const p = podman(join(tmp.path, 'podman-upper'));
    try {
      // (build --tag refuses such a name, as docker build -t does; skopeo writes it, as the spec allows)
      run('skopeo', ['copy', '-q', `oci:${layout}:app`, `oci:${layout}:Hello:V1`]);
      const out = join(tmp.path, 'upper.tar');
      const r = runCli(['export', '--layout', layout, 'Hello:V1', '-o', out]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^ocipush: image name "Hello:V1": .*; docker and podman take lowercase repositories: name it in the archive, Hello:V1=hello:V1\n$/);
      assert.equal(runCli(['export', '--layout', layout, 'Hello:V1=hello:V1', '-o', out, '-q']).status, 0);
      assert.match(p.run(['load', '-i', out]), /Loaded image: localhost\/hello:V1\n/);
    } finally {
      p.cleanup();
    }
  });
});
