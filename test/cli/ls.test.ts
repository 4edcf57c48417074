import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { requireTool, run, tempDir } from '../support/tools.js';
import { skopeoTags } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

test('ls docker-archive:FILE prints the archive\'s RepoTags, as skopeo list-tags docker-archive: does, and ls oci-archive:FILE its names, as ls oci:DIR does, instead of taking the file for a registry', async (t) => {
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const layout = join(dir.path, 'l');
  assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '-q']));
  const docker = join(dir.path, 'app.tar');
  assertOk(await runCliAsync(['export', `oci:${layout}:app=example/app:1`, `oci:${layout}:app=registry.example/team/app:2`, '-o', docker, '-q']));
  const listed = await runCliAsync(['ls', `docker-archive:${docker}`]);
  assertOk(listed);
  const skopeo = skopeoTags(`docker-archive:${docker}`);
  assert.deepEqual(listed.stdout.trim().split('\n'), skopeo);
  assert.equal(skopeo.length, 2);

  const oci = join(dir.path, 'app-oci.tar');
  run('skopeo', ['copy', '--quiet', `oci:${layout}:app`, `oci-archive:${oci}:v1`]);
  const names = await runCliAsync(['ls', `oci-archive:${oci}`, '--json']);
  assertOk(names);
  assert.deepEqual(JSON.parse(names.stdout), ['v1']);

  assertOneLineError(await runCliAsync(['ls', `docker-archive:${docker}:example/app:1`]), /: name a layout \(oci:DIR\) or archive \(oci-archive:FILE, docker-archive:FILE\), without a name$/, 2);
  assertOneLineError(await runCliAsync(['ls', `oci-archive:${docker}`]), /not an OCI archive \(no oci-layout and index\.json; it is a docker archive: docker-archive:\S+ reads it\)$/);
});
