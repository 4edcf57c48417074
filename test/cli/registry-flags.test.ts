import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';

const PASSWORD = 'flags-Secret-9c2d';

/** No credentials but the ones a test gives. */
const env: NodeJS.ProcessEnv = { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config') };

/**
 * Every command that talks to a registry takes the same registry flags, `-u` is the registry
 * user name in all of them (as in crane, skopeo and docker), and a reference may carry
 * skopeo's `docker://` transport prefix.
 */
describe('registry flags and references, the same in every command', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let base: string;

  before(async () => {
    tmp = await tempDir();
    registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    image = umociImage(tmp.path, 'v1', [0.5 * MiB]);
    base = `${registry.host}/flags/base:1`;
    assertOk(await runCliAsync(['push', `docker://${base}`, '--layout', image.layout, '-u', 'alice', '--password-stdin'], { input: PASSWORD, env }));
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  function rootfs(name: string): string {
    const dir = join(tmp.path, name);
    mkdirSync(join(dir, 'app'), { recursive: true });
    writeFileSync(join(dir, 'app', 'run'), 'hello\n');
    return dir;
  }

  it('build --base from a private registry takes -u and --password-stdin, and docker://', async () => {
    const layout = join(tmp.path, 'built');
    const r = await runCliAsync(['build', rootfs('rootfs'), '--base', `docker://${base}`, '-u', 'alice', '--password-stdin', '--layout', layout, '--user', '1000', '--json'], { input: PASSWORD, env });
    assertOk(r);
    const out = JSON.parse(r.stdout) as { base: { digest: string } };
    assert.equal(out.base.digest, image.manifest.digest);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests.length, 1);
  });

  it('build without credentials is told to use --username, which it takes', async () => {
    const r = await runCliAsync(['build', rootfs('rootfs2'), '--base', base, '--layout', join(tmp.path, 'nocreds')], { env });
    assertOneLineError(r, /--username/);
  });

  it('build -f with a private FROM takes the same flags', async () => {
    const context = rootfs('context');
    writeFileSync(join(context, 'Dockerfile'), `FROM ${base}\nCOPY app /app\n`);
    const r = await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '-u', 'alice', '--password-stdin', '--layout', join(tmp.path, 'df'), '-q'], { input: PASSWORD, env });
    assertOk(r);
  });

  it('-u is the registry user name in build too; the image user is --user', async () => {
    assertOneLineError(await runCliAsync(['build', rootfs('rootfs3'), '-u', '1000', '--layout', join(tmp.path, 'u')], { env }), /-u\/--username is the registry user name .*--user/, 2);
  });

  it('pull and inspect take docker:// and the credentials', async () => {
    const layout = join(tmp.path, 'pulled');
    assertOk(await runCliAsync(['pull', `docker://${base}`, '-u', 'alice', '--password-stdin', '--layout', layout, '-q'], { input: PASSWORD, env }));
    const r = await runCliAsync(['inspect', `docker://${base}`, '-u', 'alice', '--password-stdin', '--json'], { input: PASSWORD, env });
    assertOk(r);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, image.manifest.digest);
  });
});
