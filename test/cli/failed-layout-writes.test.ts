import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/tools.js';
import { snapshotDir } from '../assemble/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
/** A layout whose image names a layer it does not hold (and no registry to fetch it from). */
let broken: string;
let layer: string;

before(async () => {
  tmp = await tempDir();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  broken = join(tmp.path, 'broken');
  assertOk(await runCliAsync(['build', rootfs, '--layout', broken, '--tag', 'app']));
  const index = JSON.parse(readFileSync(join(broken, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(join(broken, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  layer = manifest.layers[0]!.digest;
  rmSync(join(broken, 'blobs', 'sha256', layer.slice(7)));
});
after(async () => {
  await tmp?.cleanup();
});

describe('a copy into a layout that fails leaves no layout it made', () => {
  it('copy and mutate into a new directory: one line naming the missing blob, no directory left', async () => {
    for (const args of [['copy'], ['mutate', '--label', 'a=b']]) {
      const target = join(tmp.path, `new-${args[0]}`);
      const r = await runCliAsync([args[0]!, `oci:${broken}:app`, `oci:${target}:x`, ...args.slice(1), '-q']);
      assertOneLineError(r, new RegExp(`blob ${layer} is missing`));
      assert.equal(existsSync(target), false, `${args[0]} left ${target}`);
    }
  });

  it('copy into an existing empty directory leaves it empty; into a layout, leaves the layout as it was', async () => {
    const empty = join(tmp.path, 'empty');
    mkdirSync(empty);
    assertOneLineError(await runCliAsync(['copy', `oci:${broken}:app`, `oci:${empty}:x`, '-q']), /is missing/);
    assert.deepEqual(snapshotDir(empty), {});
    const before = snapshotDir(broken);
    assertOneLineError(await runCliAsync(['copy', `oci:${broken}:app`, `oci:${broken}:copy`, '-q']), /is missing/);
    assert.deepEqual(snapshotDir(broken), before);
  });
});
