import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, runCli, tempDir } from '../support/tools.js';
import { podman } from '../archive/support.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

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

describe('export: a registry image or an archive named where the layout\'s image goes', () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry?.stop());

  /** The copy a line names at its end, split as a shell would (the paths here hold no spaces). */
  const namedCopy = (stderr: string): string[] => /ocipush (copy \S+ \S+)(?: writes it)?$/.exec(stderr.trimEnd())![1]!.split(' ');

  it('names the copy that writes it into a docker archive, which podman loads', () => {
    const ref = `${registry.host}/export/app:1`;
    assert.equal(runCli(['push', ref, '--layout', layout, '--tag', 'app', '-q']).status, 0);
    const out = join(tmp.path, 'from-registry.tar');
    const r = runCli(['export', ref, '--layout', layout, '-o', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^ocipush: \\S+: no image tagged "${ref.replace(/[.]/g, '\\.')}" \\(the layout has: [^)]*\\); \\S+ reads as an image in a registry: ocipush copy \\S+ docker-archive:\\S+from-registry\\.tar writes it\\n$`));
    assert.equal(runCli(namedCopy(r.stderr)).status, 0);

    const archive = join(tmp.path, 'from-archive.tar');
    const a = runCli(['export', `docker-archive:${out}=localhost/renamed:2`, '--layout', layout, '-o', archive]);
    assert.equal(a.status, 2, a.stderr);
    assert.match(a.stderr, /^ocipush: docker-archive:\S+ is a docker archive, not an image of the layout: export writes a layout's images; copy takes any two: ocipush copy docker-archive:\S+from-registry\.tar docker-archive:\S+from-archive\.tar:localhost\/renamed:2\n$/);
    assert.equal(runCli(namedCopy(a.stderr)).status, 0);
    const p = podman(join(tmp.path, 'podman-copies'));
    try {
      assert.match(p.run(['load', '-i', out]), new RegExp(`Loaded image: ${ref.replace(/[.]/g, '\\.')}\\n`));
      assert.match(p.run(['load', '-i', archive]), /Loaded image: localhost\/renamed:2\n/);
    } finally {
      p.cleanup();
    }
  });
});
