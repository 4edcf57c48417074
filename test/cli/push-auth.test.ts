import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, skopeoDigest, skopeoDigestAsync, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { copy, push } from '../../src/lib/index.js';

const PASSWORD = 'push-Secret-4b1e';

/** No secret in anything the CLI printed. */
function assertNoSecret(r: { stdout: string; stderr: string }, secret: string): void {
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the password is never printed');
  const basic = Buffer.from(`alice:${secret}`).toString('base64');
  assert.ok(!r.stdout.includes(basic) && !r.stderr.includes(basic), 'nor its Basic form');
}

/** Environment without the caller's own credentials, so only what a test gives counts. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}, dockerConfig?: string): NodeJS.ProcessEnv {
  // undefined removes a variable from the child's environment.
  return { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: dockerConfig ?? missingPath('docker-config'), ...extra };
}

let tmp: { path: string; cleanup: () => Promise<void> };
let image: UmociImage;

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [1.5 * MiB]);
});
after(() => tmp?.cleanup());

describe('push to a registry with htpasswd (Basic) auth', () => {
  let registry: RunningRegistry;
  before(async () => { registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD, ci: 'test' } } } }); });
  after(() => registry?.stop());

  it('--username with --password-stdin', async () => {
    const r = await runCliAsync(['push', `${registry.host}/auth/app:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin', '--chunk-size', '1MiB'], { input: `${PASSWORD}\n`, env: cleanEnv() });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    assertNoSecret(r, PASSWORD);
    assert.equal(skopeoDigest(`${registry.host}/auth/app:1`, ['--creds', `alice:${PASSWORD}`]), image.manifest.digest);
  });

  it('OCIPUSH_USERNAME / OCIPUSH_PASSWORD, and the Docker config file', async () => {
    assertOk(await runCliAsync(['push', `${registry.host}/auth/env:1`, '--layout', image.layout], { env: cleanEnv({ OCIPUSH_USERNAME: 'alice', OCIPUSH_PASSWORD: PASSWORD }) }));
    const dockerDir = join(tmp.path, 'docker');
    mkdirSync(dockerDir, { recursive: true });
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    const r = await runCliAsync(['push', `${registry.host}/auth/docker:1`, '--layout', image.layout], { env: cleanEnv({}, dockerDir) });
    assertOk(r);
    assertNoSecret(r, PASSWORD);
  });

  it('a short password that is part of a word printed (`test` in `latest`, `testing`) leaves the word whole, --json included', async () => {
    const reference = `${registry.host}/testing/app:latest`;
    const r = await runCliAsync(['push', reference, '--layout', image.layout, '-u', 'ci', '--password-stdin', '--json'], { input: 'test\n', env: cleanEnv() });
    assertOk(r);
    const result = JSON.parse(r.stdout) as { reference: string; tags: string[] };
    assert.equal(result.reference, `${reference}@${image.manifest.digest}`);
    assert.deepEqual(result.tags, ['latest']);
    assert.match(r.stderr, new RegExp(`^pushed ${reference.replace(/\./g, '\\.')} `, 'm'));
    assert.equal(skopeoDigest(reference, ['--creds', 'ci:test']), image.manifest.digest);
  });

  it('a wrong password: one line, EAUTH, exit 1, no secret printed', async () => {
    const wrong = `wrong-${PASSWORD}`;
    const r = await runCliAsync(['push', `${registry.host}/auth/app:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin'], { input: wrong, env: cleanEnv() });
    assertOneLineError(r, new RegExp(`^ocipush: authentication to ${registry.host.replace(/\./g, '\\.')} failed: username or password refused$`));
    assertNoSecret(r, wrong);
  });

  it('no credentials at all: one line naming the ways to log in', async () => {
    const r = await runCliAsync(['push', `${registry.host}/auth/app:1`, '--layout', image.layout], { env: cleanEnv() });
    assertOneLineError(r, /^ocipush: authentication required by 127\.0\.0\.1:\d+: no credentials \(use --username\/--password-stdin/);
  });
});

describe('push to a registry with Bearer token auth', () => {
  let issuer: TokenIssuer;
  let registry: RunningRegistry;
  before(async () => {
    issuer = await startTokenIssuer({
      users: { alice: { password: PASSWORD }, reader: { password: PASSWORD, access: () => ['pull'] } },
    });
    registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
  });
  after(async () => {
    await registry?.stop();
    await issuer?.stop();
  });

  it('pushes with a token for pull,push on the repository, then mounts into another with pull on the source', async () => {
    const push = (repo: string, extra: string[] = []) => runCliAsync(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin', '--json', ...extra], { input: PASSWORD, env: cleanEnv() });
    const first = await push('team/base');
    assertOk(first);
    assertNoSecret(first, PASSWORD);
    const scopes = issuer.requests().flatMap((r) => r.scopes);
    assert.ok(scopes.includes('repository:team/base:pull,push'), scopes.join(' '));
    issuer.clearRequests();
    await registry.forgetAccessLog();

    const second = await push('team/app', ['--mount-from', 'team/base']);
    assertOk(second);
    assert.deepEqual((JSON.parse(second.stdout) as { blobs: { outcome: string }[] }).blobs.map((b) => b.outcome), ['mounted', 'mounted']);
    const granted = issuer.requests().flatMap((r) => r.granted.map((g) => `${g.name}:${g.actions.sort().join(',')}`));
    assert.ok(granted.includes('team/base:pull'), `pull on the mount source was asked for: ${granted.join(' ')}`);
    const log = await registry.settledAccessLog();
    assert.ok(log.some((e) => e.method === 'POST' && e.uri.includes('mount=') && e.status === 201));
    assert.equal(await skopeoDigestAsync(`${registry.host}/team/app:1`, ['--creds', `alice:${PASSWORD}`]), image.manifest.digest);
  });

  it('a user who may only pull: EAUTH once the first upload is refused, nothing pushed', async () => {
    const r = await runCliAsync(['push', `${registry.host}/team/denied:1`, '--layout', image.layout, '-u', 'reader', '--password-stdin'], { input: PASSWORD, env: cleanEnv() });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trimEnd().split('\n').at(-1)!, /^ocipush: access denied by 127\.0\.0\.1:\d+: the credentials do not grant repository:team\/denied:pull,push/);
    assertNoSecret(r, PASSWORD);
  });
});

describe('push to a registry with a self-signed TLS certificate', () => {
  let registry: RunningRegistry;
  before(async () => { registry = await startRegistry({ tls: true }); });
  after(() => registry?.stop());

  it('is refused without trust, naming the flags that fix it', async () => {
    const r = await runCliAsync(['push', `${registry.host}/tls/app:1`, '--layout', image.layout], { env: cleanEnv() });
    assertOneLineError(r, /^ocipush: cannot reach 127\.0\.0\.1:\d+: TLS certificate is self-signed and not trusted \(use --ca-file FILE, or --insecure to skip verification\)$/);
  });

  it('works with --ca-file, and with --insecure; skopeo trusting the same CA sees the image', async () => {
    assertOk(await runCliAsync(['push', `${registry.host}/tls/app:1`, '--layout', image.layout, '--ca-file', registry.caFile!], { env: cleanEnv() }));
    assertOk(await runCliAsync(['push', `${registry.host}/tls/insecure:1`, '--layout', image.layout, '--insecure'], { env: cleanEnv() }));
    for (const repo of ['tls/app', 'tls/insecure']) {
      assert.equal(skopeoDigest(`${registry.host}/${repo}:1`, ['--cert-dir', registry.certDir!]), image.manifest.digest);
    }
    const log = await registry.settledAccessLog();
    assert.ok(log.filter((e) => e.method === 'PUT').length >= 4);
  });

  it('pull and inspect over TLS', async () => {
    const dir = join(tmp.path, 'tls-pulled');
    assertOk(await runCliAsync(['push', `${registry.host}/tls/pull:1`, '--layout', image.layout, '--ca-file', registry.caFile!], { env: cleanEnv() }));
    const pulled = await runCliAsync(['pull', `${registry.host}/tls/pull:1`, '--layout', dir, '--ca-file', registry.caFile!], { env: cleanEnv() });
    assertOk(pulled);
    assert.equal(pulled.stdout.trim(), image.manifest.digest);
    const inspected = await runCliAsync(['inspect', `${registry.host}/tls/pull:1`, '--insecure', '--json'], { env: cleanEnv() });
    assertOk(inspected);
    assert.equal((JSON.parse(inspected.stdout) as { digest: string }).digest, image.manifest.digest);
  });
});

/**
 * One registry with its login in the Docker config (a build's base, a copy's source), the push or
 * copy to another with OCIPUSH_USERNAME/OCIPUSH_PASSWORD: the first is read with its own login,
 * never with the destination's variables.
 */
describe('a source registry with a login of its own, the destination\'s in OCIPUSH_USERNAME/OCIPUSH_PASSWORD', () => {
  const BASE_PASSWORD = 'base-Secret-81d0';
  const DEST_PASSWORD = 'dest-Secret-26fa';
  let baseRegistry: RunningRegistry;
  let destination: RunningRegistry;
  let dockerDir: string;
  let layout: string;

  before(async () => {
    baseRegistry = await startRegistry({ auth: { htpasswd: { users: { alice: BASE_PASSWORD } } } });
    destination = await startRegistry({ auth: { htpasswd: { users: { bob: DEST_PASSWORD } } } });
    dockerDir = join(tmp.path, 'base-login');
    mkdirSync(dockerDir, { recursive: true });
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [baseRegistry.host]: { auth: Buffer.from(`alice:${BASE_PASSWORD}`).toString('base64') } } }));
    assertOk(await runCliAsync(['push', `${baseRegistry.host}/base/img:1`, '--layout', image.layout], { env: cleanEnv({}, dockerDir) }));
    const rootfs = join(tmp.path, 'app-rootfs');
    mkdirSync(rootfs, { recursive: true });
    writeFileSync(join(rootfs, 'app.txt'), 'on the base\n');
    layout = join(tmp.path, 'on-base');
    assertOk(await runCliAsync(['build', rootfs, '--base', `${baseRegistry.host}/base/img:1`, '--layout', layout, '-t', 'v1'], { env: cleanEnv({}, dockerDir) }));
  });
  after(async () => { await baseRegistry?.stop(); await destination?.stop(); });

  it('the CLI reads the base layers with the base\'s login; skopeo sees the image', async () => {
    const r = await runCliAsync(['push', `${destination.host}/app/cli:1`, '--layout', layout], { env: cleanEnv({ OCIPUSH_USERNAME: 'bob', OCIPUSH_PASSWORD: DEST_PASSWORD }, dockerDir) });
    assertOk(r);
    assert.equal(skopeoDigest(`${destination.host}/app/cli:1`, ['--creds', `bob:${DEST_PASSWORD}`]), r.stdout.trim());
  });

  it('the library\'s copy reads its source with the source\'s login, as the CLI\'s copy does', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OCIPUSH_USERNAME: 'bob', OCIPUSH_PASSWORD: DEST_PASSWORD, DOCKER_CONFIG: dockerDir });
    delete process.env.OCIPUSH_REGISTRY_TOKEN;
    try {
      const result = await copy({ from: `${baseRegistry.host}/base/img:1`, to: `${destination.host}/app/copied:1` });
      assert.equal(result.digest, image.manifest.digest);
      assert.equal(skopeoDigest(`${destination.host}/app/copied:1`, ['--creds', `bob:${DEST_PASSWORD}`]), image.manifest.digest);
    } finally {
      for (const key of ['OCIPUSH_USERNAME', 'OCIPUSH_PASSWORD', 'DOCKER_CONFIG', 'OCIPUSH_REGISTRY_TOKEN']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it('so does the library\'s push', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OCIPUSH_USERNAME: 'bob', OCIPUSH_PASSWORD: DEST_PASSWORD, DOCKER_CONFIG: dockerDir });
    delete process.env.OCIPUSH_REGISTRY_TOKEN;
    try {
      // A layout of its own: the CLI's push above kept the base layers it fetched in its layout.
      const own = join(tmp.path, 'on-base-lib');
      assertOk(await runCliAsync(['build', join(tmp.path, 'app-rootfs'), '--base', `${baseRegistry.host}/base/img:1`, '--layout', own, '-t', 'v1'], { env: cleanEnv({}, dockerDir) }));
      const result = await push({ to: `${destination.host}/app/lib:1`, layout: own });
      assert.equal(skopeoDigest(`${destination.host}/app/lib:1`, ['--creds', `bob:${DEST_PASSWORD}`]), result.digest);
    } finally {
      for (const key of ['OCIPUSH_USERNAME', 'OCIPUSH_PASSWORD', 'DOCKER_CONFIG', 'OCIPUSH_REGISTRY_TOKEN']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
  it('build --base BASE --push DEST (and build -f) read the base with its own login, the variables and -u going to DEST alone', async () => {
    const rootfs = join(tmp.path, 'app-rootfs');
    const env = cleanEnv({ OCIPUSH_USERNAME: 'bob', OCIPUSH_PASSWORD: DEST_PASSWORD }, dockerDir);
    const built = await runCliAsync(['build', rootfs, '--base', `${baseRegistry.host}/base/img:1`, '--layout', join(tmp.path, 'built-pushed'), '--push', `${destination.host}/app/built:1`], { env });
    assertOk(built);
    const pushed = skopeoDigest(`${destination.host}/app/built:1`, ['--creds', `bob:${DEST_PASSWORD}`]);
    assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
    // -u with --password-stdin is the destination's too.
    const context = join(tmp.path, 'df-context');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), `FROM ${baseRegistry.host}/base/img:1\nCOPY app.txt /\n`);
    writeFileSync(join(context, 'app.txt'), 'from a Dockerfile\n');
    const fromDockerfile = await runCliAsync(['build', '-f', join(context, 'Dockerfile'), context, '--layout', join(tmp.path, 'df-pushed'), '-u', 'bob', '--password-stdin', '--push', `${destination.host}/app/df:1`], { env: cleanEnv({}, dockerDir), input: `${DEST_PASSWORD}\n` });
    assertOk(fromDockerfile);
    assert.match(skopeoDigest(`${destination.host}/app/df:1`, ['--creds', `bob:${DEST_PASSWORD}`]), /^sha256:[0-9a-f]{64}$/);
  });
});
