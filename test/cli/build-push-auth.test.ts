import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, run, tempDir } from '../support/tools.js';
import { cacheTag } from '../../src/assemble/registry-cache.js';
import { skopeoDigestAsync } from '../registry/support.js';
import { assertOk, runCliAsync } from './registry-support.js';

const PASSWORD = 'build-push-Secret-7e3a';

/** No credentials but the ones a test gives. */
const env: NodeJS.ProcessEnv = { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config'), SOURCE_DATE_EPOCH: '1700000000' };

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

  it('--cache-repo in the registry pushed to: the push writes the layer\'s cache entry with the push\'s login, and the next runner is served from it', async () => {
    const cacheRepo = `${registry.host}/ci/cache`;
    const build = (name: string, extra: string[]) => runCliAsync(['build', rootfs, '--layout', join(tmp.path, name), '--owner', '0:0', '--json',
      '--cache-repo', cacheRepo, '-u', 'alice', '--password-stdin', ...extra], { input: `${PASSWORD}\n`, env });
    const first = await build('runner1', ['--push', `${registry.host}/cached/app:1`]);
    assertOk(first);
    assert.doesNotMatch(first.stderr, /warning/, 'no cache entry refused');
    assert.match(first.stderr, /^wrote 1 layer cache entry$/m);
    const layer = (JSON.parse(first.stdout) as { layers: { digest: string; diffId: string }[] }).layers[0]!;
    const tag = cacheTag(layer.diffId as `sha256:${string}`, { compression: 'gzip' });
    const entry = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', '--raw', ...creds, `docker://${cacheRepo}:${tag}`])) as { layers: { digest: string }[] };
    assert.equal(entry.layers[0]!.digest, layer.digest);

    const second = await build('runner2', []);
    assertOk(second);
    assert.equal((JSON.parse(second.stdout) as { layers: { source: string }[] }).layers[0]!.source, 'registry-cache');
  });
  it('a push the registry refuses (no credentials) says the image is built, where, and the push that sends it; that push sends it', async () => {
    const layout = join(tmp.path, 'refused');
    const to = `${registry.host}/refused/app:1`;
    const r = await runCliAsync(['build', rootfs, '--layout', layout, '--owner', '0:0', '--tag', 'app', '--push', to], { env });
    assert.equal(r.status, 1, r.stderr);
    const line = r.stderr.trimEnd().split('\n').at(-1)!;
    const digest = /\(sha256:[0-9a-f]{64}\)/.exec(line)?.[0].slice(1, -1);
    assert.equal(line, `ocipush: push to ${to}: authentication required by ${registry.host}: no credentials (use --username/--password-stdin, OCIPUSH_USERNAME/OCIPUSH_PASSWORD, or docker login); the image built is in ${layout} as app (${digest}): ocipush push ${to} --layout ${layout} --tag app sends it`);
    // The command the line names, with the login it lacked.
    assertOk(await runCliAsync(['push', to, '--layout', layout, '--tag', 'app', '-u', 'alice', '--password-stdin'], { input: `${PASSWORD}\n`, env }));
    assert.equal(await skopeoDigestAsync(to, creds), digest);
  });
});
