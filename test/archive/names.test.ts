import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBareTag, normaliseRepoTag, parseRepositoryFlag, qualifiedName, repoTagForEntry } from '../../src/archive/names.js';
import { parseImageSelector } from '../../src/archive/select.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { runCli, tempDir } from '../support/tools.js';
import { podman, skopeo } from './support.js';

const entry = (annotations: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 1,
  annotations,
});

describe('export names', () => {
  it('a ref name with a repository is used as it is; a bare tag needs one', () => {
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': 'hello:scratch' })), 'hello:scratch');
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': 'localhost:5000/hello:0.1' })), 'localhost:5000/hello:0.1');
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': 'latest' })), undefined);
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': 'latest' }), 'hello'), 'hello:latest');
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': 'latest' }), 'localhost:5000/team/app'), 'localhost:5000/team/app:latest');
    // docker save ≥ 25 writes the tag alone plus containerd's full name (Docker Hub's, spelt out).
    assert.equal(repoTagForEntry(entry({ 'org.opencontainers.image.ref.name': '1.0', 'io.containerd.image.name': 'docker.io/library/hello:1.0' })), 'docker.io/library/hello:1.0');
    assert.equal(repoTagForEntry(entry({})), undefined);
  });

  it('keeps a name as written, Docker Hub spelt out in the qualified form skopeo and podman save write', () => {
    assert.equal(normaliseRepoTag('hello', 'x'), 'hello:latest');
    assert.equal(normaliseRepoTag('me/app:1', 'x'), 'me/app:1');
    assert.equal(normaliseRepoTag('docker.io/library/hello:1', 'x'), 'docker.io/library/hello:1');
    assert.equal(normaliseRepoTag('docker.io/hello', 'x'), 'docker.io/library/hello:latest');
    assert.equal(normaliseRepoTag('index.docker.io/me/app:1', 'x'), 'docker.io/me/app:1');
    assert.equal(normaliseRepoTag('ghcr.io/me/app:1', 'x'), 'ghcr.io/me/app:1');
    assert.throws(() => normaliseRepoTag(`hello@sha256:${'b'.repeat(64)}`, 'x'), /digest reference cannot be a tag/);
    assert.throws(() => normaliseRepoTag('Hello:1', 'x'), /invalid repository name/);
    assert.equal(qualifiedName('hello:1'), 'docker.io/library/hello:1');
    assert.equal(qualifiedName('localhost:5000/hello:1'), 'localhost:5000/hello:1');
  });

  it('parses IMAGE[=REPO:TAG] and --repository', () => {
    assert.deepEqual(parseImageSelector('scratch'), { source: 'scratch' });
    assert.deepEqual(parseImageSelector('scratch=hello:scratch'), { source: 'scratch', repoTag: 'hello:scratch' });
    assert.deepEqual(parseImageSelector('hello:0.1=localhost:5000/hello:0.1'), { source: 'hello:0.1', repoTag: 'localhost:5000/hello:0.1' });
    assert.throws(() => parseImageSelector('=hello:1'), /the image is missing/);
    assert.throws(() => parseImageSelector('latest='), /the new name is missing/);
    assert.equal(parseRepositoryFlag('localhost:5000/hello'), 'localhost:5000/hello');
    assert.throws(() => parseRepositoryFlag('hello:1'), /without tag/);
    assert.ok(isBareTag('latest') && !isBareTag('hello:1') && !isBareTag('team/app'));
  });
});

describe('archive names, as podman load reads them', () => {
  it('an image named on Docker Hub loads as Docker Hub\'s, from export and from copy; a name without a registry as before', async () => {
    const tmp = await tempDir('ocipush-names-');
    try {
      const rootfs = join(tmp.path, 'rootfs');
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'hello.txt'), 'hello\n');
      const layout = join(tmp.path, 'layout');
      assert.equal(runCli(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']).status, 0);
      const exported = join(tmp.path, 'exported.tar');
      assert.equal(runCli(['export', '--layout', layout, 'app=docker.io/library/hello:1', 'app=docker.io/me/app:2', 'app=hello:3', '-o', exported, '-q']).status, 0);
      const copied = join(tmp.path, 'copied.tar');
      assert.equal(runCli(['copy', '-q', `oci:${layout}:app`, `docker-archive:${copied}:docker.io/library/hello:4`]).status, 0);
      const p = podman(join(tmp.path, 'podman'));
      try {
        p.run(['load', '-i', exported]);
        p.run(['load', '-i', copied]);
        const names = p.run(['images', '--format', '{{.Repository}}:{{.Tag}}']).trim().split('\n').sort();
        assert.deepEqual(names, ['docker.io/library/hello:1', 'docker.io/library/hello:4', 'docker.io/me/app:2', 'localhost/hello:3']);
        // skopeo names the same image of the archive by either form.
        assert.equal(JSON.parse(skopeo(['inspect', `docker-archive:${exported}:hello:1`])).Digest, JSON.parse(skopeo(['inspect', `docker-archive:${exported}:docker.io/library/hello:1`])).Digest);
      } finally {
        p.cleanup();
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
