import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerEnvCredentials } from '../../../src/registry/credentials/docker-env.js';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { requireTool, tempDir } from '../../support/tools.js';
import { MiB, umociImage, type UmociImage } from '../support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../../cli/registry-support.js';

const PASSWORD = 'env-Secret-93be';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** GitLab CI's DOCKER_AUTH_CONFIG variable, which the docker CLI reads too (in front of config.json). */
describe('DOCKER_AUTH_CONFIG', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let registry: RunningRegistry;
  let image: UmociImage;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    requireTool('skopeo');
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [0.1 * MiB]);
    registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
    const home = join(tmp.path, 'home');
    mkdirSync(home);
    env = {
      OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined,
      HOME: home, DOCKER_CONFIG: join(tmp.path, 'no-docker-config'), XDG_RUNTIME_DIR: join(tmp.path, 'run'), XDG_CONFIG_HOME: undefined, REGISTRY_AUTH_FILE: undefined,
    };
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  it('is used for the registries it names, in front of the Docker config', async () => {
    const host = registry.host;
    const docker = join(tmp.path, 'stale');
    mkdirSync(docker, { recursive: true });
    writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [host]: { auth: b64('alice:stale-password') } } }));
    const variable = JSON.stringify({ auths: { [host]: { auth: b64(`alice:${PASSWORD}`) } } });
    const r = await runCliAsync(['push', `${host}/gitlab/app:1`, '--layout', image.layout, '--json'], { env: { ...env, DOCKER_CONFIG: docker, DOCKER_AUTH_CONFIG: variable } });
    assertOk(r);
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `alice:${PASSWORD}`, `docker://${host}/gitlab/app:1`], { stdio: ['pipe', 'pipe', 'pipe'] });
  });

  it('a variable docker cannot use leaves the Docker config to answer; one that is not JSON is one line that quotes nothing', async () => {
    const host = registry.host;
    const docker = join(tmp.path, 'good');
    mkdirSync(docker, { recursive: true });
    writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [host]: { auth: b64(`alice:${PASSWORD}`) } } }));
    // GitLab's runner also takes credHelpers here; docker ignores such a variable and uses its store.
    const helpersOnly = JSON.stringify({ credHelpers: { 'aws.example': 'ecr-login' } });
    assertOk(await runCliAsync(['push', `${host}/gitlab/app:2`, '--layout', image.layout], { env: { ...env, DOCKER_CONFIG: docker, DOCKER_AUTH_CONFIG: helpersOnly } }));
    const broken = `{"auths": {"${host}": {"auth": "${b64(`alice:${PASSWORD}`)}"}`;
    const r = await runCliAsync(['push', `${host}/gitlab/app:3`, '--layout', image.layout], { env: { ...env, DOCKER_CONFIG: docker, DOCKER_AUTH_CONFIG: broken } });
    assertOneLineError(r, /^ocipush: invalid DOCKER_AUTH_CONFIG: not valid JSON/, 1);
    assert.ok(!r.stderr.includes(b64(`alice:${PASSWORD}`)));
  });

  it('login and logout say that DOCKER_AUTH_CONFIG\'s login for the registry goes on being used in front of config.json, as docker login warns', async () => {
    const host = registry.host;
    const docker = join(tmp.path, 'gitlab-job');
    // A CI job's pull login in the variable, and the job's own login for pushing.
    const variable = JSON.stringify({ auths: { [host]: { auth: b64('alice:job-pull-password') } } });
    const jobEnv = { ...env, DOCKER_CONFIG: docker, DOCKER_AUTH_CONFIG: variable };
    const login = await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: jobEnv, input: PASSWORD });
    assertOk(login);
    assert.match(login.stderr, new RegExp(`^ocipush: warning: a login for ${host.replace(/\./g, '\\.')} in DOCKER_AUTH_CONFIG is used in front of the one just stored: unset DOCKER_AUTH_CONFIG or take ${host.replace(/\./g, '\\.')} out of it for this one to be used$`, 'm'));
    // What the warning says: the next command sends the variable's login, not the one stored.
    assertOneLineError(await runCliAsync(['push', `${host}/gitlab/app:4`, '--layout', image.layout], { env: jobEnv }), /username or password refused/, 1);
    assertOk(await runCliAsync(['push', `${host}/gitlab/app:4`, '--layout', image.layout], { env: { ...jobEnv, DOCKER_AUTH_CONFIG: undefined } }));
    const logout = await runCliAsync(['logout', host], { env: jobEnv });
    assertOk(logout);
    assert.match(logout.stderr, /a login for \S+ remains in DOCKER_AUTH_CONFIG, and ocipush still uses it/);
    // A variable for other registries only is no concern of this one's login.
    const other = await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: { ...jobEnv, DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { 'other.example': { auth: b64('a:b') } } }) }, input: PASSWORD });
    assertOk(other);
    assert.doesNotMatch(other.stderr, /DOCKER_AUTH_CONFIG/);
  });

  it('keys name a registry as a host or a URL, never a namespace', async () => {
    const source = dockerEnvCredentials({ DOCKER_AUTH_CONFIG: JSON.stringify({ auths: {
      'https://index.docker.io/v1/': { auth: b64('hub:h:with:colons') },
      'http://reg.example:5000': { auth: b64('reg:r') },
      'quay.io/team-a': { auth: b64('robot:q') },
      'no-auth.example': { identitytoken: 'x' },
    } }) });
    assert.equal((await source.get('docker.io'))?.password, 'h:with:colons');
    assert.equal((await source.get('reg.example:5000'))?.username, 'reg');
    assert.equal(await source.get('quay.io', 'team-a/app'), undefined);
    assert.equal(await source.get('no-auth.example'), undefined);
    assert.equal(await dockerEnvCredentials({}).get('docker.io'), undefined);
  });
});
