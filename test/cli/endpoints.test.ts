import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, requireTool } from '../support/tools.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { assertOneLineError } from './registry-support.js';
import { podman } from '../archive/support.js';

/** A destination archive's name is checked as skopeo checks it: before anything is copied. */
let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;
let registry: RunningRegistry;

before(async () => {
  tmp = await tempDir('ocipush-endpoints-');
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
  layout = join(tmp.path, 'layout');
  assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']).status, 0);
  registry = await startRegistry();
  assert.equal(runCli(['push', `${registry.host}/team/app:1`, '--layout', layout, '--tag', 'app', '-q']).status, 0);
});
after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

function skopeoCopy(destination: string): { status: number | null; stderr: string } {
  requireTool('skopeo');
  const r = spawnSync('skopeo', ['copy', '-q', `oci:${layout}:app`, destination], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('copy: the name a destination archive gives the image', () => {
  it('an oci-archive name podman load cannot read is refused before anything is written, as skopeo refuses it', () => {
    const out = join(tmp.path, 'bad-oci');
    mkdirSync(out);
    const refused = skopeoCopy(`oci-archive:${join(out, 'skopeo.tar')}:Bad Name!`);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /Invalid image Bad Name!/);

    const r = runCli(['copy', `oci:${layout}:app`, `oci-archive:${join(out, 'app.tar')}:Bad Name!`]);
    assertOneLineError(r, /^ocipush: oci-archive:.*app\.tar:Bad Name!: "Bad Name!" is not a name for an image in an OCI archive/, 2);
    assert.deepEqual(readdirSync(out), []);
  });

  it('a docker-archive RepoTag that is no image name is refused before any blob is copied', () => {
    const out = join(tmp.path, 'bad-docker');
    mkdirSync(out);
    const r = runCli(['copy', `oci:${layout}:app`, `docker-archive:${join(out, 'app.tar')}:Bad/Name:1`]);
    assertOneLineError(r, /^ocipush: docker-archive:.*app\.tar:Bad\/Name:1: image name "Bad\/Name:1": invalid/, 2);
    assert.deepEqual(readdirSync(out), []);
  });

  it('a name with a registry port is kept, and podman loads both archives under it', () => {
    const p = podman(join(tmp.path, 'podman'));
    try {
      for (const transport of ['oci-archive', 'docker-archive']) {
        const file = join(tmp.path, `${transport}.tar`);
        assert.equal(runCli(['copy', '-q', `oci:${layout}:app`, `${transport}:${file}:localhost:5000/ok/app:1`]).status, 0);
        assert.match(p.run(['load', '-i', file]), /Loaded image: localhost:5000\/ok\/app:1/);
      }
    } finally {
      p.cleanup();
    }
  });

  it('an oci-archive given no name keeps a registry source\'s whole name, which podman load gives the image', () => {
    const p = podman(join(tmp.path, 'podman-names'));
    try {
      const fromRegistry = join(tmp.path, 'from-registry.tar');
      assert.equal(runCli(['copy', '-q', `${registry.host}/team/app:1`, `oci-archive:${fromRegistry}`]).status, 0);
      assert.match(p.run(['load', '-i', fromRegistry]), new RegExp(`Loaded image: ${registry.host}/team/app:1\n`));
      const digest = skopeoDigestOf(`oci-archive:${fromRegistry}:${registry.host}/team/app:1`);
      assert.equal(digest, skopeoDigestOf(`docker://${registry.host}/team/app:1`));

      // An archive image named host/repo:tag keeps that name; a layout's name stays the layout's.
      const docker = join(tmp.path, 'named.tar');
      assert.equal(runCli(['copy', '-q', `oci:${layout}:app`, `docker-archive:${docker}:example.com/team/app:2`]).status, 0);
      const fromArchive = join(tmp.path, 'from-archive.tar');
      assert.equal(runCli(['copy', '-q', `docker-archive:${docker}:example.com/team/app:2`, `oci-archive:${fromArchive}`]).status, 0);
      assert.match(p.run(['load', '-i', fromArchive]), /Loaded image: example\.com\/team\/app:2\n/);
      const fromLayout = join(tmp.path, 'from-layout.tar');
      assert.equal(runCli(['copy', '-q', `oci:${layout}:app`, `oci-archive:${fromLayout}`]).status, 0);
      assert.match(p.run(['load', '-i', fromLayout]), /Loaded image: localhost\/app:latest\n/);
    } finally {
      p.cleanup();
    }
  });
});

function skopeoDigestOf(ref: string): string {
  requireTool('skopeo');
  const r = spawnSync('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', ref], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}
