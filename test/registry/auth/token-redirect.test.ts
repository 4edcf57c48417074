import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../../support/token-issuer.js';
import { tempDir } from '../../support/tools.js';
import { umociImage, type UmociImage } from '../support.js';
import { assertOk, assertOneLineError, runCliAsync } from '../../cli/registry-support.js';

const PASSWORD = 'moved-Secret-3b9e';

/**
 * A token service that moved: its old address answers every request with a redirect, keeping the
 * query, either on its own host (`/old-token` → `/token`, whose requests it passes on to the real
 * issuer) or to the issuer's own host. What a realm behind a rewritten load balancer answers.
 */
async function startMovedRealm(issuer: TokenIssuer, status: number, sameHost: boolean): Promise<{ realm: string; stop(): Promise<void> }> {
  const target = new URL(issuer.realm);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://moved');
    if (url.pathname === '/old-token') {
      res.writeHead(status, { location: sameHost ? `/token${url.search}` : `${issuer.realm}${url.search}` }).end();
      return;
    }
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/old-token`,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('a token service whose realm redirects (as Go clients follow it)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  let issuer: TokenIssuer;
  const started: { stop(): Promise<unknown> }[] = [];

  before(async () => {
    tmp = await tempDir();
    image = umociImage(tmp.path, 'v1', [1024]);
    issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD } }, anonymous: () => ['pull'] });
  });
  after(async () => {
    for (const s of started.reverse()) await s.stop();
    await issuer?.stop();
    await tmp?.cleanup();
  });

  async function registryBehind(status: number, sameHost: boolean): Promise<RunningRegistry> {
    const moved = await startMovedRealm(issuer, status, sameHost);
    started.push(moved);
    const registry = await startRegistry({ auth: { token: { realm: moved.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
    started.push(registry);
    return registry;
  }

  it('moved on its own host (308): push and read back with the credentials, which the issuer gets', async () => {
    const registry = await registryBehind(308, true);
    issuer.clearRequests();
    const login = ['-u', 'alice', '--password-stdin'];
    assertOk(await runCliAsync(['push', `${registry.host}/moved/app:1`, '--layout', image.layout, '--tag', 'v1', ...login], { input: PASSWORD }));
    const r = await runCliAsync(['digest', `${registry.host}/moved/app:1`, ...login], { input: PASSWORD });
    assertOk(r);
    assert.equal(r.stdout.trim(), image.manifest.digest);
    assert.ok(issuer.requests().length > 0 && issuer.requests().every((q) => q.user === 'alice' && q.status === 200), JSON.stringify(issuer.requests()));
  });

  it('moved to another host (302): followed, without the credentials', async () => {
    const registry = await registryBehind(302, false);
    issuer.clearRequests();
    const anonymous = await runCliAsync(['digest', `${registry.host}/moved/absent:1`]);
    assert.equal(anonymous.status, 1);
    assert.match(anonymous.stderr, /^ocipush: .*moved\/absent:1: manifest not found\n$/);
    const pushed = await runCliAsync(['push', `${registry.host}/moved/app:1`, '--layout', image.layout, '--tag', 'v1', '-u', 'alice', '--password-stdin'], { input: PASSWORD });
    assert.equal(pushed.status, 1, pushed.stderr);
    assert.ok(!pushed.stderr.includes(PASSWORD));
    assert.ok(issuer.requests().length >= 2 && issuer.requests().every((q) => !q.credentials), JSON.stringify(issuer.requests()));
  });

  it('a refresh token (a login\'s identity token, sent in a POST) is never sent on to another host', async () => {
    const registry = await registryBehind(307, false);
    const config = join(tmp.path, 'docker');
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { identitytoken: 'refresh-Secret-91d0' } } }));
    issuer.clearRequests();
    const r = await runCliAsync(['digest', `${registry.host}/moved/app:1`], { env: { DOCKER_CONFIG: config } });
    assertOneLineError(r, new RegExp(`^ocipush: the token service 127\\.0\\.0\\.1:\\d+ for ${registry.host} redirected the request for a token to ${new URL(issuer.url).host}: the refresh token of the login is not sent to another host$`));
    assert.deepEqual(issuer.requests(), []);
  });
});
