import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { skopeoDigestAsync } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

const PASSWORD = 'build-push-Secret-7e3a';

/** No credentials but the ones a test gives. */
const env: NodeJS.ProcessEnv = { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: '/nonexistent-docker-config', SOURCE_DATE_EPOCH: '1700000000' };

/**
 * `build --push` into a registry that needs a login, the password given once on standard input
 * (a CI secret piped in): every registry the run talks to with those flags gets it.
 */
describe('build --push -u USER --password-stdin', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let rootfs: string;
  const creds = ['--creds', `alice:${PASSWORD}`];

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    rootfs = join(tmp.path, 'rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'release'), 'pushed twice with one password\n');
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('pushes to every --push reference: the password is read once, not again for the second', async () => {
    const layout = join(tmp.path, 'two-pushes');
    const r = await runCliAsync(['build', rootfs, '--layout', layout, '--owner', '0:0', '-u', 'alice', '--password-stdin',
      '--push', `${registry.host}/one/app:1`, '--push', `${registry.host}/two/app:1`], { input: `${PASSWORD}\n`, env });
    assertOk(r);
    const digest = r.stdout.match(/^digest: +(sha256:[0-9a-f]{64})$/m)?.[1];
    assert.ok(digest, r.stdout);
    assert.equal(await skopeoDigestAsync(`${registry.host}/one/app:1`, creds), digest);
    assert.equal(await skopeoDigestAsync(`${registry.host}/two/app:1`, creds), digest);
    assert.ok(!r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD));
  });

});
