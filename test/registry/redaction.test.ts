import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { missingPath, tempDir } from '../support/tools.js';
import { MiB, umociImage, type UmociImage } from './support.js';
import { runCliAsync } from '../cli/registry-support.js';

const PASSWORD = 'echo-Secret-7f3a9';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');

/** Environment without the caller's own credentials. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: missingPath('docker-config'), ...extra };
}

/** Nothing printed (stderr, or stdout's --json) holds any of `secrets`; the place where one was says <redacted>. */
function assertRedacted(r: { status: number | null; stdout: string; stderr: string }, secrets: string[], echoed = true): void {
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  for (const secret of secrets) {
    assert.ok(!r.stderr.includes(secret), `stderr holds ${secret}: ${r.stderr}`);
    assert.ok(!r.stdout.includes(secret), `stdout holds ${secret}: ${r.stdout}`);
  }
  const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
  if (echoed) {
    assert.match(doc.error.message, /<redacted>/);
    assert.match(r.stderr, /<redacted>/);
  }
}

/** A registry (or a proxy in front of it) that echoes the request in its error: no credential is shown. */
describe('credentials echoed back are never shown', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [0.1 * MiB]);
  });
  after(() => tmp?.cleanup());

  describe('Basic (htpasswd) credentials', () => {
    let registry: RunningRegistry;
    let proxy: FaultProxy;
    before(async () => {
      registry = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
      proxy = await startFaultProxy({ target: registry.url });
    });
    after(async () => { await proxy?.stop(); await registry?.stop(); });

    it('from --password-stdin: the password and its Basic form', async () => {
      proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'echo', status: 400 } });
      const r = await runCliAsync(['push', `${proxy.host}/echo/basic:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin', '--json'], { input: `${PASSWORD}\n`, env: cleanEnv() });
      assertRedacted(r, [PASSWORD, BASIC]);
      assert.match(r.stderr, /authorization: Basic <redacted>/);
    });

    it('from OCIPUSH_USERNAME / OCIPUSH_PASSWORD and from the Docker config', async () => {
      proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'echo', status: 400 } });
      assertRedacted(await runCliAsync(['push', `${proxy.host}/echo/env:1`, '--layout', image.layout, '--json'], { env: cleanEnv({ OCIPUSH_USERNAME: 'alice', OCIPUSH_PASSWORD: PASSWORD }) }), [PASSWORD, BASIC]);
      const dockerDir = join(tmp.path, 'docker-basic');
      mkdirSync(dockerDir, { recursive: true });
      writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: BASIC } } }));
      proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'echo', status: 400 } });
      assertRedacted(await runCliAsync(['push', `${proxy.host}/echo/docker:1`, '--layout', image.layout, '--json'], { env: cleanEnv({ DOCKER_CONFIG: dockerDir }) }), [PASSWORD, BASIC]);
    });

    it('a credential helper that prints its JSON answer and exits 1', async () => {
      const bin = join(tmp.path, 'bin');
      mkdirSync(bin, { recursive: true });
      const helper = join(bin, 'docker-credential-leaky');
      writeFileSync(helper, `#!/bin/sh\necho '{"ServerURL":"x","Username":"alice","Secret":"${PASSWORD}"}'\necho '{"Username":"alice","Secret":"${PASSWORD}"}' >&2\nexit 1\n`);
      chmodSync(helper, 0o755);
      const dockerDir = join(tmp.path, 'docker-helper');
      mkdirSync(dockerDir, { recursive: true });
      writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ credsStore: 'leaky' }));
      const r = await runCliAsync(['push', `${proxy.host}/echo/helper:1`, '--layout', image.layout, '--json'], { env: cleanEnv({ DOCKER_CONFIG: dockerDir, PATH: `${bin}:${process.env.PATH}` }) });
      assertRedacted(r, [PASSWORD, BASIC]);
      assert.match(r.stderr, /docker credential helper docker-credential-leaky failed for .*"Secret":"<redacted>/);
    });

    it('user:password@ in a reference', async () => {
      const r = await runCliAsync(['push', `alice:${PASSWORD}@${proxy.host}/echo/ref:1`, '--layout', image.layout, '--json'], { env: cleanEnv() });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(!r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD), r.stderr);
      assert.match(r.stderr, /alice:<redacted>@/);
    });
  });

  describe('Bearer tokens and identity tokens', () => {
    let issuer: TokenIssuer;
    let registry: RunningRegistry;
    let proxy: FaultProxy;
    before(async () => {
      issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } } });
      registry = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
      proxy = await startFaultProxy({ target: registry.url });
    });
    after(async () => { await proxy?.stop(); await registry?.stop(); await issuer?.stop(); });

    it('the Bearer token issued for the push, and the password that got it', async () => {
      proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'echo', status: 400 } });
      const r = await runCliAsync(['push', `${proxy.host}/echo/bearer:1`, '--layout', image.layout, '-u', 'alice', '--password-stdin', '--json'], { input: PASSWORD, env: cleanEnv() });
      assertRedacted(r, [PASSWORD, BASIC]);
      assert.match(r.stderr, /authorization: Bearer <redacted>/);
      assert.doesNotMatch(r.stderr, /eyJ[A-Za-z0-9_-]{10,}/, 'no JWT');
    });

    it('an identity (refresh) token from the Docker config', async () => {
      const res = await fetch(issuer.realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: PASSWORD, service: issuer.service, client_id: 'test' }) });
      const refresh = ((await res.json()) as { refresh_token: string }).refresh_token;
      assert.ok(refresh);
      const dockerDir = join(tmp.path, 'docker-identity');
      mkdirSync(dockerDir, { recursive: true });
      writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { identitytoken: refresh } } }));
      // The token service echoes nothing; the registry (through the proxy) echoes the request, and a later
      // answer quotes the refresh token as a form would: every form of it is taken out.
      proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'respond', status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: [{ code: 'DENIED', message: `refresh_token=${refresh} was used` }] }) } });
      const r = await runCliAsync(['push', `${proxy.host}/echo/identity:1`, '--layout', image.layout, '--json'], { env: cleanEnv({ DOCKER_CONFIG: dockerDir }) });
      assertRedacted(r, [refresh]);
    });
  });
});
