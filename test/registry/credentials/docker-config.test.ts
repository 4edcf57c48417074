import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { OcipushError } from '../../../src/errors.js';
import { dockerConfigCredentials, dockerConfigPath } from '../../../src/registry/credentials/docker-config.js';
import { registryHost } from '../../../src/registry/credentials/registry-key.js';
import { tempDir } from '../../support/tools.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A local docker-credential-test program: answers per server URL and logs what it was asked. */
const HELPER = `#!/bin/sh
[ "$1" = get ] || { echo "unsupported action $1"; exit 1; }
url=$(cat)
printf '%s\\n' "$url" >> "$HELPER_LOG"
case "$url" in
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"hubuser","Secret":"hub-helper-secret"}';;
  reg.example.com:5000) echo '{"ServerURL":"reg.example.com:5000","Username":"helperuser","Secret":"helper-secret"}';;
  tok.example.com) echo '{"ServerURL":"tok.example.com","Username":"<token>","Secret":"refresh-token-secret"}';;
  broken.example.com) echo '{"Username":"x","Secret":"garbled-helper-secret"';;
  failing.example.com) echo 'keychain is locked' >&2; exit 3;;
  *) echo 'credentials not found in native keychain'; exit 1;;
esac
`;

describe('docker config credentials', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  let log: string;

  before(async () => {
    dir = await tempDir();
    const bin = join(dir.path, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-test'), HELPER);
    await chmod(join(bin, 'docker-credential-test'), 0o755);
    log = join(dir.path, 'helper.log');
    env = { PATH: `${bin}:${process.env.PATH}`, HELPER_LOG: log, HOME: join(dir.path, 'home') };
  });
  after(() => dir.cleanup());

  async function configDir(name: string, config: unknown): Promise<string> {
    const d = join(dir.path, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return d;
  }

  async function helperCalls(): Promise<string[]> {
    return (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  }

  it('normalises config keys as docker does', () => {
    assert.equal(registryHost('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(registryHost('index.docker.io'), 'docker.io');
    assert.equal(registryHost('registry-1.docker.io'), 'docker.io');
    assert.equal(registryHost('http://Reg.Example.com:5000/v2/'), 'reg.example.com:5000');
    assert.equal(registryHost('ghcr.io'), 'ghcr.io');
  });

  it('reads auths entries: base64 auth, Hub aliases, keys with scheme and path, explicit fields, identity tokens', async () => {
    const source = dockerConfigCredentials({
      env,
      configDir: await configDir('auths', {
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass:with:colons') },
          'http://reg.example.com:5000/v2/': { auth: b64('alice:alice-secret') },
          'explicit.example.com': { username: 'bob', password: 'bob-secret' },
          'oauth.example.com': { auth: b64('carol:'), identitytoken: 'carol-refresh' },
          'bearer.example.com': { registrytoken: 'static-bearer' },
          'empty.example.com': {},
        },
      }),
    });
    for (const hub of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      const c = await source.get(hub);
      assert.equal(c?.username, 'hubuser');
      assert.equal(c?.password, 'hub:pass:with:colons');
    }
    assert.deepEqual(pick(await source.get('reg.example.com:5000')), { username: 'alice', password: 'alice-secret' });
    assert.equal(await source.get('reg.example.com'), undefined, 'another port is another registry');
    assert.deepEqual(pick(await source.get('explicit.example.com')), { username: 'bob', password: 'bob-secret' });
    assert.deepEqual(pick(await source.get('oauth.example.com')), { username: 'carol', identityToken: 'carol-refresh' });
    assert.deepEqual(pick(await source.get('bearer.example.com')), { registryToken: 'static-bearer' });
    assert.equal(await source.get('empty.example.com'), undefined);
    assert.equal(await source.get('unknown.example.com'), undefined);
  });

  it('finds the file through $DOCKER_CONFIG, then ~/.docker; no file means no credentials', async () => {
    const viaEnv = await configDir('via-env', { auths: { 'a.example.com': { auth: b64('u:p') } } });
    assert.equal(dockerConfigPath({ env: { ...env, DOCKER_CONFIG: viaEnv } }), join(viaEnv, 'config.json'));
    assert.equal((await dockerConfigCredentials({ env: { ...env, DOCKER_CONFIG: viaEnv } }).get('a.example.com'))?.username, 'u');
    assert.equal(dockerConfigPath({ env }), join(dir.path, 'home', '.docker', 'config.json'));
    assert.equal(await dockerConfigCredentials({ env }).get('a.example.com'), undefined);
  });

  it('reads podman\'s and skopeo\'s auth files for a registry the Docker config has nothing for', async () => {
    const podman = await configDir('podman', { auths: { 'quay.io': { auth: b64('podman-user:p') } } });
    const runtime = join(dir.path, 'runtime');
    await mkdir(join(runtime, 'containers'), { recursive: true });
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { 'quay.io': { auth: b64('xdg-user:p') } } }));
    const viaAuthFile = dockerConfigCredentials({ env: { ...env, REGISTRY_AUTH_FILE: join(podman, 'config.json'), XDG_RUNTIME_DIR: runtime } });
    assert.equal((await viaAuthFile.get('quay.io'))?.username, 'podman-user');
    assert.match(String(viaAuthFile), /podman\/config\.json/);
    assert.equal((await dockerConfigCredentials({ env: { ...env, XDG_RUNTIME_DIR: runtime } }).get('quay.io'))?.username, 'xdg-user');
    // A Docker config answers for the registries it has; for the others the auth files are read.
    const docker = await configDir('docker-first', { auths: { 'ghcr.io': { auth: b64('docker-user:p') } } });
    const both = dockerConfigCredentials({ env: { ...env, DOCKER_CONFIG: docker, XDG_RUNTIME_DIR: runtime } });
    assert.equal((await both.get('quay.io'))?.username, 'xdg-user');
    assert.equal((await both.get('ghcr.io'))?.username, 'docker-user');
    await writeFile(join(docker, 'config.json'), JSON.stringify({ auths: { 'quay.io': { auth: b64('docker-user:p') } } }));
    assert.equal((await dockerConfigCredentials({ env: { ...env, DOCKER_CONFIG: docker, XDG_RUNTIME_DIR: runtime } }).get('quay.io'))?.username, 'docker-user');
    // ~/.config/containers/auth.json (XDG_CONFIG_HOME) comes last.
    const configHome = join(dir.path, 'config-home');
    await mkdir(join(configHome, 'containers'), { recursive: true });
    await writeFile(join(configHome, 'containers', 'auth.json'), JSON.stringify({ auths: { 'registry.example': { auth: b64('config-user:p') } } }));
    assert.equal((await dockerConfigCredentials({ env: { ...env, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: configHome } }).get('registry.example'))?.username, 'config-user');
    // A directory given explicitly is the only place looked at.
    assert.equal(await dockerConfigCredentials({ env: { ...env, XDG_RUNTIME_DIR: runtime }, configDir: await configDir('only-this', { auths: {} }) }).get('quay.io'), undefined);
  });

  it('reports a broken file without quoting it', async () => {
    const broken = dockerConfigCredentials({ env, configDir: await configDir('broken', '{"auths": {"x": {"auth": "c2VjcmV0LXB3ZA==" "password": "leaky-secret"}}') });
    await assert.rejects(broken.get('x'), (err: unknown) => {
      assert.ok(err instanceof OcipushError);
      assert.equal(err.code, 'EINVALID');
      assert.match(err.message, /^invalid Docker config .*config\.json: not valid JSON$/);
      assert.ok(!inspect(err, { depth: null }).includes('leaky-secret'));
      return true;
    });
    const badAuth = dockerConfigCredentials({ env, configDir: await configDir('bad-auth', { auths: { y: { auth: b64('no-colon-secret') } } }) });
    await assert.rejects(badAuth.get('y'), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'EINVALID');
      assert.match((err as Error).message, /"auth" of "y" is not base64 of user:password/);
      assert.ok(!inspect(err, { depth: null }).includes('no-colon-secret'));
      return true;
    });
  });

  it('asks a helper once for the lookups of a minute, whatever the repository, and again after (its answer may be a token that expires)', async () => {
    let now = 1_000_000;
    const source = dockerConfigCredentials({ env, configDir: await configDir('helper-reuse', { credsStore: 'test' }), now: () => now });
    await writeFile(log, '');
    const together = await Promise.all([source.get('reg.example.com:5000', 'team-a/app'), source.get('reg.example.com:5000', 'team-b/app')]);
    assert.deepEqual(together.map((c) => c?.password), ['helper-secret', 'helper-secret']);
    assert.deepEqual(await helperCalls(), ['reg.example.com:5000']);
    // A copy within one registry reads one repository, then writes another: still one run.
    now += 59_000;
    assert.equal((await source.get('reg.example.com:5000', 'team-c/app'))?.password, 'helper-secret');
    assert.deepEqual(await helperCalls(), ['reg.example.com:5000']);
    now += 2_000;
    assert.equal((await source.get('reg.example.com:5000', 'team-a/app'))?.password, 'helper-secret');
    assert.deepEqual(await helperCalls(), ['reg.example.com:5000', 'reg.example.com:5000'], 'a source kept by a long-running process asks again');
  });

  it('runs credHelpers for their registry and credsStore for the rest, with docker\'s server URLs', async () => {
    const source = dockerConfigCredentials({
      env,
      configDir: await configDir('helpers', {
        credsStore: 'test',
        credHelpers: { 'reg.example.com:5000': 'test', 'other.example.com': 'missing-helper' },
        auths: { 'fallback.example.com': { auth: b64('inline:inline-secret') } },
      }),
    });
    await writeFile(log, '');
    assert.deepEqual(pick(await source.get('reg.example.com:5000')), { username: 'helperuser', password: 'helper-secret' });
    assert.deepEqual(pick(await source.get('docker.io')), { username: 'hubuser', password: 'hub-helper-secret' });
    assert.deepEqual(pick(await source.get('tok.example.com')), { identityToken: 'refresh-token-secret' });
    // The store has nothing: the inline entry still counts; nothing at all is no credentials.
    assert.deepEqual(pick(await source.get('fallback.example.com')), { username: 'inline', password: 'inline-secret' });
    assert.equal(await source.get('nothing.example.com'), undefined);
    assert.deepEqual(await helperCalls(), [
      'reg.example.com:5000', 'https://index.docker.io/v1/', 'tok.example.com', 'fallback.example.com', 'nothing.example.com',
    ]);
  });

  it('names a helper that is not installed, and one that fails or answers garbage, without leaking', async () => {
    const source = dockerConfigCredentials({
      env,
      configDir: await configDir('bad-helpers', { credsStore: 'test', credHelpers: { 'other.example.com': 'missing-helper' } }),
    });
    await assert.rejects(source.get('other.example.com'), (err: unknown) => {
      assert.equal((err as OcipushError).code, 'EAUTH');
      assert.match((err as Error).message, /docker credential helper docker-credential-missing-helper is not installed \(not found on PATH\); it is named by credHelpers\["other\.example\.com"\] in .*config\.json/);
      return true;
    });
    await assert.rejects(source.get('failing.example.com'), /docker-credential-test failed for failing\.example\.com: keychain is locked/);
    await assert.rejects(source.get('broken.example.com'), (err: unknown) => {
      assert.match((err as Error).message, /docker-credential-test answered with output that is not JSON/);
      assert.ok(!inspect(err, { depth: null }).includes('garbled-helper-secret'));
      return true;
    });
  });
});

function pick(c: { username?: string; password?: string; identityToken?: string; registryToken?: string } | undefined) {
  if (!c) return undefined;
  const out: Record<string, string> = {};
  for (const k of ['username', 'password', 'identityToken', 'registryToken'] as const) if (c[k] !== undefined) out[k] = c[k]!;
  return out;
}
