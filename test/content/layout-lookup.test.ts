import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, assertOneLineError, runCliAsync } from '../cli/registry-support.js';

test('a manifest under an index the layout lists is found by its digest, as in a registry: tag, inspect and push take it; delete refuses it in one line', async (t) => {
  requireTool('skopeo');
  const dir = await tempDir();
  t.after(dir.cleanup);
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const layout = join(dir.path, 'l');
  const children: string[] = [];
  for (const platform of ['linux/amd64', 'linux/arm64']) {
    const rootfs = join(dir.path, platform.replace('/', '-'));
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'arch'), platform);
    const r = await runCliAsync(['build', rootfs, '--layout', layout, '--tag', platform.split('/')[1]!, '--platform', platform, '--json']);
    assertOk(r);
    children.push((JSON.parse(r.stdout) as { digest: string }).digest);
  }
  assertOk(await runCliAsync(['index', 'create', 'amd64', 'arm64', '--layout', layout, '--tag', 'multi']));
  // Only the index keeps a name: its images are reached through it alone.
  assertOk(await runCliAsync(['delete', `oci:${layout}:amd64`]));
  assertOk(await runCliAsync(['delete', `oci:${layout}:arm64`]));
  const [amd64, arm64] = children as [string, string];

  const tagged = await runCliAsync(['tag', `oci:${layout}@${arm64}`, 'arm']);
  assertOk(tagged);
  assert.equal(JSON.parse(run('skopeo', ['inspect', `oci:${layout}:arm`])).Digest, arm64);
  const entry = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; platform?: { architecture: string } }[] }).manifests.find((d) => d.digest === arm64);
  assert.equal(entry?.platform?.architecture, 'arm64', 'the index\'s descriptor, platform included');
  const inspected = await runCliAsync(['inspect', `oci:${layout}@${amd64}`, '--json']);
  assertOk(inspected);
  assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, amd64);
  assertOk(await runCliAsync(['push', `oci:${layout}@${amd64}`, `${registry.host}/lookup/app:amd64`, '-q']));
  assert.equal(JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/lookup/app:amd64`])).Digest, amd64);

  const before = readFileSync(join(layout, 'index.json'));
  assertOneLineError(await runCliAsync(['delete', `oci:${layout}@${amd64}`]), /: a manifest under an index the layout lists, not an entry of index\.json; it leaves with the index \(delete the index's name\)$/, 2);
  const absent = `sha256:${'0'.repeat(64)}`;
  assertOneLineError(await runCliAsync(['tag', `oci:${layout}@${absent}`, 'x']), new RegExp(`: no manifest ${absent} in the layout, listed or under an index it lists \\(the layout has: multi, arm\\)$`));
  assert.deepEqual(readFileSync(join(layout, 'index.json')), before);
});
