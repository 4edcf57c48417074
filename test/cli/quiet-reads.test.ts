import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { startRegistry } from '../support/registry.js';
import { requireTool, run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';
import { skopeoDigest } from './skopeo-support.js';
import { skopeoTags } from '../registry/support.js';

// -q printed nothing for digest, ls, catalog, inspect and referrers (`d=$(ocipush digest -q REF)`
// was empty, status 0) while manifest, config and blob printed their bytes: a reading verb's
// answer is what it was asked for, and -q now silences only the lines about it on stderr.
test('-q on the reading verbs prints their answer, as without it, and nothing on stderr', async (t) => {
  requireTool('skopeo');
  requireTool('umoci');
  const dir = await tempDir();
  const registry = await startRegistry();
  t.after(async () => { await registry.stop(); await dir.cleanup(); });
  const rootfs = join(dir.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  const layout = join(dir.path, 'layout');
  assertOk(await runCliAsync(['build', rootfs, '--layout', layout, '--tag', 'app', '--sbom', '-q']));
  const ref = `${registry.host}/team/app:1`;
  assertOk(await runCliAsync(['push', ref, '--layout', layout, '--tag', 'app', '-q']));

  const answers: Record<string, string[]> = {
    digest: ['digest', ref],
    ls: ['ls', `${registry.host}/team/app`],
    catalog: ['catalog', registry.host],
    inspect: ['inspect', ref],
    referrers: ['referrers', ref],
    'ls oci:': ['ls', `oci:${layout}`],
  };
  const printed: Record<string, string> = {};
  for (const [name, args] of Object.entries(answers)) {
    const loud = await runCliAsync(args);
    assertOk(loud);
    const quiet = await runCliAsync([...args, '-q']);
    assertOk(quiet);
    assert.notEqual(quiet.stdout, '', `${name} -q printed nothing`);
    assert.equal(quiet.stdout, loud.stdout, name);
    assert.equal(quiet.stderr, '', name);
    printed[name] = quiet.stdout;
  }
  assert.equal(printed.digest, `${await skopeoDigest(`docker://${ref}`)}\n`);
  assert.deepEqual(printed.ls!.trimEnd().split('\n').sort(), skopeoTags(`${registry.host}/team/app`));
  assert.deepEqual(printed.catalog!.trimEnd().split('\n'), ['team/app']);
  assert.equal(printed['ls oci:'], run('umoci', ['ls', '--layout', layout]));
  assert.match(printed.referrers!, /^sha256:[0-9a-f]{64} application\/spdx\+json/);
});
