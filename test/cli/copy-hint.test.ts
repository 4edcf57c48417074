import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError } from './registry-support.js';

/** The command a refusal names, split as a shell would (the paths here hold no spaces). */
function namedCopy(stderr: string): string[] {
  const m = / ocipush (copy \S+ \S+)$/.exec(stderr.trimEnd());
  assert.ok(m, `a copy command at the end of: ${stderr}`);
  return m[1]!.split(' ');
}

describe('pull and push given an archive or a layout where a registry goes', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let archive: string;
  let layout: string;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry();
    const root = join(tmp.path, 'rootfs');
    mkdirSync(root);
    writeFileSync(join(root, 'hello.txt'), 'hello\n');
    layout = join(tmp.path, 'layout');
    assertOk(runCli(['build', root, '--layout', layout, '--tag', 'app:1']));
    archive = join(tmp.path, 'app.tar');
    assertOk(runCli(['export', 'app:1', '--layout', layout, '-o', archive]));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pull docker-archive:FILE names the copy that puts it into the layout, instead of asking Docker Hub for docker.io/library/docker-archive', () => {
    const into = join(tmp.path, 'pulled');
    const r = runCli(['pull', `docker-archive:${archive}`, '--layout', into, '--tag', 'app']);
    assertOneLineError(r, /^ocipush: docker-archive:\S+ is a docker archive, not a registry: pull copies from a registry into a layout; copy takes any two: ocipush copy docker-archive:\S+ oci:\S+:app$/, 2);
    assert.equal(existsSync(into), false);
    // The copy named does it: the layout holds the archive's config, byte for byte, under the name.
    assertOk(runCli(namedCopy(r.stderr)));
    const [entry] = JSON.parse(run('tar', ['-xOf', archive, 'manifest.json'])) as { Config: string }[];
    assert.ok(readFileSync(join(into, entry!.Config)).equals(Buffer.from(run('tar', ['-xOf', archive, entry!.Config]), 'latin1')));
    assert.match(readFileSync(join(into, 'index.json'), 'utf8'), /"org\.opencontainers\.image\.ref\.name":"app"/);
  });

  it('pull REF oci-archive:FILE names the copy that writes the archive', () => {
    assertOk(runCli(['push', `${registry.host}/hint/app:1`, '--layout', layout, '--tag', 'app:1']));
    const out = join(tmp.path, 'out.tar');
    const r = runCli(['pull', `${registry.host}/hint/app:1`, `oci-archive:${out}`]);
    assertOneLineError(r, /^ocipush: oci-archive:\S+ is an OCI archive, not a layout: pull copies from a registry into a layout; copy takes any two: ocipush copy 127\.0\.0\.1:\d+\/hint\/app:1 oci-archive:\S+$/, 2);
    assert.equal(existsSync(out), false);
    assertOk(runCli(namedCopy(r.stderr)));
    assert.match(run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci-archive:${out}`]), /^sha256:/);
  });

  it('push of an archive, or into a layout or an archive, names the copy, and nothing is sent', () => {
    const a = runCli(['push', `docker-archive:${archive}`, `${registry.host}/hint/archived:1`]);
    assertOneLineError(a, /^ocipush: docker-archive:\S+ is a docker archive, not a layout: push copies from a layout into a registry; copy takes any two: ocipush copy docker-archive:\S+ 127\.0\.0\.1:\d+\/hint\/archived:1$/, 2);
    assertOk(runCli(namedCopy(a.stderr)));
    assert.match(run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${registry.host}/hint/archived:1`]), /^sha256:/);

    const out = join(tmp.path, 'pushed.tar');
    const b = runCli(['push', `docker-archive:${out}:app:1`, '--layout', layout, '--tag', 'app:1']);
    assertOneLineError(b, /^ocipush: docker-archive:\S+ is a docker archive, not a registry: push copies from a layout into a registry; copy takes any two: ocipush copy oci:\S+:app:1 docker-archive:\S+:app:1$/, 2);
    assert.equal(existsSync(out), false);
    assertOk(runCli(namedCopy(b.stderr)));
    assert.match(run('tar', ['-xOf', out, 'manifest.json']), /"RepoTags":\["app:1"\]/);

    // The layout alone (the registry left out): the line is the push with the registry's place.
    const d = runCli(['push', `oci:${layout}:app:1`]);
    assertOneLineError(d, /^ocipush: oci:\S+:app:1 is a layout, not a registry, and no registry to copy it to is named: ocipush push oci:\S+:app:1 REGISTRY\/REPOSITORY\[:TAG\]$/, 2);
    const named = / ocipush (push \S+) REGISTRY\/REPOSITORY\[:TAG\]$/.exec(d.stderr.trimEnd())![1]!.split(' ');
    assertOk(runCli([...named, `${registry.host}/hint/alone:1`]));
    assert.match(run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${registry.host}/hint/alone:1`]), /^sha256:/);

    const c = runCli(['push', `oci:${layout}:app:1`, `oci:${join(tmp.path, 'other')}`]);
    assertOneLineError(c, /^ocipush: oci:\S+ is a layout, not a registry: push copies from a layout into a registry; copy takes any two: ocipush copy oci:\S+:app:1 oci:\S+other$/, 2);
    assert.equal(existsSync(join(tmp.path, 'other')), false);
  });
});
