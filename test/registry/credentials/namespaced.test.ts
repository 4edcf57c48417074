import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { dockerConfigCredentials } from '../../../src/registry/credentials/docker-config.js';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../../support/token-issuer.js';
import { requireTool, tempDir } from '../../support/tools.js';
import { MiB, umociImage, type UmociImage } from '../support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../../cli/registry-support.js';

const PASSWORD = 'ns-Secret-41c9';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * podman login quay.io/team-a and podman login quay.io/team-b leave two namespace-scoped entries
 * in one auth.json, each for its own robot account: containers/image (skopeo, podman, buildah)
 * uses the one whose namespace holds the repository, the longest first, and neither for the rest
 * of the registry.
 */
describe('namespace-scoped auths entries', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  let image: UmociImage;
  let authFile: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [0.1 * MiB]);
    const only = (prefix: string) => (name: string) => (name.startsWith(prefix) ? ['pull', 'push'] : []);
    issuer = await startTokenIssuer({ users: {
      alice: { password: PASSWORD, access: only('team-a/') },
      bob: { password: PASSWORD, access: only('team-b/') },
      carol: { password: PASSWORD, access: only('team-b/special/') },
    } });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    const host = registry.host;
    authFile = join(tmp.path, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: {
      [`${host}/team-a`]: { auth: b64(`alice:${PASSWORD}`) },
      [`${host}/team-b`]: { auth: b64(`bob:${PASSWORD}`) },
      [`${host}/team-b/special`]: { auth: b64(`carol:${PASSWORD}`) },
    } }));
    const home = join(tmp.path, 'home');
    mkdirSync(home);
    env = {
      OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined,
      HOME: home, DOCKER_CONFIG: join(tmp.path, 'no-docker-config'), XDG_RUNTIME_DIR: join(tmp.path, 'run'), XDG_CONFIG_HOME: undefined,
      REGISTRY_AUTH_FILE: authFile,
    };
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  const skopeoInspect = (reference: string) =>
    promisify(execFile)('skopeo', ['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, `docker://${reference}`], { encoding: 'utf8', env: { ...process.env, ...env } as NodeJS.ProcessEnv });

  it('each repository is pushed with the entry of its namespace, as skopeo reads them', async () => {
    const host = registry.host;
    for (const repository of ['team-a/app', 'team-b/app', 'team-b/special/app']) {
      assertOk(await runCliAsync(['push', `${host}/${repository}:1`, '--layout', image.layout], { env }));
      await skopeoInspect(`${host}/${repository}:1`);
    }
    const users = issuer.requests().filter((r) => r.status === 200 && r.user).map((r) => `${r.user} ${r.scopes.join(' ')}`);
    assert.ok(users.includes(`alice repository:team-a/app:pull,push`), users.join('\n'));
    assert.ok(users.includes(`bob repository:team-b/app:pull,push`), users.join('\n'));
    assert.ok(users.includes(`carol repository:team-b/special/app:pull,push`), users.join('\n'));
    assert.ok(!users.some((u) => u.startsWith('alice') && u.includes('team-b')), 'team-a\'s login is never used for team-b');
    // A namespace-scoped entry is not the registry's: another namespace has no credentials.
    assertOneLineError(await runCliAsync(['push', `${host}/team-c/app:1`, '--layout', image.layout], { env }), /no credentials/, 1);
    // One copy between the namespaces: each side with its own entry.
    assertOk(await runCliAsync(['copy', `${host}/team-a/app:1`, `${host}/team-b/app:2`], { env }));
    await skopeoInspect(`${host}/team-b/app:2`);
  });

  it('the library source answers per repository; the registry key and URL keys answer for the rest', async () => {
    const source = dockerConfigCredentials({ env: { HOME: env.HOME }, configDir: (() => {
      const dir = join(tmp.path, 'docker');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: {
        'quay.io/team-a': { auth: b64('robot-a:a') },
        'quay.io/team-a/deep/': { auth: b64('robot-deep:d') },
        'https://quay.io': { auth: b64('everyone:e') },
        'docker.io/library': { auth: b64('hub-library:h') },
      } }));
      return dir;
    })() });
    assert.equal((await source.get('quay.io', 'team-a/app'))?.username, 'robot-a');
    assert.equal((await source.get('quay.io', 'team-a'))?.username, 'robot-a');
    assert.equal((await source.get('quay.io', 'team-a/deep/app'))?.username, 'robot-deep');
    assert.equal((await source.get('quay.io', 'team-ab/app'))?.username, 'everyone', 'a namespace is a whole path segment');
    assert.equal((await source.get('quay.io', 'team-b/app'))?.username, 'everyone');
    assert.equal((await source.get('quay.io'))?.username, 'everyone');
    assert.equal((await source.get('docker.io', 'library/alpine'))?.username, 'hub-library');
    assert.equal(await source.get('docker.io', 'someone/alpine'), undefined);
  });
});
