import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

test('./DIR:NAME and ./DIR@DIGEST, a path to a directory holding a layout, name an image in it, as oras --oci-layout and umoci --image write them (as ./DIR alone is the layout): tag, delete, copy take them; DIR:NAME without a path stays a registry reference', async (t) => {
  requireTool('umoci');
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const cwd = dir.path;
  mkdirSync(join(cwd, 'rootfs'));
  writeFileSync(join(cwd, 'rootfs', 'hello'), 'hello\n');
  const built = await runCliAsync(['build', 'rootfs', '--layout', 'out', '--tag', 'app', '--json'], { cwd });
  assertOk(built);
  const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
  const umociNames = () => run('umoci', ['ls', '--layout', join(cwd, 'out')]).split('\n').filter(Boolean).sort();

  assertOk(await runCliAsync(['tag', './out:app', 'v1'], { cwd }));
  assertOk(await runCliAsync(['tag', `${join(cwd, 'out')}@${digest}`, 'v2'], { cwd }));
  assert.deepEqual(umociNames(), ['app', 'v1', 'v2']);
  assertOk(await runCliAsync(['delete', './out:v2'], { cwd }));
  assert.deepEqual(umociNames(), ['app', 'v1']);
  assertOk(await runCliAsync(['copy', './out:v1', 'oci:copied:v1', '-q'], { cwd }));
  assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${join(cwd, 'copied')}:v1`])).Digest, digest);
  // Without a path, out:v1 is Docker Hub's docker.io/library/out:v1, as before, whatever ./out holds:
  // a bad tag is refused as a registry tag (a layout name would be refused in its own words), before any request.
  assertOneLineError(await runCliAsync(['tag', 'out:v1', 'a b'], { cwd }), /^ocipush: "a b": not a valid tag$/, 2);
  assertOneLineError(await runCliAsync(['tag', './out:v1', 'a b'], { cwd }), /"a b": not a name for an image in a layout/, 2);
});
