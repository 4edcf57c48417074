import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from './registry-support.js';

// Layouts other tools wrote, read and rewritten by ocipush's verbs, then read back by those tools.

let tmp: { path: string; cleanup: () => Promise<void> };
let built: string;
let digest: string;

const umociNames = (layout: string) => run('umoci', ['ls', '--layout', layout]).split('\n').filter(Boolean).sort();
const skopeoDigest = (ref: string) => (JSON.parse(run('skopeo', ['inspect', ref])) as { Digest: string }).Digest;

before(async () => {
  tmp = await tempDir();
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'hello'), 'hello\n');
  built = join(tmp.path, 'built');
  const r = await runCliAsync(['build', rootfs, '--layout', built, '--tag', 'app', '--json']);
  assertOk(r);
  digest = (JSON.parse(r.stdout) as { digest: string }).digest;
});
after(async () => {
  await tmp?.cleanup();
});

describe('layouts other tools wrote', () => {
  it('a name that is a full reference (skopeo and podman write them) is read as skopeo reads oci:DIR:NAME', async () => {
    const saved = join(tmp.path, 'saved');
    run('skopeo', ['copy', `oci:${built}:app`, `oci:${saved}:example.com/team/app:1`]);
    const inspected = await runCliAsync(['inspect', `oci:${saved}:example.com/team/app:1`, '--json']);
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, digest);

    const copied = join(tmp.path, 'copied');
    assertOk(await runCliAsync(['copy', `oci:${saved}:example.com/team/app:1`, `oci:${copied}:localhost/app:2`]));
    assert.equal(skopeoDigest(`oci:${copied}:localhost/app:2`), digest);
    assertOk(await runCliAsync(['tag', `oci:${copied}:localhost/app:2`, 'localhost/app:latest']));
    assert.deepEqual(umociNames(copied), ['localhost/app:2', 'localhost/app:latest']);
    assertOk(await runCliAsync(['delete', `oci:${copied}:localhost/app:2`]));
    assert.deepEqual(umociNames(copied), ['localhost/app:latest']);
    assert.equal(skopeoDigest(`oci:${copied}:localhost/app:latest`), digest);
  });
});
